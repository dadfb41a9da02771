"""The grader layer on a real catalog: who may grade what, fixes as checked labels, gold values
by Dawid–Skene that beat the planted crowd error, and a best-data selection by confidence and
grade rather than volume."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import yaml
from mediafiles import make_tone

from syncline.align.segment import run_segmenters
from syncline.annotate.consensus import majority
from syncline.annotate.grading import best_data, gold, grade_labels
from syncline.annotate.labels import write_labels
from syncline.ids import stable_id
from syncline.ingest import ingest
from syncline.project import init_project

pytestmark = pytest.mark.functional

STATES = ["calm", "restless", "distressed"]
SCHEMA = {"version": 1,
          "fields": {"animal_state": {"kind": "perception", "type": "ordinal", "values": STATES},
                     "note": {"kind": "perception", "type": "text"}},
          "annotators": {"vet-a": {"tier": "expert", "fields": ["animal_state"], "grades": ["animal_state"]},
                         "tech-b": {"tier": "trained", "fields": ["animal_state"]},
                         "tech-d": {"tier": "trained", "fields": ["animal_state"]},
                         "crowd-c": {"tier": "crowd", "fields": ["animal_state"]}}}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("g")
    data = root / "data" / "stall-1"
    data.mkdir(parents=True)
    make_tone(data, "mic.wav", seconds=120.0)
    p = init_project(root / "p")
    ingest(p, [data.parent])
    run_segmenters(p, ["fixed"], window_s=2.0)
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    segs = sorted(r["segment_id"] for r in p.catalog().read("segments").to_pylist())
    rng = np.random.default_rng(1)
    truth = {s: int(rng.choice(3, p=[0.5, 0.3, 0.2])) for s in segs}
    labels = []
    for s, t in truth.items():
        for who, acc in (("tech-b", 0.85), ("tech-d", 0.85), ("crowd-c", 1.0)):
            v = t if rng.random() < acc else int(rng.integers(0, 3))
            if who == "crowd-c" and t == 1:
                v = 2  # the crowd annotator calls every restless animal distressed
            labels.append({"field": "animal_state", "target_id": s, "annotator": who, "value": STATES[v]})
    assert write_labels(p, labels).written == len(labels)
    return {"project": p, "segs": segs, "truth": truth}


def _lid(seg: str, who: str) -> str:
    return stable_id("label", "animal_state", seg, who)


def test_only_qualified_second_tier_graders_grade_and_fixes_are_checked(graded: dict[str, Any]) -> None:
    p, segs = graded["project"], graded["segs"]
    res = grade_labels(p, [
        {"label_id": _lid(segs[0], "crowd-c"), "grader": "vet-a", "verdict": "accept", "score": 4},
        {"label_id": _lid(segs[1], "crowd-c"), "grader": "vet-a", "verdict": "fix", "value": "calm"},
        {"label_id": _lid(segs[2], "tech-b"), "grader": "crowd-c", "verdict": "accept"},
        {"label_id": _lid(segs[2], "tech-b"), "grader": "tech-d", "verdict": "accept"},
        {"label_id": "nope", "grader": "vet-a", "verdict": "accept"},
        {"label_id": _lid(segs[3], "tech-b"), "grader": "vet-a", "verdict": "maybe"},
        {"label_id": _lid(segs[3], "tech-b"), "grader": "vet-a", "verdict": "accept", "score": 9},
        {"label_id": _lid(segs[4], "tech-b"), "grader": "vet-a", "verdict": "fix", "value": "asleep"},
    ])
    assert res.written == 2
    reasons = {r.index: r.reason for r in res.refused}
    assert "may not grade" in reasons[2] and "may not grade" in reasons[3]
    assert "no label 'nope'" in reasons[4] and "verdict 'maybe'" in reasons[5]
    assert "from 1 to 5" in reasons[6] and "not a valid label" in reasons[7]
    fixed = p.catalog().read("labels", where=f"label_id = '{_lid(segs[1], 'vet-a')}'").to_pylist()
    assert fixed and fixed[0]["value"] == "calm" and fixed[0]["annotator_tier"] == "expert"
    own = grade_labels(p, [{"label_id": _lid(segs[1], "vet-a"), "grader": "vet-a", "verdict": "accept"}])
    assert own.written == 0 and "own label" in own.refused[0].reason


def test_gold_values_learn_the_crowd_confusion_and_best_data_selects_by_confidence(graded: dict[str, Any]) -> None:
    p, truth = graded["project"], graded["truth"]
    g = gold(p, "animal_state")
    by = {r["target_id"]: r for r in g.rows}
    acc = np.mean([by[s]["value"] == STATES[t] for s, t in truth.items()])
    rows = [r for r in p.catalog().read("labels", where="field = 'animal_state'").to_pylist()
            if r["annotator"] in ("tech-b", "tech-d", "crowd-c")]
    segs = sorted(truth)
    mv = majority([segs.index(r["target_id"]) for r in rows], [0] * len(rows),
                  [STATES.index(r["value"]) for r in rows], n_items=len(segs), n_classes=3)
    acc_mv = np.mean([mv.gold[n] == truth[s] for n, s in enumerate(segs)])
    assert acc > 0.9 and acc >= acc_mv, (acc, acc_mv)  # the crowd's systematic error drags the vote
    best = best_data(g, min_confidence=0.95)
    assert 0 < len(best) < len(g.rows)
    assert np.mean([r["value"] == STATES[truth[r["target_id"]]] for r in best]) >= acc
    assert all(0 < r["weight"] <= 1 for r in best) and len(rows) >= 3 * len(truth)
    with pytest.raises(ValueError, match="class or ordinal field"):
        gold(p, "note")


def test_the_cli_grades_from_a_file_and_writes_the_best_data(graded: dict[str, Any], tmp_path: Any) -> None:
    import json
    import subprocess
    import sys

    import pyarrow.parquet as pq

    p, segs = graded["project"], graded["segs"]
    path = tmp_path / "grades.jsonl"
    path.write_text(json.dumps({"label_id": _lid(segs[5], "crowd-c"), "grader": "vet-a", "verdict": "reject"})
                    + "\n{oops\n", encoding="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syncline.cli", *args, "-p", str(p.root)],
                              capture_output=True, text=True)

    res = run("grade", str(path), "--json")
    assert res.returncode == 0 and json.loads(res.stdout) == {
        "written": 1, "refused": [{"line": 2, "reason": json.loads(res.stdout)["refused"][0]["reason"]}]}
    out = tmp_path / "best.parquet"
    res = run("gold", "animal_state", "--best", str(out), "--min-confidence", "0.95", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert pq.read_table(out).num_rows == summary["best"] > 0
    assert run("gold", "note").returncode == 2


def test_a_grade_may_name_its_label_by_field_annotator_and_span(graded: dict[str, Any]) -> None:
    p = graded["project"]
    seg = p.catalog().read("segments").to_pylist()[3]
    where = {"field": "animal_state", "entity_id": seg["entity_id"], "t0_ns": seg["t0_ns"], "t1_ns": seg["t1_ns"]}
    res = grade_labels(p, [
        {**where, "annotator": "tech-d", "grader": "vet-a", "verdict": "accept", "score": 5},
        {**where, "annotator": "tech-x", "grader": "vet-a", "verdict": "accept"},              # no such label
        {**where | {"t1_ns": seg["t1_ns"] + 1}, "annotator": "tech-d", "grader": "vet-a", "verdict": "accept"},
    ])
    assert res.written == 1 and [r.index for r in res.refused] == [1, 2]
    assert all("no label of 'animal_state'" in r.reason for r in res.refused)
    rows = p.catalog().read("grades", where=f"label_id = '{_lid(seg['segment_id'], 'tech-d')}'").to_pylist()
    assert [(r["grader"], r["score"]) for r in rows] == [("vet-a", 5.0)]
