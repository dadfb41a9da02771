"""The label-noise check on a real catalog: an error every annotator made (a mislabelled batch)
is invisible to disagreement but found by confident learning on the targets' embeddings; a
crowd annotator's private errors are found by disagreement; without embeddings the check says
what to compute."""

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
    assert [f.check for f in res.findings] == ["label_noise.confident_learning"]


def test_disagreement_finds_a_noisy_annotator_and_cl_says_what_it_needs(tmp_path: Path) -> None:
    p, _ = _project(tmp_path / "p", 200, flip=0.0, crowd_noise=0.3, embeddings=False)
    res = label_noise(p)
    posture = res.summary["posture"]
    # two of three agree with the majority where the crowd annotator strays: 2/3 >= 0.6, not suspect
    assert posture["disagreement"]["suspects"] == 0
    assert not posture["confident_learning"]["ran"]
    assert "compute a representation" in posture["confident_learning"]["why_not"]


def test_the_tolerance_comes_from_the_task_spec(tmp_path: Path) -> None:
    from syncline.task import TaskSpecError, load_task

    p, _ = _project(tmp_path / "p", 400, flip=0.2, crowd_noise=0.0, embeddings=True)
    farm = init_project(tmp_path / "farm", template="farm")
    spec = yaml.safe_load(farm.task_path.read_text())
    spec["audit"] = {"label_noise_warn": 0.3, "label_noise_fail": 0.5}
    p.task_path.write_text(yaml.safe_dump(spec))
    res = label_noise(p)
    assert res.summary["tolerance"] == {"warn": 0.3, "fail": 0.5}
    assert res.summary["posture"]["confident_learning"]["verdict"] == "ok" and not res.findings
    spec["audit"] = {"label_noise_warn": 0.4, "label_noise_fail": 0.2}
    p.task_path.write_text(yaml.safe_dump(spec))
    with pytest.raises(TaskSpecError, match="must not exceed"):
        load_task(p.task_path)
