"""The leakage check on a real catalog: notes that state the label are found (and notes that
mention a class at random are not); metadata that predicts the label across entities is a
shortcut (a device bought for the sick pen), metadata that does not is not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from syncline.audit.leakage import leakage
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

CLASSES = ["standing", "lying", "down_struggling"]


def _project(root: Path, labels: list[str], devices: list[str], notes: dict[int, str]) -> Project:
    """Entity i has label ``labels[i]``, one camera file from ``devices[i]`` and maybe a note."""
    p = init_project(root)
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "posture": {"kind": "perception", "granularity": "entity", "type": "class", "values": CLASSES,
                    "synonyms": {"down_struggling": ["down and struggling"]}},
        "note": {"kind": "perception", "granularity": "entity", "type": "text"}}}))
    cat = p.catalog()
    cat.upsert("entities", [{"entity_id": f"e{i}"} for i in range(len(labels))])
    cat.upsert("assets", [{"asset_id": f"a{i}", "sha256": f"{i:064d}", "bytes": 1, "modality": "video",
                           "entity_id": f"e{i}", "device": devices[i], "source_path": f"/data/clip_{i:03d}.mp4",
                           "duration_ns": 10 ** 9} for i in range(len(labels))])
    rows = [{"label_id": f"l{i}", "target_type": "entity", "target_id": f"e{i}", "field": "posture", "value": v,
             "kind": "perception", "annotator": "a"} for i, v in enumerate(labels)]
    rows += [{"label_id": f"n{i}", "target_type": "entity", "target_id": f"e{i}", "field": "note", "value": text,
              "kind": "perception", "annotator": "a"} for i, text in notes.items()]
    cat.upsert("labels", rows)
    return p


def test_notes_that_state_the_label_leak_and_random_mentions_do_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    labels = [str(rng.choice(CLASSES, p=[0.6, 0.3, 0.1])) for _ in range(120)]
    notes = {i: "found her Down-and-Struggling again" for i, v in enumerate(labels) if v == "down_struggling"}
    others = [i for i in range(120) if i not in notes]
    notes |= {i: "she was lying there" for i in rng.choice(others, 15, replace=False).tolist()}  # lying at random
    res = leakage(_project(tmp_path / "p", labels, ["cam"] * 120, notes))
    leaks = {f.details["class"]: f for f in res.findings if f.check == "leakage.text"}
    assert set(leaks) == {"down_struggling"}
    f = leaks["down_struggling"]
    assert f.severity == "error" and f.details["source"] == "note:note"
    assert f.details["mentions"] == f.details["labelled_so"] == labels.count("down_struggling")
    mentions = {(m["source"], m["class"]): m for m in res.summary["posture"]["text_mentions"]}
    assert mentions[("note:note", "lying")]["p"] > 0.01  # mentioned, but no better than the share of lying


def test_metadata_that_predicts_the_label_across_entities_is_a_shortcut(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    labels = [str(rng.choice(CLASSES[:2])) for _ in range(60)]
    devices = ["SickPenCam" if v == "lying" and rng.random() < 0.9 else "BarnCam" for v in labels]
    res = leakage(_project(tmp_path / "p", labels, devices, {}))
    shortcut = res.summary["posture"]["metadata_shortcut"]
    assert shortcut["ran"] and shortcut["balanced_accuracy"] > 0.8 and shortcut["permutation_p"] < 0.01
    assert [f.check for f in res.findings] == ["leakage.metadata_shortcut"]

    seen: dict[str, int] = {}
    balanced = []  # each class half on each device: no association at all
    for v in labels:
        seen[v] = seen.get(v, 0) + 1
        balanced.append("SickPenCam" if seen[v] % 2 else "BarnCam")
    fair = leakage(_project(tmp_path / "q", labels, balanced, {}))
    assert fair.summary["posture"]["metadata_shortcut"]["permutation_p"] > 0.01 and not fair.findings
    assert json.dumps(fair.summary)  # the summary is plain JSON
