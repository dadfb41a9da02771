"""Precision and recall of the data audits (label noise, leaks, split leakage, imbalance,
dominance) against the planted truth, on the default demo world and on a drawn one.

    .venv/bin/python benchmarks/bench_audit_checks.py [--out DIR] [--seeds 7 11]

The first world is the demo's (seed 7, the default planting table). The second uses another
seed and draws what it plants from rates nobody tuned on (``generate_world(rates=...)``):
crowd-c's night confusion, the share of lying windows the barn book names, the chance that a
photo is re-shared under another stall-day, plus the media defects. Each world goes through the
demo's steps (ingest, align --apply, segment, annotation, split, audit) and
``demo.check_truth.data_audit_card`` scores the findings. Prints one table row per check and
world, and writes the cards as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

DRAWN = {"black": 0.5, "frozen": 0.4, "blurred": 0.4, "silent": 0.5, "clipped": 0.5, "spike": 0.7, "stuck": 0.6,
         "gap": 0.6, "duplicate": 0.4, "confusion": 0.45, "leak": 0.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/syncline-bench-audit-checks"))
    ap.add_argument("--seeds", type=int, nargs=2, default=[7, 11], help="the default world's and the drawn one's")
    args = ap.parse_args()
    from syncline.demo.audit_card import pr
    from syncline.demo.run import run_demo

    cards = {}
    for label, seed, rates in (("default", args.seeds[0], None), ("drawn", args.seeds[1], DRAWN)):
        where = args.out / f"{label}-{seed}"
        shutil.rmtree(where, ignore_errors=True)
        t0 = time.monotonic()
        result = run_demo(where, seed=seed, rates=rates)
        card = result["audit"]["scorecard"]["data"]
        card["dominance_summary"] = next(c["summary"] for c in result["audit"]["checks"] if c["check"] == "dominance")
        cards[f"{label} (seed {seed})"] = card
        print(f"{label} world, seed {seed}: demo in {time.monotonic() - t0:.0f} s")
    print("\n| check | " + " | ".join(cards) + " |\n|---|" + "---|" * len(cards))
    names = sorted({k for c in cards.values() for k in c["checks"]})
    for name in names:
        cells = []
        for c in cards.values():
            k = c["checks"].get(name)
            if k is None:
                cells.append("-")
                continue
            p, r = pr(k)
            cells.append(f"{p} / {r} ({k['planted']}/{k['found']})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    (args.out / "cards.json").write_text(json.dumps(cards, indent=1, default=str))
    print(f"\ncards: {args.out / 'cards.json'}")


if __name__ == "__main__":
    main()
