"""The built-in speech representation: per second, the Silero VAD's mean and peak speech
probability — high where espeak-ng speaks, low in the silence around it, and equal to the VAD's
own window probabilities aggregated by hand."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile
from mediafiles import make_speech_wav

from syncline.align.vad import VAD_RATE, WINDOW, load_16k, window_probabilities
from syncline.represent.registry import BUILTINS, encoders
from syncline.represent.speech import VadEncoder

pytestmark = pytest.mark.functional


def test_speech_probability_per_second_follows_the_speech(tmp_path: Path) -> None:
    speech = make_speech_wav(tmp_path, "say.wav", text="the cow in stall three is lying down and will not get up")
    x, rate = soundfile.read(speech, dtype="float32")
    pad = np.zeros(3 * rate, np.float32)
    full = np.concatenate([pad, x, pad])
    path = tmp_path / "padded.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((full * 32767).astype(np.int16).tobytes())
    enc = VadEncoder.load()
    assert enc is not None and enc.representation.representation_id in encoders([], tmp_path)
    assert enc.representation.representation_id not in BUILTINS  # offered only when silero-vad is installed
    f = enc.encode(path)
    seconds = np.array(f.t0_ns) // 1_000_000_000
    mean = f.vectors[:, 0]
    speech_from, speech_to = 3.0, 3.0 + len(x) / rate
    inside = (seconds >= np.ceil(speech_from)) & (seconds + 1 <= np.floor(speech_to))
    outside = (seconds + 1 <= speech_from - 0.5) | (seconds >= speech_to + 0.5)
    assert inside.sum() >= 2 and outside.sum() >= 4
    assert mean[inside].mean() > 0.5 and mean[outside].max() < 0.2
    assert np.all(f.vectors[:, 1] >= f.vectors[:, 0])  # the peak is at least the mean
    x16, _ = load_16k(path)  # by hand: each window to the second its centre falls in
    probs = window_probabilities(x16)
    for k, sec in enumerate(seconds):
        mine = [p for i, p in enumerate(probs) if min((i * WINDOW + WINDOW // 2) // VAD_RATE,
                                                        len(f.t0_ns) - 1) == sec]
        assert f.vectors[k, 0] == pytest.approx(np.mean(mine), abs=1e-6)
        assert f.vectors[k, 1] == pytest.approx(np.max(mine), abs=1e-6)
