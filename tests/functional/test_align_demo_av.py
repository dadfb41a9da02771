"""Audio <-> video and video <-> video alignment on the generated farm demo world.

The world plants the truth: each stall microphone's and each second camera's lag against its
stall-day's cam1, one sparse stall-day with too few cues to tell, and one microphone filed under
the wrong stall-day. ``syncline align`` (detect only) must find the planted lags within a frame
where cues exist, never answer ALIGNED with a wrong lag, and never align the mis-attached mic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syncline.align.run import AlignReport, align
from syncline.align.types import Verdict
from syncline.demo.world import generate_world
from syncline.ingest import ingest
from syncline.project import init_project

NS = 1_000_000_000
KINDS = ("audio_video", "video_video")
MISATTACHED = "stall-a-2026-05-02_mic1.wav"


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[AlignReport, dict[str, Any]]:
    root = tmp_path_factory.mktemp("demo_av")
    world = generate_world(root / "world", seed=7)
    project = init_project(root / "project", template="farm")
    ingest(project, [world.out_dir / "data"], manifest_path=world.manifest_path)
    report = align(project, apply=False)
    truth = json.loads((world.out_dir / "ground_truth.json").read_text(encoding="utf-8"))
    return report, truth


def _truth_by_name(truth: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(p).name: a for p, a in truth["assets"].items()}


def _results(report: AlignReport, truth: dict[str, Any]) -> list[tuple[str, Any, dict[str, Any]]]:
    """(file name, pair result, the file's planted sync truth) for the AV and video pairs."""
    by_name = _truth_by_name(truth)
    out = []
    for r in report.results:
        if r.kind not in KINDS:
            continue
        name = Path(r.target_path).name
        assert name in by_name, name
        out.append((name, r, by_name[name]["sync"]))
    return out


def test_every_av_and_video_pair_is_judged(outcome: tuple[AlignReport, dict[str, Any]]) -> None:
    report, truth = outcome
    results = _results(report, truth)
    kinds = {r.kind for _, r, _ in results}
    assert kinds == set(KINDS)
    assert len(results) >= 8


def test_no_pair_is_aligned_with_a_wrong_lag(outcome: tuple[AlignReport, dict[str, Any]]) -> None:
    report, truth = outcome
    for name, r, sync in _results(report, truth):
        est = r.estimate
        if est.verdict is not Verdict.ALIGNED:
            continue
        assert sync["expect"] == "aligned", (name, est.reason)
        assert est.lag_ns is not None
        assert abs(est.lag_ns - sync["lag_ns"]) <= 100_000_000, (name, est.lag_ns, sync["lag_ns"])


def test_pairs_with_cues_are_aligned_within_a_frame(outcome: tuple[AlignReport, dict[str, Any]]) -> None:
    report, truth = outcome
    by_name = _truth_by_name(truth)
    within = {"audio_video": 0, "video_video": 0}
    for _name, r, sync in _results(report, truth):
        est = r.estimate
        if est.verdict is not Verdict.ALIGNED or sync["expect"] != "aligned":
            continue
        fps = by_name[Path(sync["reference"]).name]["video"]["fps"]
        if abs(est.lag_ns - sync["lag_ns"]) <= NS // fps:
            within[r.kind] += 1
    assert within["audio_video"] >= 2, within  # of 3 microphones with dense cues
    assert within["video_video"] >= 2, within  # of 3 second cameras with dense cues


def test_the_sparse_stall_day_and_the_misattached_mic_are_not_aligned(
    outcome: tuple[AlignReport, dict[str, Any]]
) -> None:
    report, truth = outcome
    seen = set()
    for name, r, sync in _results(report, truth):
        if sync["expect"] in ("abstain", "no_plausible_alignment"):
            assert r.estimate.verdict is not Verdict.ALIGNED, (name, r.estimate.reason)
            assert r.estimate.lag_ns is None
            seen.add(name)
    assert MISATTACHED in seen
    assert len(seen) >= 3  # the mis-attached mic, and the sparse day's mic and second camera
