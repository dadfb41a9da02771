"""The demo world's sensor, event-log and transcript pairs: never a confident wrong answer
(ALIGNED more than 50 ms from the planted truth), and the memos with enough cues align."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syncline.align.run import align
from syncline.align.types import Verdict
from syncline.demo.world import generate_world
from syncline.ingest import ingest
from syncline.project import init_project

KINDS = ("sensor_video", "events_video", "transcript_audio")
TOLERANCE_NS = 50_000_000


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, Any, int | None]]:
    world = tmp_path_factory.mktemp("world")
    generate_world(world, seed=7)
    truth = json.loads((world / "ground_truth.json").read_text())["assets"]
    project = init_project(tmp_path_factory.mktemp("proj") / "p")
    ingest(project, [world / "data"], manifest_path=world / "manifest.yaml")
    report = align(project)
    out = []
    for r in report.results:
        if r.kind not in KINDS:
            continue
        rel = "data/" + Path(r.target_path).as_posix().split("/data/")[-1]
        lag = 0 if r.kind == "transcript_audio" else truth.get(rel, {}).get("sync", {}).get("lag_ns")
        out.append((r.kind, Path(r.target_path).name, r.estimate, lag))
    return out


def test_no_confident_wrong_answer(outcomes: list[tuple[str, str, Any, int | None]]) -> None:
    for kind, name, est, lag in outcomes:
        if est.verdict is Verdict.ALIGNED:
            assert lag is not None, f"{kind} {name}: aligned without a planted truth"
            assert abs(est.lag_ns - lag) <= TOLERANCE_NS, f"{kind} {name}: {est.lag_ns} vs truth {lag}"


def test_memos_with_three_or_more_cues_align(outcomes: list[tuple[str, str, Any, int | None]]) -> None:
    memos = [(name, est) for kind, name, est, _ in outcomes if kind == "transcript_audio"]
    aligned = {name for name, est in memos if est.verdict is Verdict.ALIGNED}
    assert len(memos) >= 6
    assert len(aligned) >= 3, [(n, e.reason) for n, e in memos]  # memo-01 (3 cues), memo-02, memo-04
    assert not [n for n, e in memos if e.verdict is Verdict.NO_PLAUSIBLE_ALIGNMENT], "a memo's own transcript"


def test_sensor_and_event_verdicts_name_what_they_tried(outcomes: list[tuple[str, str, Any, int | None]]) -> None:
    for kind, name, est, _ in outcomes:
        if kind == "sensor_video" and "n_ref_events" in est.details:
            assert "column" in est.details, name
        if kind == "events_video" and "n_ref_events" in est.details:
            assert "event_type" in est.details, name
