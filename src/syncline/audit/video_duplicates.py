"""Near-duplicate videos: the same recording filed twice (re-encoded, rescaled, trimmed).

A still-image hash is not enough for video: a fixed barn camera shows nearly the same picture in
every pen, so one frame of one pen's clip "matches" the next pen's. What a copy shares and a
different recording does not is *when things change*. Each video is reduced, in one decode at a
32 × 18 grey thumbnail (libswscale scales in the decoder's thread), to two signals on a 0.5 s grid:

* a *change profile* — the mean absolute difference between consecutive thumbnails, summed per
  bin, on a log scale (one hard cut or black-out must not decide the match): the timing of
  motion, which re-encoding, rescaling, frame-rate and brightness changes keep;
* an *appearance* per bin — the bin's mean thumbnail.

A copy trimmed at an arbitrary point puts every bin edge somewhere else; the change profile is
therefore also kept with its bins started 0.1-0.4 s later, and the best phase is searched too.

Two videos are near-duplicates when, at the best lag (a trimmed copy starts later), their change
profiles correlate at ``PROFILE_R`` or more over at least ``MIN_OVERLAP_S`` of overlap and their
appearances at that lag correlate at ``LOOK_R`` or more on average. A video without motion has
no change profile to compare and is never called a duplicate (the check says how many there were).

Measured on the demo world's ten camera clips (fixed cameras, similar barns): distinct clips
correlate at most 0.75 in change profile (appearance up to 0.91, so neither signal alone would
do), a copy trimmed by 3.27 s, rescaled, brightened and re-encoded at CRF 32 at 1.00 (appearance
0.91); the tests trim generated clips anywhere (0.7, 1.15, 2.3, 3.35 s) and re-time them.
The lag search is a loop over lags (fine for clips of minutes; hour-long streams would want an
FFT cross-correlation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from syncline.media.video import video_frames

BIN_S, THUMB = 0.5, (32, 18)
PROFILE_R, LOOK_R, MIN_OVERLAP_S = 0.9, 0.85, 10.0
PHASES = (0.0, 0.1, 0.2, 0.3, 0.4)  # seconds: a copy trimmed between bin edges matches one of them
MIN_MOTION = 0.1  # 95th percentile of the (log) change profile over its median: below, "no motion" (noise only)


@dataclass(frozen=True)
class VideoSignature:
    profiles: NDArray[np.float64]  # phases x bins: the (log) change profile, bins started PHASES apart
    looks: NDArray[np.float64]     # per bin (phase 0), the mean thumbnail (flattened), standardised

    @property
    def profile(self) -> NDArray[np.float64]:
        return np.asarray(self.profiles[0], np.float64)

    @property
    def moving(self) -> bool:
        p = self.profile[1:]  # the first bin holds the first frame, which has no change
        return len(p) > 1 and float(np.percentile(p, 95) - np.median(p)) > MIN_MOTION


def signature(path: Path) -> VideoSignature:
    """Decode once at thumbnail size; bins by presentation time, at every phase."""
    times: list[float] = []
    thumbs: list[NDArray[np.generic]] = []
    for pts_ns, frame in video_frames(path):
        if pts_ns is None:
            continue
        times.append(pts_ns / 1e9)
        thumbs.append(frame.reformat(width=THUMB[0], height=THUMB[1], format="gray").to_ndarray())
    if not thumbs:
        raise ValueError("no decodable video frames")
    t = np.asarray(times) - times[0]
    x = np.stack(thumbs).reshape(len(thumbs), -1).astype(np.float64)
    change = np.zeros(len(x))
    change[1:] = np.abs(np.diff(x, axis=0)).mean(axis=1)
    n = int(t.max() / BIN_S) + 2
    profiles = np.zeros((len(PHASES), n))
    for k, phase in enumerate(PHASES):  # one big cut must not decide the match: a log scale
        at = ((t + phase) / BIN_S + 1e-6).astype(np.int64)  # a frame on a bin edge opens the next bin
        profiles[k] = np.log1p(np.bincount(at, weights=change, minlength=n)[:n])
    bins = (t / BIN_S + 1e-6).astype(np.int64)
    counts = np.maximum(np.bincount(bins, minlength=n), 1)
    looks = np.zeros((n, x.shape[1]))
    np.add.at(looks, bins, x)
    looks /= counts[:, None]
    looks = (looks - looks.mean(axis=1, keepdims=True)) / (looks.std(axis=1, keepdims=True) + 1e-9)
    return VideoSignature(profiles, looks)


def _corr(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def match(a: VideoSignature, b: VideoSignature) -> tuple[float, float, float] | None:
    """(profile r, appearance r, lag of b against a in seconds) at the best lag, when the two
    are near-duplicates; else None. ``a`` at phase 0 against ``b`` at every phase."""
    if not (a.moving and b.moving):
        return None
    need = int(MIN_OVERLAP_S / BIN_S)
    pa = a.profile
    best: tuple[float, int, int] | None = None
    for k, pb in enumerate(b.profiles):
        for lag in range(-(len(pb) - need), len(pa) - need + 1):  # a[i + lag] ~ b[i]
            # from the second bin of each: a first bin holds a first frame (no change) and, in b
            # at a phase, only part of its time
            i0, i1 = max(1, 1 - lag), min(len(pb), len(pa) - lag)
            if i1 - i0 < need:
                continue
            r = _corr(pa[i0 + lag:i1 + lag], pb[i0:i1])
            if best is None or r > best[0]:
                best = (r, lag, k)
    if best is None or best[0] < PROFILE_R:
        return None
    r, lag, k = best
    i0, i1 = max(0, -lag), min(len(b.looks), len(a.looks) - lag)
    look = float(np.mean((a.looks[i0 + lag:i1 + lag] * b.looks[i0:i1]).mean(axis=1)))
    return (r, look, lag * BIN_S + PHASES[k]) if look >= LOOK_R else None
