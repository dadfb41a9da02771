"""Label-noise check over 1M rows (issue target: <= 60 s on 2 cores).

Generates (seeded) ``--rows`` rows of ``--dims`` features from ``--classes`` class-conditional
Gaussians (unit variance, class means drawn N(0, 0.6²) per dimension: a linear model is
right about 96 % of the time), flips ``--noise`` of the labels to another class uniformly, and
puts the rows into ``--groups`` random groups (entities; 0 = no groups). Times, end to end (wall
clock), ``out_of_fold_probs`` (5 group-aware folds) then ``find_label_issues``, and prints one
JSON line: seconds per step and in total, precision and recall of the flagged rows against the
planted flips, the estimated suspect fraction with its Wilson interval, and peak RSS.

    .venv/bin/python benchmarks/bench_label_noise.py [--rows 1000000] [--dims 32] [--classes 5]
        [--noise 0.10] [--groups 50000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from syncline.audit.label_noise import find_label_issues, out_of_fold_probs, suspect_fraction


def planted(rows: int, dims: int, classes: int, noise: float, groups: int, seed: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Features, true labels, noisy labels, which labels were flipped, groups."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(classes, rows, p=np.linspace(2, 1, classes) / np.linspace(2, 1, classes).sum())
    x = rng.normal(0, 0.6, (classes, dims))[truth] + rng.normal(0, 1, (rows, dims))
    flipped = rng.random(rows) < noise
    labels = np.where(flipped, (truth + rng.integers(1, classes, rows)) % classes, truth)
    g = rng.integers(0, groups, rows) if groups else None
    return x, truth, labels, flipped, g


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dims", type=int, default=32)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--noise", type=float, default=0.10)
    ap.add_argument("--groups", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    x, truth, labels, flipped, groups = planted(args.rows, args.dims, args.classes, args.noise, args.groups, args.seed)
    t0 = time.perf_counter()
    probs = out_of_fold_probs(x, labels, groups, seed=args.seed)
    t1 = time.perf_counter()
    mask = find_label_issues(labels, probs)
    t2 = time.perf_counter()
    rate = suspect_fraction(mask)["overall"]
    hits = int((mask & flipped).sum())
    print(json.dumps({
        "bench": "label_noise", "rows": args.rows, "dims": args.dims, "classes": args.classes,
        "groups": args.groups, "planted_noise": args.noise, "seed": args.seed,
        "out_of_fold_s": round(t1 - t0, 2), "find_label_issues_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2), "target_s": 60, "met": t2 - t0 <= 60,
        "precision": round(hits / max(int(mask.sum()), 1), 4), "recall": round(hits / max(int(flipped.sum()), 1), 4),
        "suspect_fraction": round(rate.fraction, 4), "interval": [round(rate.low, 4), round(rate.high, 4)],
        "oof_accuracy_vs_truth": round(float(np.mean(probs.argmax(axis=1) == truth)), 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "command": f".venv/bin/python benchmarks/bench_label_noise.py --rows {args.rows} --dims {args.dims} "
                   f"--classes {args.classes} --noise {args.noise} --groups {args.groups} --seed {args.seed}",
    }))


if __name__ == "__main__":
    main()
