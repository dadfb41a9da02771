"""Unit tests for VAD post-processing, the transcript lag score and text normalisation."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from syncline.align import forced, transcript, vad
from syncline.align.types import Signal


def test_hysteresis_keeps_speech_on_between_thresholds() -> None:
    p = np.array([0.1, 0.6, 0.45, 0.4, 0.2, 0.4, 0.6])
    assert vad.hysteresis(p, 0.5, 0.35).tolist() == [False, True, True, True, False, False, True]


def test_segments_bridge_short_pauses_and_drop_short_blips() -> None:
    rate = vad.VAD_RATE / vad.WINDOW  # 31.25 Hz
    p = np.zeros(200, np.float32)
    p[20:60] = 0.9  # 1.28 s of speech
    p[63:100] = 0.9  # after a 96 ms pause: bridged
    p[150:152] = 0.9  # 64 ms blip: dropped
    spans = vad.segments_from_probability(Signal(0, rate, p), min_speech_ms=120, min_silence_ms=200)
    assert len(spans) == 1
    t0, t1 = spans[0]
    assert abs(t0 - 20 / rate * 1e9) < 40e6 and abs(t1 - 100 / rate * 1e9) < 40e6


def test_sequence_model_matches_streaming_model() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 2) / 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0) + 0.01 * rng.standard_normal(len(t)))
    x = x.astype(np.float32)
    np.testing.assert_allclose(vad.window_probabilities(x), vad.streaming_probabilities(x), atol=1e-5)


def test_vad_model_names_its_file_and_hash() -> None:
    info = vad.vad_model()
    assert info.name == "silero-vad" and info.file == vad.MODEL_FILE
    assert info.sha256 == hashlib.sha256(vad.model_path().read_bytes()).hexdigest()


def test_resampling_to_16k_keeps_duration() -> None:
    x = np.zeros((2, 44100), np.float32)
    assert len(vad.mono_16k(x, 44100)) == 16000


def _phi_reference(s: np.ndarray, c: np.ndarray, d: int) -> float:
    """Pearson correlation over the cells where the shifted cue mask overlaps the audio."""
    pairs = [(s[i + d], c[i]) for i in range(len(c)) if 0 <= i + d < len(s)]
    x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def test_phi_curve_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(3)
    s = (rng.random(120) > 0.5).astype(float)
    c = (rng.random(40) > 0.4).astype(float)
    curve = transcript._phi_curves(s, c[None, :], -30, 110)[0]
    for k, d in enumerate(range(-30, 111)):
        inside = sum(c[i] for i in range(len(c)) if 0 <= i + d < len(s))
        if inside >= transcript.MIN_INSIDE * c.sum():
            assert curve[k] == pytest.approx(_phi_reference(s, c, d), abs=1e-9)


def test_cue_problems_counts_inverted_negative_and_overlapping() -> None:
    from syncline.media.transcript import Cue

    cues = [Cue(-5, 10, "a"), Cue(5, 20, "b"), Cue(30, 25, "c"), Cue(40, 40, "d")]
    spans, problems = transcript._cue_problems(cues)
    assert spans == [(-5, 10), (5, 20)]
    assert problems == {"n_cues": 4, "n_cues_inverted_or_empty": 2, "n_cues_negative": 1, "n_cues_overlapping": 1}


def test_normalise_spells_numbers_and_drops_punctuation() -> None:
    assert forced.normalise("Stall 12, at 3:05 — don't!") == [
        "stall", "twelve", "at", "three", "five", "don't"]
    assert forced.spell_number(1042) == ["one", "thousand", "forty", "two"]
