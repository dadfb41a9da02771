"""Audio input noise from one decode: silent, clipped, DC offset and low SNR.

The file is decoded once (``media.audio.read_audio``, edit lists and priming honoured) and cut
into 10 ms frames as a ``[frames, samples]`` view — no per-frame Python loop:

* *silent*: frame RMS below -60 dBFS for at least 0.3 s (a dropout, a muted input: live rooms
  have a noise floor well above that). A file where silence is how sounds are separated —
  three or more such runs making up over 15 % of it: gated or synthetic speech with digital
  silence between sentences — has no dropouts to find (a flaky input that drops out that often
  is then missed: a limit of judging one file alone);
* *clipped*: at least 5 % of a frame's samples at or above 0.95 of full scale in any channel
  (clipped flat tops come back from lossy codecs rippled, not flat, so no exact-peak test);
* *DC offset*: a channel's mean beyond ±0.01 of full scale (-40 dB), for the whole file;
* *low SNR*: the loud frames (95th percentile of energy) less than 10 dB above the noise floor
  (10th percentile), for the whole file — information, a capture condition worth a slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from syncline.audit.spans import close_gaps, runs

FRAME_S = 0.01
SILENT_DB, SILENT_MIN_S = -60.0, 0.3
CLIP_LEVEL, CLIP_SHARE = 0.95, 0.05
DC_LIMIT, SNR_MIN_DB = 0.01, 10.0
GATED_RUNS, GATED_SHARE = 3, 0.15


@dataclass(frozen=True)
class AudioStats:
    rate: int
    start_ns: int
    frame_len: int                 # samples per frame
    rms_db: NDArray[np.float64]    # per frame, loudest channel
    clipped: NDArray[np.float64]   # per frame, share of samples at >= 0.95 full scale (any channel)
    dc: NDArray[np.float64]        # per channel, mean
    snr_db: float
    floor_db: float                # the 10th percentile of frame energy

    def frame_ns(self, i: int) -> int:
        """Asset-local time of the start of frame ``i``."""
        return self.start_ns + i * self.frame_len * 1_000_000_000 // self.rate

    def defect_runs(self) -> dict[str, list[tuple[int, int]]]:
        per_s = 1.0 / FRAME_S
        silent_runs = runs(self.rms_db < SILENT_DB, int(np.ceil(SILENT_MIN_S * per_s)))
        share = sum(b - a for a, b in silent_runs) / max(1, len(self.rms_db))
        gated = len(silent_runs) >= GATED_RUNS and share > GATED_SHARE  # silence separates its sounds
        silent = np.zeros_like(self.rms_db, bool) if gated else self.rms_db < SILENT_DB
        return {"silent": runs(silent, int(np.ceil(SILENT_MIN_S * per_s))),
                "clipped": runs(close_gaps(self.clipped >= CLIP_SHARE, 5), 1)}  # one clipped sound, not its peaks


def audio_stats(samples: NDArray[np.float32], rate: int, start_ns: int) -> AudioStats:
    """Statistics of ``samples`` (channels × n, float in [-1, 1]) in 10 ms frames.

    Frame power is a float32 dot product of each frame with itself (a few ulps from a float64
    mean of squares, so a level at -60.000 dB may land either side; nothing else moves), and the
    clipped share is counted only in frames whose peak reaches the clip level: a file without
    clipping costs one max and one min over its samples."""
    x = np.atleast_2d(np.asarray(samples, np.float32))
    frame = max(1, int(round(rate * FRAME_S)))
    n = x.shape[1] // frame
    if n == 0:
        raise ValueError("shorter than one 10 ms frame")
    f = x[:, :n * frame].reshape(x.shape[0], n, frame)
    power = np.einsum("cnk,cnk->cn", f, f).astype(np.float64) / frame
    with np.errstate(divide="ignore"):
        rms_db = 10 * np.log10(np.maximum(power.max(axis=0), 1e-20))
    energy = power.mean(axis=0)
    lo, hi = np.percentile(energy, [10, 95])
    snr = float(10 * np.log10(max(hi, 1e-20) / max(lo, 1e-20)))
    return AudioStats(rate, start_ns, frame, rms_db, _clipped_share(f), x.mean(axis=1).astype(np.float64),
                      snr, float(10 * np.log10(max(lo, 1e-20))))


_CLIP_BLOCK = 64  # frames per block when looking for the frames that reach the clip level


def _reaching(blocks: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Per block (last axis: its samples), whether any channel reaches ±CLIP_LEVEL (or holds a
    NaN, which max and min pass on: such a block is looked at sample by sample)."""
    below = (blocks.max(axis=-1) < CLIP_LEVEL) & (blocks.min(axis=-1) > -CLIP_LEVEL)
    return np.asarray(~below.all(axis=0), np.bool_)


def _clipped_share(f: NDArray[np.float32]) -> NDArray[np.float64]:
    """Per frame, the share of samples at or above ``CLIP_LEVEL`` full scale (the most of any
    channel): blocks of frames first, then frames, then the samples of the frames that reach it."""
    c, n, k = f.shape
    share = np.zeros(n, np.float64)
    whole = n // _CLIP_BLOCK * _CLIP_BLOCK
    maybe = np.ones(n, bool)
    if whole:
        maybe[:whole] = np.repeat(_reaching(f[:, :whole].reshape(c, -1, _CLIP_BLOCK * k)), _CLIP_BLOCK)
    idx = np.flatnonzero(maybe)
    if idx.size:
        idx = idx[_reaching(f[:, idx])]
    if idx.size:
        share[idx] = (np.abs(f[:, idx]) >= CLIP_LEVEL).mean(axis=2).max(axis=0)
    return share


def read_stats(path: Path) -> AudioStats:
    from syncline.media.audio import read_audio

    samples, rate, start_ns = read_audio(Path(path))
    return audio_stats(samples, rate, start_ns)
