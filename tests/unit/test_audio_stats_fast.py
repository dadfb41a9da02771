"""``audio_stats`` computed the cheap way equals the statistics it computed before.

The reference is the previous body of ``audio_stats`` (float64 mean of squares per frame, the
clipped share counted over every sample), kept here verbatim. The clipped shares and DC offsets
must be equal to the bit, frame levels within float32 rounding (1e-4 dB), and the defect runs
the audit reports identical: on signals with planted dropouts, clipping at both rails, samples
exactly at and just under the clip level, one clipping channel of several, NaN samples, and
lengths that end inside a 10 ms frame and inside a block of frames.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from syncline.audit.audio_quality import CLIP_LEVEL, FRAME_S, AudioStats, audio_stats


def reference_stats(samples: NDArray[np.float32], rate: int, start_ns: int) -> AudioStats:
    x = np.atleast_2d(np.asarray(samples, np.float32))
    frame = max(1, int(round(rate * FRAME_S)))
    n = x.shape[1] // frame
    f = x[:, :n * frame].reshape(x.shape[0], n, frame)
    power = (f.astype(np.float64) ** 2).mean(axis=2)
    with np.errstate(divide="ignore"):
        rms_db = 10 * np.log10(np.maximum(power.max(axis=0), 1e-20))
    clipped = (np.abs(f) >= CLIP_LEVEL).mean(axis=2).max(axis=0)
    energy = power.mean(axis=0)
    lo, hi = np.percentile(energy, [10, 95])
    snr = float(10 * np.log10(max(hi, 1e-20) / max(lo, 1e-20)))
    return AudioStats(rate, start_ns, frame, rms_db, clipped.astype(np.float64), x.mean(axis=1).astype(np.float64),
                      snr, float(10 * np.log10(max(lo, 1e-20))))


def assert_same_stats(got: AudioStats, want: AudioStats) -> None:
    assert (got.rate, got.start_ns, got.frame_len) == (want.rate, want.start_ns, want.frame_len)
    np.testing.assert_array_equal(got.clipped, want.clipped)
    np.testing.assert_array_equal(got.dc, want.dc)
    np.testing.assert_allclose(got.rms_db, want.rms_db, rtol=0, atol=1e-4)
    assert got.snr_db == pytest.approx(want.snr_db, abs=1e-4)
    assert got.floor_db == pytest.approx(want.floor_db, abs=1e-4)
    assert got.defect_runs() == want.defect_runs()


def planted(rate: int, seconds: float, channels: int, seed: int) -> NDArray[np.float32]:
    """Room noise and a tone, a digital dropout, a clipped burst on the first channel, a
    burst pinned at -1, samples exactly at the clip level and one float step under it."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    x = 0.2 * np.sin(2 * np.pi * 300 * t) + rng.normal(0, 0.01, (channels, n))
    x[:, int(1.0 * rate):int(1.6 * rate)] = 0.0
    burst = slice(int(2.0 * rate), int(2.3 * rate))
    x[0, burst] = np.clip(3 * np.sin(2 * np.pi * 200 * t[burst]), -1, 1)
    x[:, int(2.8 * rate):int(2.85 * rate)] = -1.0
    x[-1, int(3.2 * rate):int(3.2 * rate) + 40] = CLIP_LEVEL
    x[-1, int(3.5 * rate):int(3.5 * rate) + 40] = np.nextafter(np.float32(CLIP_LEVEL), np.float32(0))
    return x.astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2, 3])
def test_cheap_statistics_equal_the_float64_reference(rate: int, channels: int) -> None:
    x = planted(rate, 4.0 + 0.0137, channels, seed=rate + channels)  # ends inside a frame and a block
    got, want = audio_stats(x, rate, 123), reference_stats(x, rate, 123)
    assert_same_stats(got, want)
    runs = got.defect_runs()
    assert runs["silent"] and runs["clipped"], "the planted defects are found"


def test_only_frames_that_reach_the_clip_level_have_a_clipped_share() -> None:
    rate = 16000
    x = planted(rate, 3.0, 2, seed=1)
    got = audio_stats(x, rate, 0)
    frame = got.frame_len
    peak = np.abs(x[:, :len(got.clipped) * frame]).reshape(2, -1, frame).max(axis=(0, 2))
    assert np.all(got.clipped[peak < CLIP_LEVEL] == 0.0)
    assert np.all(got.clipped[peak >= CLIP_LEVEL] > 0.0)


def test_nan_samples_do_not_hide_clipping_in_their_frame() -> None:
    rate = 16000
    x = planted(rate, 3.0, 2, seed=2)
    x[0, int(2.1 * rate)] = np.nan      # inside the clipped burst
    x[1, int(0.5 * rate)] = np.nan      # in an ordinary frame
    x[1, int(0.5 * rate) + 1] = 1.0
    got, want = audio_stats(x, rate, 0), reference_stats(x, rate, 0)
    np.testing.assert_array_equal(got.clipped, want.clipped)
    np.testing.assert_allclose(got.rms_db, want.rms_db, rtol=0, atol=1e-4)  # and NaN where it has NaN
    assert got.clipped[int(0.5 * rate) // got.frame_len] > 0


def test_silence_and_a_file_without_clipping() -> None:
    rate = 22050
    for x in (np.zeros((1, rate), np.float32), (0.5 * np.ones((2, rate + 5))).astype(np.float32)):
        assert_same_stats(audio_stats(x, rate, 0), reference_stats(x, rate, 0))
