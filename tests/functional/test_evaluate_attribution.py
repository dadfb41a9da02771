"""Stage attribution on a real pipeline run: a pitch head (perception, checked against pitch
labels) feeds a fusion stage with a planted bug (it calls a third of the low-pitch windows an
alert); every wrong decision is blamed on the stage that went wrong first, as the traces show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tonefarm import SECONDS, WINDOW, make_tone_farm

from syncline.align.segment import run_segmenters
from syncline.evaluate.run import evaluate
from syncline.ingest import ingest
from syncline.pipeline import local as L
from syncline.pipeline.graph import Pipeline
from syncline.pipeline.heads import fit_head, head_stage
from syncline.pipeline.routing import decision_stage
from syncline.pipeline.stage import Stage
from syncline.project import init_project
from syncline.represent.embed import embed
from syncline.represent.search import segment_vectors, windows
from syncline.task.spec import load_task

pytestmark = pytest.mark.functional
NS = 1_000_000_000
SEGMENTER = f"fixed-{WINDOW}s@2"
REPS = {"audio": "logmel-1s@1"}


def test_wrong_decisions_are_blamed_on_the_stage_that_went_wrong(tmp_path: Path) -> None:
    sounds = make_tone_farm(tmp_path / "data", pens=6)
    p = init_project(tmp_path / "p", template="farm")
    ingest(p, [tmp_path / "data"])
    run_segmenters(p, ["fixed"], window_s=float(WINDOW))
    embed(p, list(REPS.values()))
    entity = {Path(a["source_path"]).parent.name: a["entity_id"] for a in p.catalog().read("assets").to_pylist()}
    pitch = {entity[pen]: ["high" if f2 >= 2000 else "low" for _, f2 in pairs] for pen, pairs in sounds.items()}
    segs = p.catalog().read("segments", where=f"segmenter = '{SEGMENTER}'").to_pylist()
    labels = []
    for s in segs:
        k = int(s["t0_ns"]) // (WINDOW * NS)
        if s["entity_id"] not in pitch or not 0 <= k < SECONDS // WINDOW:
            continue
        value = pitch[s["entity_id"]][k]
        for field, v, kind in (("pitch", value, "perception"),
                               ("action", "alert_vet" if value == "high" else "ignore", "judgment")):
            labels.append({"label_id": f"{s['segment_id']}|{field}", "target_type": "segment",
                           "target_id": s["segment_id"], "field": field, "value": v, "kind": kind,
                           "annotator": "vet-a", "annotator_tier": "expert", "asset_ids": s["asset_ids"],
                           "subject_ids": []})
    p.catalog().upsert("labels", labels)
    with p.catalog().connect() as con:
        w = windows(con, REPS["audio"])
    train = [entity[f"pen-{i}"] for i in range(4)]
    ents = np.repeat(np.array(train, object), SECONDS // WINDOW)
    t0 = np.tile(np.arange(0, SECONDS, WINDOW) * NS, len(train))
    head = fit_head("pitch", segment_vectors(w, ents, t0, t0 + WINDOW * NS), [v for e in train for v in pitch[e]],
                    list(ents))

    def to_action(x: np.ndarray) -> dict[str, np.ndarray]:  # the planted bug: some low windows become alerts
        high = x[:, head.classes.index("high")]
        bug = (np.round(x[:, head.classes.index("low")] * 1e6).astype(np.int64) % 3 == 0) & (high < 0.5)
        p_alert = np.where(bug, 1 - high, high)
        return {"probabilities": np.stack([p_alert, 1 - p_alert], axis=1)}

    spec = load_task(p.task_path)
    fuse = Stage("to_action", to_action, {"x": "pitch.probabilities"}, {"probabilities": "probabilities"},
                 "fusion", params={"classes": ["alert_vet", "ignore"]})
    pipe = Pipeline("pitch-to-action", [head_stage("pitch", head, {"x": "source.audio"}, modalities=("audio",)),
                                        fuse, decision_stage("decide", spec, ["alert_vet", "ignore"],
                                                             "to_action.probabilities")], {"audio": "vector"})
    res = L.run_pipeline(p, pipe, representations=REPS, segmenter=SEGMENTER, field_name="action")
    ev = evaluate(p, res.run_id, draws=100, intersections=False)
    att = ev.diagnostics["attribution"]
    assert att["checked_stages"] == {"pitch": "pitch"}
    # the test's own reading of the traces: which stage was wrong first on each wrong decision
    traces = {(t["target_id"], t["stage"]): t for t in p.catalog().read(
        "traces", where=f"run_id = '{res.run_id}'").to_pylist()}
    preds = {r["target_id"]: r["value"] for r in p.catalog().read(
        "predictions", where=f"run_id = '{res.run_id}'").to_pylist()}
    gold = {(lab["target_id"], lab["field"]): lab["value"] for lab in labels}
    want: dict[str, int] = {}
    for (t, field), truth in gold.items():
        if field != "action" or preds.get(t) is None or preds[t] == truth:
            continue
        probs = json.loads(traces[(t, "pitch")]["outputs_json"])["probabilities"]
        fused = json.loads(traces[(t, "to_action")]["outputs_json"])["probabilities"]
        if head.classes[int(np.argmax(probs))] != gold[(t, "pitch")]:
            cause = "perception: pitch (its pitch is not the label's)"
        elif ["alert_vet", "ignore"][int(np.argmax(fused))] == truth:
            cause = "decision"
        else:
            cause = "fusion"
        want[cause] = want.get(cause, 0) + 1
    got = {c["cause"]: c["rows"] for c in att["wrong"]["causes"]}
    assert got == want and want.get("fusion", 0) >= 5  # the planted bug shows up as fusion's
    assert att["wrong"]["rows"] == sum(want.values()) == ev.metric("overall", "accuracy").n - \
        ev.metric("overall", "accuracy").k
