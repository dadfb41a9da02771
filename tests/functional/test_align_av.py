"""Audio<->video offsets on real encoded clips with planted shifts (``demo.synth_av``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from syncline.align.av import estimate_av_lag
from syncline.align.signals import motion_energy, motion_onset, onset_envelope
from syncline.align.types import Verdict
from syncline.demo.synth_av import SynthAV, make_av_clip, make_one_frame_video, transcode_audio

pytestmark = pytest.mark.functional

NS = 1_000_000_000
SIZE = (160, 90)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[int, SynthAV]:
    folder = tmp_path_factory.mktemp("av")
    return {
        25: make_av_clip(folder, seed=11, fps=25, size=SIZE, seconds=15, shift_s=3.137,
                         audio_format="wav", events_per_min=40),
        30: make_av_clip(folder, seed=12, fps=30, size=SIZE, seconds=15, shift_s=-2.71,
                         audio_format="wav", events_per_min=40),
    }


@pytest.mark.parametrize("fps", [25, 30])
@pytest.mark.parametrize("fmt", ["wav", "m4a", "mp3", "ogg", "webm"])
def test_recovers_a_planted_shift_within_one_frame(clips: dict[int, SynthAV], fps: int, fmt: str) -> None:
    clip = clips[fps]
    audio = clip.audio if fmt == "wav" else transcode_audio(clip.audio, fmt)
    est = estimate_av_lag(clip.video, audio)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None
    assert abs(est.lag_ns - clip.shift_ns) <= NS / fps
    assert abs(est.lag_ns - clip.shift_ns) <= 10_000_000  # codec priming handled: no 20+ ms bias
    assert est.n_events is not None and est.n_events >= 5
    json.dumps(est.details)


@pytest.mark.parametrize("fmt", ["m4a", "ogg"])
def test_recovers_the_desync_of_a_file_with_its_own_audio_track(tmp_path: Path, fmt: str) -> None:
    clip = make_av_clip(tmp_path, seed=13, fps=25, size=SIZE, seconds=15, shift_s=0.42,
                        audio_format=fmt, events_per_min=40, mux=True)
    assert clip.audio == clip.video
    est = estimate_av_lag(clip.video, clip.video)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and abs(est.lag_ns - clip.shift_ns) <= 10_000_000


def test_signals_peak_at_the_planted_event_times(clips: dict[int, SynthAV]) -> None:
    clip = clips[25]
    frame_s = 1 / clip.fps
    for sig in (motion_energy(clip.video), motion_onset(clip.video)):
        assert sig.rate_hz == pytest.approx(25.0)
        t = sig.times_ns() / NS
        for ev in clip.video_events_ns:
            near = (t >= ev / NS - frame_s) & (t <= ev / NS + 2 * frame_s)
            assert sig.values[near].max() > 5 * np.median(sig.values)
    env = onset_envelope(clip.audio)
    t = env.times_ns() / NS
    for ev in clip.audio_events_ns:
        near = np.abs(t - ev / NS) <= 0.01
        assert env.values[near].max() > 10 * np.median(env.values)


def test_wrong_entity_audio_is_never_aligned(clips: dict[int, SynthAV]) -> None:
    est = estimate_av_lag(clips[25].video, clips[30].audio)
    assert est.verdict in (Verdict.NO_PLAUSIBLE_ALIGNMENT, Verdict.ABSTAIN), est.reason
    assert est.lag_ns is None


@pytest.mark.parametrize(("kind", "expected"), [
    ("no_cue_static", "static video"),
    ("no_cue_noise", "no onsets in audio"),
    ("silent", "silent audio"),
    ("no_cue_motion", None),
])
def test_clips_without_sync_cues_give_no_lag(tmp_path: Path, kind: str, expected: str | None) -> None:
    clip = make_av_clip(tmp_path, seed=21, kind=kind, size=SIZE, seconds=15, shift_s=1.0)
    est = estimate_av_lag(clip.video, clip.audio)
    assert est.verdict in (Verdict.ABSTAIN, Verdict.NO_PLAUSIBLE_ALIGNMENT), est.reason
    assert est.lag_ns is None
    if expected is not None:
        assert est.verdict is Verdict.ABSTAIN and expected in est.reason


@pytest.mark.parametrize(("kind", "seed"), [("long", 31), ("toggle", 32), ("double", 33)])
def test_ambiguous_edges_are_right_or_flagged_never_confidently_wrong(tmp_path: Path, kind: str,
                                                                      seed: int) -> None:
    clip = make_av_clip(tmp_path, seed=seed, kind=kind, size=SIZE, seconds=20, shift_s=-1.3)
    est = estimate_av_lag(clip.video, clip.audio)
    if est.verdict is Verdict.ALIGNED:
        assert est.lag_ns is not None and abs(est.lag_ns - clip.shift_ns) <= NS / clip.fps
    elif est.verdict is Verdict.AMBIGUOUS:
        assert any(abs(c.lag_ns - clip.shift_ns) <= NS / clip.fps for c in est.candidates)
    if kind == "double":  # two flashes a fixed time apart, one sound: both lags fit equally
        assert est.verdict is Verdict.AMBIGUOUS, est.reason
        assert est.lag_ns is None and len(est.candidates) >= 2


def test_one_frame_video_abstains(tmp_path: Path, clips: dict[int, SynthAV]) -> None:
    est = estimate_av_lag(make_one_frame_video(tmp_path), clips[25].audio)
    assert est.verdict is Verdict.ABSTAIN and "1 frame" in est.reason


def test_bad_inputs_abstain_with_a_reason_instead_of_crashing(tmp_path: Path, clips: dict[int, SynthAV]) -> None:
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"not a movie" * 50)
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(clips[25].video.read_bytes()[:3000])
    cases = [
        (garbage, clips[25].audio),
        (truncated, clips[25].audio),
        (tmp_path / "missing.mp4", clips[25].audio),
        (clips[25].audio, clips[25].audio),  # audio given as the video
        (clips[25].video, clips[25].video),  # a video without an audio track
        (clips[25].video, garbage),
    ]
    for video, audio in cases:
        est = estimate_av_lag(video, audio)
        assert est.verdict is Verdict.ABSTAIN, (video.name, audio.name, est.reason)
        assert est.reason.startswith("cannot determine:") and "\n" not in est.reason
