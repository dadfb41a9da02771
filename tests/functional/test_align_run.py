"""``syncline align`` end to end on real clips with planted offsets: trusted estimates move
clocks (and only those), every verdict is recorded, wrong streams raise findings, tuples
become in sync, words are refined, and the run is pinned to the table versions it read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from syncline.align.run import align
from syncline.align.segment import run_segmenters
from syncline.align.tuples import build_tuples
from syncline.demo.synth_av import make_av_clip
from syncline.demo.synth_speech import make_memo
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

SHIFT_S = 1.48
MEMO_SHIFT_NS = 700_000_000


@pytest.fixture(scope="module")
def aligned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, object, object]:
    data = tmp_path_factory.mktemp("data")
    good = make_av_clip(data, seed=11, seconds=20.0, fps=25, shift_s=SHIFT_S, audio_format="m4a", name="stall")
    other = make_av_clip(data / "other", seed=99, seconds=20.0, fps=25, shift_s=0.0, audio_format="wav", name="x")
    shutil.move(str(other.audio), data / "stray_audio.wav")  # audio of another recording
    shutil.rmtree(data / "other")
    make_memo(data, seed=5, n_utterances=5, shift_ns=MEMO_SHIFT_NS, name="memo")
    (data / "manifest.yaml").write_text(f"""
entities:
  - {{entity_id: e, start_time: "2026-05-01T06:00:00Z"}}
assets:
  - {{path: {good.video.name}, entity_id: e, camera: cam1, start_time: "2026-05-01T06:00:00Z"}}
  - {{path: {good.audio.name}, entity_id: e, mic: mic1, start_time: "2026-05-01T06:00:00Z"}}
  - {{path: stray_audio.wav, entity_id: e, mic: mic2, start_time: "2026-05-01T06:00:00Z"}}
  - {{path: memo.wav, entity_id: e, mic: phone, start_time: "2026-05-01T06:00:03Z"}}
  - {{path: memo.srt, entity_id: e, start_time: "2026-05-01T06:00:03Z"}}
""")
    project = init_project(tmp_path_factory.mktemp("proj") / "p")
    ingest(project, [data], manifest_path=data / "manifest.yaml")
    before = project.catalog().snapshot()
    report = align(project, apply=True)
    return project, report, before


def _by_name(report: object) -> dict[str, object]:
    out = {}
    for r in report.results:  # type: ignore[attr-defined]
        moved = r.target_path if r.moved_id == r.target_id else r.reference_path
        out[Path(moved).name] = r
    return out


def test_the_planted_audio_shift_is_found_within_a_frame_and_moves_only_that_clock(aligned) -> None:  # type: ignore[no-untyped-def]
    project, report, _ = aligned
    r = _by_name(report)["stall_audio.m4a"]
    assert str(r.estimate.verdict) == "aligned"
    assert abs(r.estimate.lag_ns - SHIFT_S * 1e9) < 40e6  # one frame at 25 fps
    audio = project.catalog().read("assets", where="mic = 'mic1'").to_pylist()[0]
    assert audio["clock_source"].startswith("estimated:")
    assert abs(audio["clock_offset_ns"] + SHIFT_S * 1e9) < 40e6  # the audio's content started 1.48 s late
    video = project.catalog().read("assets", where="camera = 'cam1'").to_pylist()[0]
    assert video["clock_offset_ns"] == 0 and video["clock_source"] == "anchor"


def test_audio_from_another_recording_is_never_aligned_and_raises_a_finding(aligned) -> None:  # type: ignore[no-untyped-def]
    project, report, _ = aligned
    r = _by_name(report)["stray_audio.wav"]
    assert str(r.estimate.verdict) in ("no_plausible_alignment", "abstain") and r.estimate.lag_ns is None
    stray = project.catalog().read("assets", where="mic = 'mic2'").to_pylist()[0]
    assert stray["clock_offset_ns"] == 0 and not stray["clock_source"].startswith("estimated:")
    findings = project.catalog().read("findings", where=f"target_id = '{stray['asset_id']}'").to_pylist()
    assert len(findings) == 1 and findings[0]["check"] == "align.audio_video"
    assert stray["asset_id"] in findings[0]["asset_ids"] and len(findings[0]["asset_ids"]) == 2  # provenance


def test_the_transcript_moves_onto_its_speech_and_gets_word_timings(aligned) -> None:  # type: ignore[no-untyped-def]
    project, report, _ = aligned
    r = _by_name(report)["memo.srt"]
    assert str(r.estimate.verdict) == "aligned"
    assert abs(r.estimate.lag_ns + MEMO_SHIFT_NS) < 50e6
    cat = project.catalog()
    srt = cat.read("assets", where="modality = 'transcript'").to_pylist()[0]
    wav = cat.read("assets", where="mic = 'phone'").to_pylist()[0]
    assert abs((srt["clock_offset_ns"] - wav["clock_offset_ns"]) + MEMO_SHIFT_NS) < 50e6
    words = cat.read("words", where=f"asset_id = '{srt['asset_id']}'").to_pylist()
    assert sum(1 for w in words if w["word_index"] == -1) == 5 and sum(1 for w in words if w["word_index"] >= 0) > 10
    assert all(w["subject_ids"] is None or isinstance(w["subject_ids"], list) for w in words)


def test_every_verdict_is_a_clocks_row_and_the_run_is_pinned(aligned) -> None:  # type: ignore[no-untyped-def]
    project, report, before = aligned
    cat = project.catalog()
    rows = cat.read("clocks", where=f"run_id = '{report.run_id}'").to_pylist()
    assert len(rows) == len(report.results)
    assert all({r["asset_id"], r["reference_asset_id"]} == set(r["asset_ids"]) for r in rows)  # provenance
    assert sum(1 for r in rows if r["applied"]) == sum(1 for r in report.results if r.applied)
    run = cat.read("runs", where=f"run_id = '{report.run_id}'").to_pylist()[0]
    assert run["kind"] == "align" and json.loads(run["table_versions_json"]) == before
    assert report.aligned_hours_after >= report.aligned_hours_before


def test_tuples_over_verified_clocks_are_in_sync(aligned) -> None:  # type: ignore[no-untyped-def]
    project, _, _ = aligned
    run_segmenters(project, ["fixed"], window_s=5.0)
    rows = build_tuples(project, segmenter="fixed-5s@2").to_pylist()
    both = [r for r in rows if {"audio", "video"} <= set(r["synced_modalities"])]
    assert both, "no tuple has verified audio and video after alignment"
    stray = [r for r in rows if r["t1_ns"] > 0]  # the stray mic (from entity time 0 on) is not verified
    assert stray and not any(r["in_sync"] for r in stray)


def test_re_ingest_keeps_the_clocks_alignment_verified(aligned, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    project, _, _ = aligned
    cat = project.catalog()
    before = {r["asset_id"]: (r["clock_offset_ns"], r["clock_source"]) for r in cat.read("assets").to_pylist()}
    data = Path(cat.read("assets", where="camera = 'cam1'").to_pylist()[0]["source_path"]).parent
    again = ingest(project, [data], manifest_path=data / "manifest.yaml")
    assert again.new_assets == 0
    after = {r["asset_id"]: (r["clock_offset_ns"], r["clock_source"]) for r in cat.read("assets").to_pylist()}
    assert after == before
    assert any(src.startswith("estimated:") for _, src in after.values())
