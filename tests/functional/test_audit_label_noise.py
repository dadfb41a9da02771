"""The label-noise check on a real catalog: an error every annotator made (a mislabelled batch)
is invisible to disagreement but found by confident learning on the targets' embeddings; a
crowd annotator's private errors are found by disagreement, label by label and named by
annotator; without embeddings, or with embeddings that cannot see the label, confident learning
says what it needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from syncline.audit.label_noise_check import label_noise
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

CLASSES = ["standing", "lying", "down"]


def _project(root: Path, n: int, flip: float, crowd_noise: float, embeddings: bool, seed: int = 0
             ) -> tuple[Project, set[str]]:
    rng = np.random.default_rng(seed)
    p = init_project(root)
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "posture": {"kind": "perception", "granularity": "entity", "type": "class", "values": CLASSES}}}))
    truth = rng.integers(0, 3, n)
    given = truth.copy()
    flipped = rng.random(n) < flip
    given[flipped] = (truth[flipped] + rng.integers(1, 3, int(flipped.sum()))) % 3  # the whole team got these wrong
    cat = p.catalog()
    cat.upsert("entities", [{"entity_id": f"e{i}"} for i in range(n)])
    rows = []
    for i in range(n):
        for who in ("vet", "tech", "crowd"):
            v = int(given[i])
            if who == "crowd" and rng.random() < crowd_noise:
                v = (v + 1) % 3
            rows.append({"label_id": f"{who}{i}", "target_type": "entity", "target_id": f"e{i}", "field": "posture",
                         "value": CLASSES[v], "kind": "perception", "annotator": who})
    cat.upsert("labels", rows)
    if embeddings:
        centres = rng.normal(0, 3, (3, 8))
        cat.upsert("embeddings", [{"embedding_id": f"v{i}", "representation_id": "toy@1", "target_type": "entity",
                                   "target_id": f"e{i}", "vector": (centres[truth[i]] + rng.normal(0, 1, 8)).tolist()}
                                  for i in range(n)])
    return p, {f"e{i}" for i in np.flatnonzero(flipped)}


def test_confident_learning_finds_the_error_every_annotator_made(tmp_path: Path) -> None:
    p, flipped = _project(tmp_path / "p", 400, flip=0.2, crowd_noise=0.0, embeddings=True)
    res = label_noise(p)
    posture = res.summary["posture"]
    assert posture["disagreement"]["suspects"] == 0  # everyone agrees on the wrong labels
    cl = posture["confident_learning"]
    assert cl["ran"] and cl["verdict"] == "warn"
    lo, hi = cl["interval"]
    assert lo <= len(flipped) / 400 <= hi
    found = {r["target_id"] for r in cl["most_suspect"]}
    assert len(found & flipped) / len(found) >= 0.8  # the most suspect are the flipped ones
    assert [(f.check, f.severity) for f in res.findings] == [("label_noise.disagreement", "info"),
                                                             ("label_noise.confident_learning", "warning")]
    (cl_finding,) = [f for f in res.findings if f.check == "label_noise.confident_learning"]
    listed = [t for t, _, _ in cl_finding.details["suspects"]]  # every flagged target, most suspect first
    assert listed[:20] == [r["target_id"] for r in cl["most_suspect"]]
    assert len(cl_finding.details["suspects"]) == cl["suspects"]


def test_disagreement_names_the_noisy_annotator_and_each_wrong_label(tmp_path: Path) -> None:
    p, _ = _project(tmp_path / "p", 200, flip=0.0, crowd_noise=0.3, embeddings=False, seed=3)
    strays = {r["target_id"] for r in p.catalog().read("labels").to_pylist()
              if r["annotator"] == "crowd" and r["value"] != next(
                  x["value"] for x in p.catalog().read("labels").to_pylist()
                  if x["annotator"] == "vet" and x["target_id"] == r["target_id"])}
    res = label_noise(p)
    d = res.summary["posture"]["disagreement"]
    assert d["annotators"]["crowd"]["suspects"] == len(strays) and d["annotators"]["crowd"]["n"] == 200
    assert d["annotators"]["vet"]["suspects"] == d["annotators"]["tech"]["suspects"] == 0
    assert d["annotators"]["vet"]["n"] == 200  # every target has three annotators
    (who,) = [f for f in res.findings if f.check == "label_noise.annotator"]
    assert who.target_id == "crowd" and who.severity == "error"  # ~30 % > the 25 % fail line
    assert {t for t, a, _ in who.details["suspects"]} == strays and {a for _, a, _ in who.details["suspects"]} == {
        "crowd"}
    assert "consensus" in who.message
    assert not res.summary["posture"]["confident_learning"]["ran"]
    assert "compute a representation" in res.summary["posture"]["confident_learning"]["why_not"]


def test_confident_learning_refuses_embeddings_that_cannot_see_the_label(tmp_path: Path) -> None:
    p, _ = _project(tmp_path / "p", 300, flip=0.0, crowd_noise=0.0, embeddings=False)
    rng = np.random.default_rng(5)
    p.catalog().upsert("embeddings", [{"embedding_id": f"v{i}", "representation_id": "noise@1",
                                       "target_type": "entity", "target_id": f"e{i}",
                                       "vector": rng.normal(0, 1, 8).tolist()} for i in range(300)])
    cl = label_noise(p).summary["posture"]["confident_learning"]
    assert not cl["ran"] and "do not predict posture" in cl["why_not"] and cl["balanced_accuracy"] < 0.53


def test_a_two_two_split_flags_the_unreliable_side_only() -> None:
    """Four annotators split 2-2 on one target: the experts, right everywhere else, keep their
    label; the two who are often wrong elsewhere are the suspects (a plain majority of the others
    would flag all four)."""
    from syncline.audit.label_noise_check import suspect_labels

    rng = np.random.default_rng(4)
    rows = []
    for i in range(150):
        truth = str(rng.integers(0, 2))
        wrong = str(1 - int(truth))
        for who, acc in (("vet", 0.98), ("tech", 0.95), ("crowd1", 0.7), ("crowd2", 0.7)):
            rows.append((f"t{i}", who, truth if rng.random() < acc else wrong))
    rows += [("split", "vet", "1"), ("split", "tech", "1"), ("split", "crowd1", "0"), ("split", "crowd2", "0")]
    judged, suspect = suspect_labels(rows)
    assert judged.all()
    assert [r[1] for r, s in zip(rows[-4:], suspect[-4:], strict=True) if s] == ["crowd1", "crowd2"]
    alone = suspect_labels(rows[:3] + [("x", "vet", "1"), ("x", "tech", "0")])  # two annotators: not judged
    assert alone[0].tolist() == [True, True, True, False, False]


def test_the_tolerance_comes_from_the_task_spec(tmp_path: Path) -> None:
    from syncline.task import TaskSpecError, load_task

    p, _ = _project(tmp_path / "p", 400, flip=0.2, crowd_noise=0.0, embeddings=True)
    farm = init_project(tmp_path / "farm", template="farm")
    spec = yaml.safe_load(farm.task_path.read_text())
    spec["audit"] = {"label_noise_warn": 0.3, "label_noise_fail": 0.5}
    p.task_path.write_text(yaml.safe_dump(spec))
    res = label_noise(p)
    assert res.summary["tolerance"] == {"warn": 0.3, "fail": 0.5}
    assert res.summary["posture"]["confident_learning"]["verdict"] == "ok"
    assert {f.severity for f in res.findings} == {"info"}  # measured, within tolerance
    spec["audit"] = {"label_noise_warn": 0.4, "label_noise_fail": 0.2}
    p.task_path.write_text(yaml.safe_dump(spec))
    with pytest.raises(TaskSpecError, match="must not exceed"):
        load_task(p.task_path)
