"""The Ray executor gives the local executor's predictions, row for row, on the same data — with
a local Ray cluster of 2 CPUs, as on a real one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tonefarm import SECONDS, WINDOW, make_tone_farm

from syncline.align.segment import run_segmenters
from syncline.ingest import ingest
from syncline.pipeline.graph import Pipeline
from syncline.pipeline.heads import fit_head, head_stage
from syncline.pipeline.local import run_pipeline
from syncline.pipeline.ray import local_cluster, ray_batches
from syncline.pipeline.routing import decision_stage
from syncline.pipeline.stage import Stage
from syncline.project import init_project
from syncline.represent.embed import embed
from syncline.represent.search import segment_vectors, windows
from syncline.task.spec import load_task

pytestmark = pytest.mark.functional
NS = 1_000_000_000
REPS = {"audio": "logmel-1s@1", "video": "grid-colour-edges-1s@1"}


def test_ray_and_local_executors_give_the_same_predictions(tmp_path: Path) -> None:
    sounds = make_tone_farm(tmp_path / "data", pens=5, no_mic=("pen-4",))
    p = init_project(tmp_path / "p", template="farm")
    ingest(p, [tmp_path / "data"])
    run_segmenters(p, ["fixed"], window_s=float(WINDOW))
    embed(p, list(REPS.values()))
    entity = {Path(a["source_path"]).parent.name: a["entity_id"] for a in p.catalog().read("assets").to_pylist()}
    with p.catalog().connect() as con:
        w = windows(con, REPS["audio"])
    train = [entity[f"pen-{i}"] for i in range(4)]
    ents = np.repeat(np.array(train, object), SECONDS // WINDOW)
    t0 = np.tile(np.arange(0, SECONDS, WINDOW) * NS, len(train))
    y = ["alert_vet" if f2 >= 2000 else "ignore" for e in train
         for _, f2 in sounds[next(k for k, v in entity.items() if v == e)]]
    head = fit_head("tone", segment_vectors(w, ents, t0, t0 + WINDOW * NS), y, list(ents))

    def flaky(p: np.ndarray) -> dict[str, np.ndarray]:  # fails some rows: failures must match too
        if (p[:, 0] > 0.97).any():
            raise RuntimeError("too sure")
        return {"probabilities": p}

    stages = [head_stage("hear", head, {"x": "source.audio"}, modalities=("audio",), on_missing="abstain"),
              Stage("flaky", flaky, {"p": "hear.probabilities"}, {"probabilities": "probabilities"}, "fusion"),
              decision_stage("decide", load_task(p.task_path), head.classes, "flaky.probabilities")]
    pipe = Pipeline("tones", stages, {"audio": "vector", "video": "vector"})
    local = run_pipeline(p, pipe, representations=REPS, segmenter=f"fixed-{WINDOW}s@2", field_name="action",
                         batch_size=16, commit_rows=48)
    with local_cluster(2):
        remote = run_pipeline(p, pipe, representations=REPS, segmenter=f"fixed-{WINDOW}s@2", field_name="action",
                              batch_size=16, commit_rows=48, map_batches=ray_batches)

    def rows(run_id: str) -> dict[str, tuple]:  # type: ignore[type-arg]
        out = {}
        for r in p.catalog().read("predictions", where=f"run_id = '{run_id}'").to_pylist():
            d = json.loads(r["details_json"])
            out[r["target_id"]] = (r["value"], r["route"], None if r["score"] is None else round(r["score"], 12),
                                   d["status"], d["reason"], d["failed_stage"])
        return out

    a, b = rows(local.run_id), rows(remote.run_id)
    assert len(a) == local.segments and a == b
    assert local.stage_status == remote.stage_status and local.stage_status["flaky"].get("failed", 0) > 0
    traces = {r["run_id"]: r for r in p.catalog().read("traces").to_pylist()}
    assert set(traces) == {local.run_id, remote.run_id}


def test_the_ray_executor_needs_a_cluster() -> None:
    with pytest.raises(RuntimeError, match="no Ray cluster"):
        ray_batches(Pipeline("x", [], {}), [])
