"""A decomposed pipeline on real media: an audio head (fitted with entities kept whole) and a
decision stage that applies the task's cost matrix, run by the local executor — predictions
against the planted truth, a missing modality handled by the stage's policy, a stage that
breaks on some segments without stopping the run, a killed run resumed, every run pinned."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from tonefarm import SECONDS, WINDOW, make_tone_farm

from syncline.align.segment import run_segmenters
from syncline.ingest import ingest
from syncline.pipeline import local as L
from syncline.pipeline.graph import Pipeline
from syncline.pipeline.heads import LinearHead, fit_head, head_stage
from syncline.pipeline.routing import decision_stage
from syncline.pipeline.stage import Stage
from syncline.project import Project, init_project
from syncline.represent.embed import embed
from syncline.represent.search import segment_vectors, windows
from syncline.task.spec import load_task

pytestmark = pytest.mark.functional

NS = 1_000_000_000
SEGMENTER = f"fixed-{WINDOW}s@2"
REPS = {"audio": "logmel-1s@1", "video": "grid-colour-edges-1s@1"}


def _truth(pairs: list[tuple[int, int]]) -> list[str]:
    """The decision each window calls for: a high tone (2 kHz+) means alert_vet."""
    return ["alert_vet" if f2 >= 2000 else "ignore" for _, f2 in pairs]


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, list[str]], LinearHead]:
    """Six pens, pen-5 without a microphone; an audio head fitted on pens 0-3."""
    root = tmp_path_factory.mktemp("pipeline")
    sounds = make_tone_farm(root / "data", pens=6, no_mic=("pen-5",))
    p = init_project(root / "p", template="farm")
    ingest(p, [root / "data"])
    run_segmenters(p, ["fixed"], window_s=float(WINDOW))
    embed(p, list(REPS.values()))
    assets = p.catalog().read("assets").to_pylist()
    entity = {Path(a["source_path"]).parent.name: a["entity_id"] for a in assets}
    truth = {entity[pen]: _truth(pairs) for pen, pairs in sounds.items()}
    with p.catalog().connect() as con:
        w = windows(con, REPS["audio"])
    train = [entity[f"pen-{i}"] for i in range(4)]
    ents = np.repeat(np.array(train, object), SECONDS // WINDOW)
    t0 = np.tile(np.arange(0, SECONDS, WINDOW) * NS, len(train))
    x = segment_vectors(w, ents, t0, t0 + WINDOW * NS)
    y = [v for e in train for v in truth[e]]
    head = fit_head("tone", x, y, list(ents), fitted_on={"representation_ids": [REPS["audio"]]})
    return p, truth, head


def _pipeline(p: Project, head: LinearHead, *, on_missing: str = "abstain", extra: list[Stage] | None = None,
              decide_from: str = "audio_head") -> Pipeline:
    spec = load_task(p.task_path)
    stages = [head_stage("audio_head", head, {"x": "source.audio"}, modalities=("audio",), on_missing=on_missing),
              *(extra or []), decision_stage("decide", spec, head.classes, f"{decide_from}.probabilities")]
    return Pipeline("barn-tones", stages, {"audio": "vector", "video": "vector"})


def _predictions(p: Project, run_id: str) -> dict[str, dict]:  # type: ignore[type-arg]
    rows = p.catalog().read("predictions", where=f"run_id = '{run_id}'").to_pylist()
    return {r["target_id"]: r for r in rows}


def _segments(p: Project) -> dict[str, tuple[str, int]]:
    return {s["segment_id"]: (s["entity_id"], int(s["t0_ns"]) // (WINDOW * NS))
            for s in p.catalog().read("segments", where=f"segmenter = '{SEGMENTER}'").to_pylist()}


def test_head_probabilities_equal_scikit_learn(farm) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    for k in (2, 3):
        x = rng.normal(size=(120, 7))
        y = [str(v) for v in rng.integers(0, k, 120)]
        head = fit_head("h", x, y, [str(i % 4) for i in range(120)])
        scaler = StandardScaler().fit(x)
        ref = LogisticRegression(max_iter=1000).fit(scaler.transform(x), y)
        np.testing.assert_allclose(head.predict_proba(x), ref.predict_proba(scaler.transform(x)), atol=1e-9)
        assert head.classes == list(ref.classes_)


def test_the_pipeline_decides_held_out_pens_and_abstains_without_a_microphone(farm) -> None:
    p, truth, head = farm
    assert head.fitted_on["out_of_fold_balanced_accuracy"] >= 0.9
    res = L.run_pipeline(p, _pipeline(p, head), representations=REPS, segmenter=SEGMENTER, field_name="action",
                         model_versions={"audio_head": head.model_id})
    preds, segs = _predictions(p, res.run_id), _segments(p)
    assert len(preds) == len(segs) == res.segments
    spec = load_task(p.task_path)
    heads = {t["target_id"]: t for t in p.catalog().read(
        "traces", where=f"run_id = '{res.run_id}' AND stage = 'audio_head'").to_pylist()}
    right = wrong = 0
    for sid, (entity, k) in segs.items():
        pr = preds[sid]
        if entity not in truth or k >= len(truth[entity]) or k < 0:  # no media there
            assert pr["route"] == "abstain" and pr["value"] is None
            continue
        if entity == _entity(p, "pen-5"):  # no microphone: the audio stage abstains, and says why
            assert pr["route"] == "abstain" and json.loads(pr["details_json"])["reason"].endswith("no audio")
            continue
        # the head heard it: its most likely class is the truth
        probs = json.loads(heads[sid]["outputs_json"])["probabilities"]
        right += head.classes[int(np.argmax(probs))] == truth[entity][k]
        wrong += head.classes[int(np.argmax(probs))] != truth[entity][k]
        # the decision is the least expected cost under the task's matrix (computed here by hand)
        labels = spec.decision_labels
        full = {c: probs[head.classes.index(c)] if c in head.classes else 0.0 for c in labels}
        costs = {d: sum(full[t] * spec.error_costs[t][d] for t in labels) for d in labels}
        assert pr["value"] == min(labels, key=lambda d: (costs[d], labels.index(d)))
        # the route follows the task: alert_vet always goes to a person, low confidence too
        expect = "review" if pr["value"] == "alert_vet" or pr["score"] < spec.review.confidence_threshold else "act"
        assert pr["route"] == expect and pr["abstained"] == (expect != "act")
    assert right >= 0.95 * (right + wrong) and right + wrong == 5 * (SECONDS // WINDOW)
    run = p.catalog().read("runs", where=f"run_id = '{res.run_id}'").to_pylist()[0]
    assert run["status"] == "finished" and run["representation_ids"] == sorted(set(REPS.values()))
    assert json.loads(run["config_json"])["models"] == {"audio_head": head.model_id}
    assert json.loads(run["table_versions_json"])["embeddings"] >= 1 and run["task_hash"] == spec.content_hash()
    traces = p.catalog().read("traces", where=f"run_id = '{res.run_id}'").to_pylist()
    assert len(traces) == 2 * len(segs)  # every stage, every segment
    from syncline.plan import check_against_run

    costs = {s["stage"]: s for s in check_against_run(p, res.run_id)["stages"]}
    assert costs["audio_head"]["bytes_per_segment"] == 2 * 8  # two float64 probabilities per segment
    assert costs["decide"]["bytes_per_segment"] == 4 * 8  # decision, confidence, expected cost, route
    mic = {a["asset_id"] for a in p.catalog().read("assets").to_pylist() if a["modality"] == "audio"}
    ok = [t for t in traces if t["stage"] == "audio_head" and t["status"] == "ok"]
    assert ok and all(set(t["asset_ids"]) & mic for t in ok)  # provenance: the mic it heard


def _entity(p: Project, pen: str) -> str:
    return next(a["entity_id"] for a in p.catalog().read("assets").to_pylist() if f"/{pen}/" in a["source_path"])


def test_a_fallback_stands_in_where_the_modality_is_missing(farm) -> None:
    p, _, head = farm

    def always_ignore(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"probabilities": np.tile([0.0, 1.0], (len(x), 1))}  # head.classes: alert_vet, ignore

    fallback = Stage("video_guess", always_ignore, {"x": "source.video"}, {"probabilities": "probabilities"},
                     modalities=("video",))
    res = L.run_pipeline(p, _pipeline(p, head, on_missing="fallback:video_guess", extra=[fallback]),
                         representations=REPS, segmenter=SEGMENTER, field_name="action")
    preds, segs = _predictions(p, res.run_id), _segments(p)
    pen5 = [preds[s] for s, (e, k) in segs.items() if e == _entity(p, "pen-5") and 0 <= k < SECONDS // WINDOW]
    assert len(pen5) == SECONDS // WINDOW
    assert all(pr["value"] == "ignore" and pr["route"] == "act" for pr in pen5)
    assert res.stage_status["audio_head"]["fallback"] == len(pen5)


def test_a_stage_that_breaks_on_some_segments_fails_only_those(farm) -> None:
    p, truth, head = farm

    def fussy(p: np.ndarray) -> dict[str, np.ndarray]:
        if (p[:, 0] > 0.5).any():  # breaks on every segment it would call alert_vet
            raise RuntimeError("cannot handle an alarm")
        return {"probabilities": p}

    extra = [Stage("fussy", fussy, {"p": "audio_head.probabilities"}, {"probabilities": "probabilities"}, "fusion")]
    res = L.run_pipeline(p, _pipeline(p, head, extra=extra, decide_from="fussy"), representations=REPS,
                         segmenter=SEGMENTER, field_name="action")
    preds = _predictions(p, res.run_id)
    traces = {t["target_id"]: t for t in p.catalog().read(
        "traces", where=f"run_id = '{res.run_id}' AND stage = 'fussy'").to_pylist()}
    failed = [s for s, t in traces.items() if t["status"] == "failed"]
    assert failed and all("RuntimeError: cannot handle an alarm" in traces[s]["error"] for s in failed)
    assert all(preds[s]["route"] == "failed" and preds[s]["value"] is None for s in failed)
    # attributed to the stage that caused it, with its error on the way
    assert all(json.loads(preds[s]["details_json"])["failed_stage"] == "fussy" for s in failed)
    assert all("cannot handle an alarm" in json.loads(preds[s]["details_json"])["reason"] for s in failed)
    went_on = [s for s, t in traces.items() if t["status"] == "ok"]  # the rest went on, batch mates included
    assert went_on and all(preds[s]["value"] is not None for s in went_on)
    assert res.stage_status["fussy"]["failed"] == len(failed)


def test_a_stage_that_cannot_tell_abstains_and_the_stages_after_it_say_why(farm) -> None:
    p, truth, head = farm
    loudness = {}

    def gate(x: np.ndarray) -> dict[str, np.ndarray]:  # "locate": passes the sound on where there is one
        level = x.mean(axis=1)
        quiet = level < np.median(level)
        return {"x": x, "_abstain": quiet, "_why": np.array([f"too quiet ({v:.1f})" for v in level], object)}

    spec = load_task(p.task_path)
    pipe = Pipeline("gated", [
        Stage("gate", gate, {"x": "source.audio"}, {"x": "vector"}, modalities=("audio",), on_missing="abstain"),
        head_stage("audio_head", head, {"x": "gate.x"}),
        decision_stage("decide", spec, head.classes, "audio_head.probabilities")], {"audio": "vector"})
    res = L.run_pipeline(p, pipe, representations={"audio": REPS["audio"]}, segmenter=SEGMENTER, field_name="action")
    preds = _predictions(p, res.run_id)
    traces = {(t["target_id"], t["stage"]): t for t in p.catalog().read(
        "traces", where=f"run_id = '{res.run_id}'").to_pylist()}
    with p.catalog().connect() as con:
        w = windows(con, REPS["audio"])
    segs = _segments(p)
    for sid, (entity, k) in segs.items():
        x = segment_vectors(w, np.array([entity], object), np.array([k * WINDOW * NS]),
                            np.array([(k + 1) * WINDOW * NS]))
        loudness[sid] = float(x.mean()) if not np.isnan(x).any() else None
    heard = [v for v in loudness.values() if v is not None]
    assert heard
    gated = [s for (s, st), t in traces.items() if st == "gate" and t["status"] == "abstained"
             and loudness[s] is not None]
    passed = [s for (s, st), t in traces.items() if st == "gate" and t["status"] == "ok"]
    assert res.segments <= 1024  # one batch: the gate's cut is the median loudness of all segments
    assert gated and passed and len(gated) + len(passed) == len(heard)
    assert max(loudness[s] for s in gated) < min(loudness[s] for s in passed)  # type: ignore[type-var]
    for sid in gated:  # the gate abstained on the quiet ones, and every stage after it says so
        assert "too quiet (" in traces[(sid, "gate")]["error"]
        assert traces[(sid, "audio_head")]["status"] == "abstained"
        assert preds[sid]["route"] == "abstain" and preds[sid]["value"] is None
        assert json.loads(preds[sid]["details_json"])["reason"].startswith("audio_head: gate: too quiet (")
    assert all(preds[s]["value"] is not None for s in passed)
    assert res.stage_status["gate"]["abstained"] >= len(gated)


def test_a_killed_run_resumes_where_it_stopped(farm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p, _, head = farm
    copy = Project.open(Path(shutil.copytree(p.root, tmp_path / "copy")))
    whole = L.run_pipeline(copy, _pipeline(copy, head), representations=REPS, segmenter=SEGMENTER,
                           field_name="action", batch_size=16, commit_rows=16)
    real, calls = L._commit, []

    def dies_on_the_third(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(L, "_commit", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        L.run_pipeline(copy, _pipeline(copy, head), representations=REPS, segmenter=SEGMENTER,
                       field_name="action", batch_size=16, commit_rows=16, run_id="run-killed")
    assert len(_predictions(copy, "run-killed")) == 32  # two whole batches
    monkeypatch.setattr(L, "_commit", real)
    res = L.run_pipeline(copy, _pipeline(copy, head), representations=REPS, segmenter=SEGMENTER,
                         field_name="action", batch_size=16, commit_rows=16, run_id="run-killed")
    assert res.done_before == 32
    after, ref = _predictions(copy, "run-killed"), _predictions(copy, whole.run_id)
    assert {s: (r["value"], r["route"]) for s, r in after.items()} == {s: (r["value"], r["route"])
                                                                       for s, r in ref.items()}
    ids = copy.catalog().read("predictions", columns=["prediction_id"],
                              where="run_id = 'run-killed'").column(0).to_pylist()
    assert len(ids) == len(set(ids)) == len(ref)
    assert copy.catalog().read("runs", where="run_id = 'run-killed'").to_pylist()[0]["status"] == "finished"


def test_batches_are_committed_by_work_time_or_rows(farm, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run commits once ``commit_seconds`` have passed since its last commit or ``commit_rows``
    segments (whole batches) wait, whichever comes first, and always at its end: fast stages are
    not slowed by a Lance version every few batches, slow ones lose little work to a kill."""
    p, _, head = farm
    real, sizes = L._commit, []

    def counted(cat, pending, fresh):  # type: ignore[no-untyped-def]
        sizes.append(sum(t.num_rows for _, t in pending))
        return real(cat, pending, fresh)

    monkeypatch.setattr(L, "_commit", counted)
    kw: dict[str, Any] = {"representations": REPS, "segmenter": SEGMENTER, "field_name": "action", "batch_size": 16}
    whole = L.run_pipeline(p, _pipeline(p, head), commit_seconds=float("inf"), **kw)
    assert sizes == [whole.segments] and whole.segments > 48  # one commit for a run this small
    sizes.clear()
    L.run_pipeline(p, _pipeline(p, head), commit_rows=40, commit_seconds=float("inf"), **kw)
    assert sizes[:-1] == [32] * (len(sizes) - 1) and 0 < sizes[-1] <= 32 and sum(sizes) == whole.segments
    sizes.clear()
    now = [0.0]  # a clock that only the stages move: each batch takes 4 s of it

    def slow(pipeline, batches):  # type: ignore[no-untyped-def]
        for one in batches:
            now[0] += 4.0
            yield L.run_batch(pipeline, one)

    monkeypatch.setattr(L, "time", SimpleNamespace(perf_counter=lambda: now[0], time_ns=time.time_ns))
    L.run_pipeline(p, _pipeline(p, head), commit_seconds=10.0, map_batches=slow, **kw)
    assert sizes[:-1] == [48] * (len(sizes) - 1) and 0 < sizes[-1] <= 48 and sum(sizes) == whole.segments


def test_a_fusion_stage_falls_back_to_the_branch_that_is_there(farm) -> None:
    """hear (audio) and see (video) side by side; fusion needs both, and where the microphone is
    missing its fallback fuses what the camera gave (the upstream audio stage skipped those)."""
    p, _, head = farm

    def see(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"probabilities": np.tile([0.1, 0.9], (len(x), 1))}

    def fuse(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
        return {"probabilities": (a + b) / 2}

    def fuse_video(b: np.ndarray) -> dict[str, np.ndarray]:
        return {"probabilities": b}

    spec = load_task(p.task_path)
    stages = [head_stage("hear", head, {"x": "source.audio"}, modalities=("audio",), on_missing="skip"),
              Stage("see", see, {"x": "source.video"}, {"probabilities": "probabilities"}, modalities=("video",)),
              Stage("fuse", fuse, {"a": "hear.probabilities", "b": "see.probabilities"},
                    {"probabilities": "probabilities"}, "fusion", ("audio", "video"), "fallback:fuse_video",
                    fusion="late"),
              Stage("fuse_video", fuse_video, {"b": "see.probabilities"}, {"probabilities": "probabilities"},
                    "fusion", ("video",)),
              decision_stage("decide", spec, head.classes, "fuse.probabilities")]
    pipe = Pipeline("two-branches", stages, {"audio": "vector", "video": "vector"})
    assert pipe.order.index("fuse") > max(pipe.order.index("hear"), pipe.order.index("see"))
    res = L.run_pipeline(p, pipe, representations=REPS, segmenter=SEGMENTER, field_name="action")
    preds, segs = _predictions(p, res.run_id), _segments(p)
    pen5 = _entity(p, "pen-5")
    for sid, (entity, k) in segs.items():
        if not 0 <= k < SECONDS // WINDOW:
            continue
        details = json.loads(preds[sid]["details_json"])
        if entity == pen5:  # no audio: hear skipped, fusion fell back on the camera alone
            assert preds[sid]["value"] is not None, details
            fused = p.catalog().read("traces", where=f"run_id = '{res.run_id}' AND stage = 'fuse' AND "
                                                     f"target_id = '{sid}'").to_pylist()[0]
            assert fused["status"] == "fallback" and "no audio: fallback fuse_video" in fused["error"]
        else:
            assert preds[sid]["value"] is not None
    assert res.stage_status["fuse"]["fallback"] == SECONDS // WINDOW
    assert res.stage_status["hear"]["skipped"] >= SECONDS // WINDOW


def test_a_run_is_resumed_only_as_it_was_started_and_sources_must_be_what_they_claim(farm) -> None:
    p, _, head = farm
    res = L.run_pipeline(p, _pipeline(p, head), representations=REPS, segmenter=SEGMENTER, field_name="action")
    pinned = p.catalog().read("runs", where=f"run_id = '{res.run_id}'").to_pylist()[0]
    with pytest.raises(ValueError, match="cannot be resumed with this call — field"):
        L.run_pipeline(p, _pipeline(p, head), representations=REPS, segmenter=SEGMENTER, field_name="posture",
                       run_id=res.run_id)
    other = Pipeline("other", _pipeline(p, head).stages, {"audio": "vector", "video": "vector"}, version="2")
    with pytest.raises(ValueError, match="pipeline barn-tones .* then, other .* now"):
        L.run_pipeline(p, other, representations=REPS, segmenter=SEGMENTER, field_name="action", run_id=res.run_id)
    again = L.run_pipeline(p, _pipeline(p, head), representations=REPS, segmenter=SEGMENTER, field_name="action",
                           run_id=res.run_id)  # the same call: nothing left to do, the pins stay
    assert again.done_before == res.segments
    row = p.catalog().read("runs", where=f"run_id = '{res.run_id}'").to_pylist()[0]
    assert row["table_versions_json"] == pinned["table_versions_json"]
    assert row["started_utc_ns"] == pinned["started_utc_ns"]
    assert json.loads(row["config_json"])["routes"] == json.loads(pinned["config_json"])["routes"]
    with pytest.raises(ValueError, match="holds video vectors, not audio"):
        L.run_pipeline(p, _pipeline(p, head), representations={"audio": REPS["video"], "video": REPS["video"]},
                       segmenter=SEGMENTER, field_name="action")
    with pytest.raises(ValueError, match="no stored vectors; run `syncline embed -r clap@1`"):
        L.run_pipeline(p, _pipeline(p, head), representations={"audio": "clap@1", "video": REPS["video"]},
                       segmenter=SEGMENTER, field_name="action")


def test_bad_probabilities_fail_their_rows_and_text_outputs_keep_their_length(farm) -> None:
    p, _, head = farm

    def shaky(p: np.ndarray) -> dict[str, np.ndarray]:
        if (p[:, 0] > 0.99).any():  # and it breaks outright on the surest: re-run row by row, text row by row
            raise RuntimeError("overflow")
        out = p.copy()
        out[p[:, 0] > 0.9] = np.nan  # a broken model: NaN where it is most sure of an alarm
        notes = np.array(["!" * (1 + int(20 * x)) for x in p[:, 0]])  # text as long as the alarm is likely
        return {"probabilities": out, "note": notes}

    extra = [Stage("shaky", shaky, {"p": "audio_head.probabilities"},
                   {"probabilities": "probabilities", "note": "text"}, "fusion")]
    res = L.run_pipeline(p, _pipeline(p, head, extra=extra, decide_from="shaky"), representations=REPS,
                         segmenter=SEGMENTER, field_name="action", batch_size=1024)
    preds = _predictions(p, res.run_id)
    traces = p.catalog().read("traces", where=f"run_id = '{res.run_id}'").to_pylist()
    shaky_ok = {t["target_id"]: json.loads(t["outputs_json"]) for t in traces
                if t["stage"] == "shaky" and t["status"] == "ok"}
    nan_rows = [s for s, o in shaky_ok.items() if o["probabilities"][0] is None]
    assert nan_rows and all(preds[s]["route"] == "failed" and preds[s]["value"] is None for s in nan_rows)
    assert all(json.loads(preds[s]["details_json"])["failed_stage"] == "decide" for s in nan_rows)
    heard = {t["target_id"]: json.loads(t["outputs_json"])["probabilities"][0] for t in traces
             if t["stage"] == "audio_head" and t["status"] == "ok"}
    assert len({len(o["note"]) for o in shaky_ok.values()}) > 3
    assert all(len(o["note"]) == 1 + int(20 * heard[s]) for s, o in shaky_ok.items())  # none cut short
    assert res.stage_status["shaky"].get("failed", 0) > 0


def make_threshold_stage(name: str, entry, project):  # type: ignore[no-untyped-def]
    """A team's own stage, loaded by name from pipeline.yaml (``use: python:module:factory``)."""
    cut = float(entry.params["alarm_above"])

    def fn(p: np.ndarray) -> dict[str, np.ndarray]:
        alarm = (p[:, 0] > cut).astype(np.float64)
        return {"probabilities": np.stack([alarm, 1.0 - alarm], axis=1)}

    return Stage(name, fn, dict(entry.inputs), {"probabilities": "probabilities"}, "fusion",
                 params={"classes": ["alert_vet", "ignore"]})


def test_pipeline_yaml_runs_the_same_pipeline_and_reports_every_problem(farm, tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    from syncline.pipeline.graph import PipelineError
    from syncline.pipeline.spec import load_pipeline, write_pipeline

    p, _, head = farm
    model = head.save(p.root / "models").relative_to(p.root)
    spec = {"name": "tones", "segmenter": SEGMENTER, "field": "action", "sources": REPS, "stages": [
        {"name": "audio_head", "use": "head", "model": str(model), "inputs": {"x": "source.audio"},
         "modalities": ["audio"], "on_missing": "abstain"},
        {"name": "decide", "use": "decision", "input": "audio_head.probabilities"}]}
    write_pipeline(p.root / "pipeline.yaml", spec)
    out = subprocess.run([sys.executable, "-m", "syncline.cli", "run", "-p", str(p.root), "--json"],
                         capture_output=True, text=True, check=True)
    from_yaml = json.loads(out.stdout)
    direct = L.run_pipeline(p, _pipeline(p, head), representations=REPS, segmenter=SEGMENTER, field_name="action")
    a, b = _predictions(p, from_yaml["run_id"]), _predictions(p, direct.run_id)
    assert {s: (r["value"], r["route"]) for s, r in a.items()} == {s: (r["value"], r["route"]) for s, r in b.items()}
    run = p.catalog().read("runs", where=f"run_id = '{from_yaml['run_id']}'").to_pylist()[0]
    assert json.loads(run["config_json"])["models"] == {"audio_head": head.model_id}

    # a team's own stage by name
    spec["stages"].insert(1, {"name": "mine", "use": "python:test_pipeline_local:make_threshold_stage",
                              "inputs": {"p": "audio_head.probabilities"}, "params": {"alarm_above": 0.5}})
    spec["stages"][-1]["input"] = "mine.probabilities"
    pipe, _, _ = load_pipeline(p, write_pipeline(tmp_path / "own.yaml", spec))
    own = L.run_pipeline(p, pipe, representations=REPS, segmenter=SEGMENTER, field_name="action")
    heard = {t["target_id"]: json.loads(t["outputs_json"])["probabilities"][0] for t in p.catalog().read(
        "traces", where=f"run_id = '{own.run_id}' AND stage = 'audio_head' AND status = 'ok'").to_pylist()}
    mine = _predictions(p, own.run_id)
    assert heard and all(mine[s]["value"] == ("alert_vet" if x > 0.5 else "ignore") for s, x in heard.items())

    bad = yaml.safe_load(yaml.safe_dump(spec))
    bad["stages"] = [{"name": "a", "use": "head", "model": "models/missing.json", "inputs": {"x": "source.audio"}},
                     {"name": "b", "use": "transformer", "inputs": {"x": "a.probabilities"}},
                     {"name": "c", "use": "python:no_such_module:f"},
                     {"name": "d", "use": "decision", "input": "a.probabilities"}]
    with pytest.raises(PipelineError) as e:
        load_pipeline(p, write_pipeline(tmp_path / "bad.yaml", bad))
    problems = "\n".join(e.value.problems)
    assert "stages[0] a: model file 'models/missing.json' not found" in problems
    assert "stages[1] b: ValueError: unknown stage kind 'transformer'" in problems
    assert "stages[2] c: ModuleNotFoundError: No module named 'no_such_module'" in problems
    refused = subprocess.run([sys.executable, "-m", "syncline.cli", "run", str(tmp_path / "bad.yaml"), "-p",
                              str(p.root)], capture_output=True, text=True)
    assert refused.returncode == 2 and "the pipeline is refused" in refused.stderr and "Traceback" not in refused.stderr


def test_pipeline_yaml_guards_classes_paths_and_run_ids(farm, tmp_path: Path) -> None:
    import dataclasses
    import subprocess
    import sys

    from syncline.pipeline.graph import PipelineError
    from syncline.pipeline.heads import heads_by_representation
    from syncline.pipeline.local import resolve_run
    from syncline.pipeline.spec import load_pipeline, write_pipeline

    p, _, head = farm
    flipped = dataclasses.replace(head, name="flipped", classes=list(reversed(head.classes)))
    a = str(head.save(p.root / "models").relative_to(p.root))
    b = str(flipped.save(p.root / "models").relative_to(p.root))
    spec = {"name": "guard", "segmenter": SEGMENTER, "field": "action", "sources": REPS, "stages": [
        {"name": "hear", "use": "head", "model": a, "inputs": {"x": "source.audio"}, "modalities": ["audio"],
         "on_missing": "fallback:other"},
        {"name": "other", "use": "head", "model": b, "inputs": {"x": "source.video"}, "modalities": ["video"]},
        {"name": "decide", "use": "decision", "input": "hear.probabilities"}]}
    with pytest.raises(PipelineError, match="its fallback other gives classes"):
        load_pipeline(p, write_pipeline(tmp_path / "flip.yaml", spec))
    outside = tmp_path / "elsewhere.json"
    outside.write_text((p.root / a).read_text())
    spec["stages"][1]["model"] = str(outside)
    with pytest.raises(PipelineError, match="is outside the project"):
        load_pipeline(p, write_pipeline(tmp_path / "out.yaml", spec))
    (p.root / "models" / "junk.json").write_text('{"name": "x", "fitted_on": null}')
    assert head.model_id in heads_by_representation(p.root / "models")[REPS["audio"]]  # junk.json skipped
    res = L.run_pipeline(p, _pipeline(p, head), representations=REPS, segmenter=SEGMENTER, field_name="action")
    assert resolve_run(p, res.run_id[:12]) == res.run_id
    with pytest.raises(ValueError, match="no run 'nope' to resume"):
        resolve_run(p, "nope")
    out = subprocess.run([sys.executable, "-m", "syncline.cli", "representations", "-p", str(p.root)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # a broken file under models/ does not break the listing
