"""Pair planning and shot-change detection (pure functions)."""

from __future__ import annotations

import numpy as np

from syncline.align.plan import plan_pairs
from syncline.align.segment import shot_changes


def _a(aid: str, modality: str, path: str, camera: str | None = None) -> dict[str, object]:
    return {"asset_id": aid, "modality": modality, "source_path": path, "camera": camera}


def test_everything_aligns_to_the_first_camera_and_memos_only_to_their_transcripts() -> None:
    assets = [_a("v2", "video", "/d/cam2.mp4", "cam2"), _a("v1", "video", "/d/cam1.mp4", "cam1"),
              _a("m", "audio", "/d/mic.wav"), _a("memo", "audio", "/d/memo-1.m4a"),
              _a("t", "transcript", "/d/memo-1.srt"), _a("s", "sensor", "/d/th.csv"), _a("i", "image", "/d/p.jpg"),
              _a("ev", "events", "/d/log.jsonl")]
    got = [(p.kind, p.reference["asset_id"], p.target["asset_id"], p.moves) for p in plan_pairs(assets)]
    assert got == [("transcript_audio", "t", "memo", "reference"), ("audio_video", "v1", "m", "target"),
                   ("events_video", "v1", "ev", "target"), ("sensor_video", "v1", "s", "target"),
                   ("video_video", "v1", "v2", "target"), ("sensor_events", "ev", "s", "target")]


def test_an_entity_without_video_only_aligns_transcripts_and_sensors_to_its_event_log() -> None:
    assets = [_a("m", "audio", "/d/mic.wav"), _a("s", "sensor", "/d/th.csv")]
    assert plan_pairs(assets) == []
    assets += [_a("ev2", "events", "/d/b.jsonl"), _a("ev1", "events", "/d/a.jsonl"), _a("s0", "sensor", "/d/x.csv")]
    got = [(p.kind, p.reference["asset_id"], p.target["asset_id"], p.moves) for p in plan_pairs(assets)]
    assert got == [("sensor_events", "ev1", "s", "target"), ("sensor_events", "ev1", "s0", "target")]


def test_shot_changes_are_the_isolated_jumps_in_frame_difference() -> None:
    rng = np.random.default_rng(0)
    v = rng.uniform(1.0, 2.0, 300)
    v[[50, 180]] = [40.0, 55.0]
    assert shot_changes(v).tolist() == [50, 180]
    assert shot_changes(rng.uniform(1.0, 2.0, 300)).tolist() == []
