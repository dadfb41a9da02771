"""The imbalance check on a real catalog: counts per class and condition, class weights equal to
scikit-learn's "balanced", thin cells with the number still needed, a planted confound found
(and none found where class and condition are independent), and clear reasons not to run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.utils.class_weight import compute_class_weight

from syncline.audit.findings import CannotRun
from syncline.audit.imbalance import MIN_CELL, imbalance
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

CLASSES = ["standing", "lying", "down"]


def _project(root: Path, labels: list[tuple[str, str]]) -> Project:
    """One entity per target, its lighting in the entity attributes; three annotators agree."""
    p = init_project(root)
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "posture": {"kind": "perception", "granularity": "entity", "type": "class", "values": CLASSES}}}))
    p.catalog().upsert("entities", [{"entity_id": f"e{i}", "attrs_json": json.dumps({"lighting": light})}
                                    for i, (_, light) in enumerate(labels)])
    p.catalog().upsert("labels", [
        {"label_id": f"l{i}-{who}", "target_type": "entity", "target_id": f"e{i}", "field": "posture",
         "value": value if who != "c" else CLASSES[(CLASSES.index(value) + 1) % 3], "kind": "perception",
         "annotator": who} for i, (value, _) in enumerate(labels) for who in ("a", "b", "c")])
    return p


def test_counts_weights_thin_cells_and_a_planted_confound(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    labels = [("lying" if rng.random() < 0.8 else "standing", "night") for _ in range(60)]
    labels += [("standing" if rng.random() < 0.85 else "lying", "day") for _ in range(90)]
    labels += [("down", "night")] * 4
    res = imbalance(_project(tmp_path / "p", labels), conditions=["lighting"])
    s = res.summary["posture"]
    truth = [v for v, _ in labels]
    assert s["counts"] == {c: truth.count(c) for c in sorted(CLASSES)}
    ref = compute_class_weight("balanced", classes=np.array(sorted(CLASSES)), y=np.array(truth))
    assert list(s["class_weights"].values()) == pytest.approx(ref, abs=1e-4)
    cells = s["by_lighting"]
    assert cells["conditions"] == ["day", "night"]
    down = cells["counts"][cells["classes"].index("down")]
    assert down == [0, 4]
    thin = {(f.details["class"], f.details["lighting"]): f.details["needed"] for f in res.findings
            if f.check == "imbalance.thin_cell"}
    assert thin[("down", "day")] == MIN_CELL and thin[("down", "night")] == MIN_CELL - 4
    assert any(f.check == "imbalance.rare_class" and f.details["class"] == "down" for f in res.findings)
    assert any(f.check == "imbalance.confounded" for f in res.findings)


def test_no_confound_when_class_and_condition_are_independent(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    labels = [(str(rng.choice(CLASSES, p=[0.4, 0.35, 0.25])), str(rng.choice(["day", "night"]))) for _ in range(400)]
    res = imbalance(_project(tmp_path / "p", labels), conditions=["lighting"])
    assert not [f for f in res.findings if f.check in ("imbalance.confounded", "imbalance.rare_class")]
    assert res.summary["posture"]["by_lighting"]["chi2_p"] > 0.01


def test_it_says_why_it_cannot_run(tmp_path: Path) -> None:
    p = init_project(tmp_path / "empty")
    with pytest.raises(CannotRun, match="no label schema"):
        imbalance(p)
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "posture": {"kind": "perception", "type": "class", "values": CLASSES}}}))
    with pytest.raises(CannotRun, match="no class labels"):
        imbalance(p, conditions=["lighting"])
