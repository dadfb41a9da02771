"""A small catalog to evaluate on, with the failure the evaluation must find: eight stall-days
(four per barn, each filmed by cam1 or cam2, by day or by night), 200 labelled two-second
segments each, and a model that is wrong on 10 % of segments — and on 50 % at night on cam2.

    python -m syncline.demo.eval_world DIR

writes the project to ``DIR/project`` and two prediction files beside it (model A, and model B
that fixes half of A's mistakes), then prints the commands that evaluate, compare and monitor
them. The tests build the same world (``build``) and check every number against scikit-learn.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from syncline.ids import segment_id
from syncline.project import Project, init_project

NS = 1_000_000_000
CLASSES = ["alert_vet", "watch", "ignore"]


def build(root: Path, seed: int = 0) -> tuple[Project, dict[str, dict[str, object]]]:
    """The project, and per segment its truth, model A's answer and score, and its regime."""
    rng = np.random.default_rng(seed)
    p = init_project(root, template="farm")
    cat = p.catalog()
    ents, assets, segs, labels, rows = [], [], [], [], {}
    for e in range(8):
        ent = f"stall-{e}"
        barn, cam, light = ("north" if e < 4 else "south"), f"cam{1 + e % 2}", ("night" if e % 4 >= 2 else "day")
        ents.append({"entity_id": ent, "attrs_json": json.dumps({"barn": barn})})
        aid = f"video-{e}"
        assets.append({"asset_id": aid, "sha256": aid, "bytes": 1, "modality": "video", "entity_id": ent,
                       "camera": cam, "context_json": json.dumps({"lighting": light}), "start_ns": 0,
                       "duration_ns": 400 * NS, "subject_ids": []})
        for k in range(200):
            sid = segment_id(entity_id=ent, t0_ns=2 * k * NS, t1_ns=2 * (k + 1) * NS, segmenter="fixed-2s@2")
            segs.append({"segment_id": sid, "entity_id": ent, "t0_ns": 2 * k * NS, "t1_ns": 2 * (k + 1) * NS,
                         "segmenter": "fixed-2s@2", "asset_ids": [aid], "subject_ids": []})
            truth = CLASSES[int(rng.choice(3, p=[0.2, 0.3, 0.5]))]
            for who in ("vet-a", "vet-b"):  # both agree: the consensus is the truth
                labels.append({"label_id": f"{sid}|{who}", "target_type": "segment", "target_id": sid,
                               "field": "action", "value": truth, "kind": "judgment", "annotator": who,
                               "annotator_tier": "expert", "asset_ids": [aid], "subject_ids": []})
            hard = light == "night" and cam == "cam2"
            wrong = rng.random() < (0.5 if hard else 0.1)
            pred = CLASSES[(CLASSES.index(truth) + 1) % 3] if wrong else truth
            rows[sid] = {"truth": truth, "pred": pred, "night": light == "night", "cam2": cam == "cam2",
                         "north": barn == "north", "score": float(rng.uniform(0.34, 1.0))}
    cat.upsert("entities", ents)
    cat.upsert("assets", assets)
    cat.upsert("segments", segs)
    cat.upsert("labels", labels)
    return Project.open(root), rows


def write_csv(path: Path, rows: dict[str, dict[str, object]], extra: list[list[str]] | None = None) -> Path:
    """Predictions as a team would export them: segment_id, value, score, latency_ms."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["segment_id", "value", "score", "latency_ms"])
        for sid, r in rows.items():
            w.writerow([sid, r["pred"], f"{r['score']:.6f}", "12.5"])
        for line in extra or []:
            w.writerow(line)
    return path


def better(rows: dict[str, dict[str, object]], seed: int = 9) -> dict[str, dict[str, object]]:
    """Model B: A with half of its mistakes fixed."""
    rng = np.random.default_rng(seed)
    out = {k: dict(v) for k, v in rows.items()}
    for r in out.values():
        if r["pred"] != r["truth"] and rng.random() < 0.5:
            r["pred"] = r["truth"]
    return out


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "eval-world")
    p, rows = build(out / "project")
    a, b = write_csv(out / "model_a.csv", rows), write_csv(out / "model_b.csv", better(rows))
    print(f"project {p.root}; predictions {a} and {b}. Next:\n"
          f"  syncline predictions import {a} --field action --model a --version 1 -p {p.root}\n"
          f"  syncline predictions import {b} --field action --model b --version 1 -p {p.root}\n"
          f"  syncline eval RUN_A -p {p.root}\n  syncline compare RUN_A RUN_B -p {p.root}\n"
          f"  syncline report RUN_A RUN_B -p {p.root}")


if __name__ == "__main__":
    main()
