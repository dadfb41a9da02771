"""Audio <-> video offset: audio onsets against video motion onsets, by cross-correlation.

``estimate_av_lag(video, audio)`` decodes each stream once (``align.signals``) and calls
``lag_from_signals(ref=motion onset, tgt=audio onset envelope)``. The lag follows
``align.types``: an event at video-local time ``t`` is heard at audio-local ``t + lag_ns``.

``lag_from_signals`` is reusable for any pair of onset-like signals:

1. both signals go onto one grid (box-averaged when coarser, linearly interpolated when
   finer), are smoothed by a Gaussian of half the coarser signal's sample period, and are
   compressed (``x / (x + typical peak)``) so that one loud event cannot outvote the others;
2. normalised cross-correlation (Pearson over the overlapping part, for every lag in
   ``expected ± max_lag``; lags whose overlap is too short are not considered);
3. the best peak is refined by a parabola through its three samples;
4. the evidence is judged: too few onsets -> ABSTAIN; a peak no higher than the peaks of
   block-shuffled targets (a null with the same event statistics but no alignment) ->
   NO_PLAUSIBLE_ALIGNMENT when the peak is within the null's spread (under 3 sd), ABSTAIN when it
   stands out but not enough to trust (3-5 sd) or the events are too few to tell; a second peak
   almost as high -> AMBIGUOUS with the candidates; otherwise ALIGNED, with an uncertainty
   from the spread of matched onset pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av.error
import numpy as np
from scipy.ndimage import gaussian_filter1d, median_filter
from scipy.signal import fftconvolve, find_peaks

from syncline.align.signals import onset_envelope_from_samples, video_signals
from syncline.align.types import Candidate, OffsetEstimate, Signal, Verdict
from syncline.media.audio import read_audio
from syncline.media.types import MediaError

METHOD_AV = "av_onset_xcorr"
MIN_ONSETS = 3
MIN_MATCHED = 3
MIN_OVERLAP_S = 4.0
N_NULL = 30
Z_MIN = 5.0  # peak over the null's mean, in null standard deviations
Z_WEAK = 3.0  # below Z_MIN but at least this: weak evidence, abstain; below it: no plausible alignment
AMBIGUOUS_RATIO = 0.75  # second peak's excess over the null mean, relative to the first's
MAX_CANDIDATES = 4
FLOOR_S = 2.0  # running median of a smoothed signal taken off as its local floor
SKEW = 1.5  # the spread below a floor, scaled to the spread above it
SILENT_AUDIO_LEVEL = 1e-4  # peak amplitude (full scale 1.0) below which audio is silent
_NS = 1_000_000_000


@dataclass(frozen=True)
class _Grid:
    values: np.ndarray  # preprocessed, on the common grid
    k0: int  # sample i is at time (k0 + i) / rate
    onsets: np.ndarray  # onset times, seconds (sub-sample refined)


def _resample(sig: Signal, rate: float) -> tuple[np.ndarray, int]:
    """``sig`` on the grid k / rate (k integer): box-averaged or linearly interpolated."""
    values = np.nan_to_num(np.asarray(sig.values, np.float64))
    t0 = sig.t0_ns / _NS
    t_end = t0 + (len(values) - 1) / sig.rate_hz
    k0, k1 = int(np.ceil(t0 * rate)), int(np.floor(t_end * rate))
    if k1 < k0:
        return np.zeros(0), k0
    grid = np.arange(k0, k1 + 1) / rate
    if sig.rate_hz <= rate * 1.01:
        return np.interp(grid, t0 + np.arange(len(values)) / sig.rate_hz, values), k0
    edges = np.concatenate([[0.0], np.cumsum(values)])
    pos = (np.concatenate([grid - 0.5 / rate, grid[-1:] + 0.5 / rate]) - t0) * sig.rate_hz + 0.5
    area = np.interp(np.clip(pos, 0, len(values)), np.arange(len(values) + 1), edges)
    return np.diff(area) * sig.rate_hz / rate, k0


def _peaks(x: np.ndarray, rate: float, spread: float | None = None) -> np.ndarray:
    """Indices of onsets: local maxima above a robust noise floor and a share of the largest.

    ``spread``: the noise's robust spread about a floor already taken off ``x``; without it, the
    floor is ``x``'s median and the spread its median absolute deviation.
    """
    if len(x) < 3 or not np.any(x > 0):
        return np.zeros(0, np.int64)
    if spread is None:
        med = float(np.median(x))
        mad = float(np.median(np.abs(x - med))) * 1.4826
    else:
        med, mad = 0.0, SKEW * spread  # the upper tail of rectified rises is the longer one
    height = max(med + 6 * mad, 0.1 * float(np.max(x)), 1e-12)
    idx, _ = find_peaks(x, height=height, distance=max(1, int(0.1 * rate)))
    return np.asarray(idx, np.int64)


def _refine(x: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Sub-sample positions of maxima at ``i`` by a parabola through three samples."""
    i = np.clip(i, 1, len(x) - 2)
    a, b, c = x[i - 1], x[i], x[i + 1]
    den = a - 2 * b + c
    safe = np.where(np.abs(den) > 1e-12, den, -1.0)
    off = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / safe, 0.0)
    return np.asarray(i + np.clip(off, -0.5, 0.5), np.float64)


def _prepare(sig: Signal, rate: float, sigma_s: float) -> _Grid:
    raw, k0 = _resample(sig, rate)
    x = gaussian_filter1d(np.maximum(raw, 0.0), sigma_s * rate) if len(raw) else raw
    spread = None
    if len(x) > 2 * int(FLOOR_S * rate):
        # a background's own flicker (a fan, rain) lifts the floor, by more where it is louder:
        # take off the running median, and judge peaks by the spread below it (events dense
        # enough to lift a global median and its deviation do not lift that)
        d = x - median_filter(x, size=int(FLOOR_S * rate) | 1, mode="nearest")
        below = d[d <= 0]
        spread = float(np.median(-below)) * 1.4826 if len(below) else 0.0
        x = np.maximum(d, 0.0)
    idx = _peaks(x, rate, spread)
    if len(idx):
        x = x / (x + float(np.median(x[idx])))
    onsets = (k0 + _refine(x, idx)) / rate if len(idx) else np.zeros(0)
    return _Grid(x, k0, onsets)


def _ncc(ref: np.ndarray, tgt: np.ndarray, lags: np.ndarray, min_overlap: int) -> np.ndarray:
    """Pearson correlation of ref[i] with tgt[i + d] over their overlap, for each index lag d."""
    nr, nt = len(ref), len(tgt)
    full = fftconvolve(tgt, ref[::-1], mode="full")  # full[d + nr - 1] = sum_i ref[i] * tgt[i + d]
    lo = np.maximum(0, -lags)
    hi = np.minimum(nr, nt - lags)
    n = (hi - lo).astype(np.float64)
    ok = n >= min_overlap
    lo, hi = np.where(ok, lo, 0), np.where(ok, hi, 0)
    cr, cr2 = np.concatenate([[0.0], np.cumsum(ref)]), np.concatenate([[0.0], np.cumsum(ref**2)])
    ct, ct2 = np.concatenate([[0.0], np.cumsum(tgt)]), np.concatenate([[0.0], np.cumsum(tgt**2)])
    sr, sr2 = cr[hi] - cr[lo], cr2[hi] - cr2[lo]
    st, st2 = ct[np.clip(hi + lags, 0, nt)] - ct[np.clip(lo + lags, 0, nt)], \
        ct2[np.clip(hi + lags, 0, nt)] - ct2[np.clip(lo + lags, 0, nt)]
    idx = np.clip(lags + nr - 1, 0, len(full) - 1)
    sab = full[idx]
    nn = np.where(ok, n, 1.0)
    cov = sab - sr * st / nn
    var = (sr2 - sr**2 / nn) * (st2 - st**2 / nn)
    r = np.where(ok & (var > 1e-18), cov / np.sqrt(np.maximum(var, 1e-18)), np.nan)
    return np.asarray(r)


def _block_shuffle(x: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    n_blocks = max(2, len(x) // block)
    parts = np.array_split(x, n_blocks)
    return np.concatenate([parts[i] for i in rng.permutation(n_blocks)])


def _abstain(method: str, reason: str, **details: Any) -> OffsetEstimate:
    return OffsetEstimate(method=method, verdict=Verdict.ABSTAIN, reason=f"cannot determine: {reason}",
                          details=details)


def lag_from_signals(
    ref: Signal,
    tgt: Signal,
    *,
    expected_lag_ns: int = 0,
    max_lag_ns: int = 5_000_000_000,
    method: str,
    ref_label: str = "reference",
    tgt_label: str = "target",
) -> OffsetEstimate:
    """The lag of ``tgt`` against ``ref`` within ``expected ± max_lag`` (see the module docstring).

    Both signals must be onset-like: non-negative, near zero between events, a bump per event
    (negative values are treated as zero). Pass a rectified derivative, not a raw level.
    ``ref_label`` / ``tgt_label`` name the signals in reasons ("no onsets in audio").
    """
    if ref.rate_hz <= 0 or tgt.rate_hz <= 0:
        return _abstain(method, "a signal has no sample rate")
    rate = float(min(max(ref.rate_hz, tgt.rate_hz, 100.0), 400.0))
    sigma_s = 0.5 / min(ref.rate_hz, tgt.rate_hz, rate)
    a, b = _prepare(ref, rate, sigma_s), _prepare(tgt, rate, sigma_s)
    for grid, label in ((a, ref_label), (b, tgt_label)):
        if len(grid.onsets) == 0:
            return _abstain(method, f"no onsets in {label}")
        if len(grid.onsets) < MIN_ONSETS:
            return _abstain(method, f"too few events in {label} ({len(grid.onsets)})")
    base = b.k0 - a.k0  # lag in samples = index lag + base
    centre = int(round(expected_lag_ns / _NS * rate))
    half = int(round(max_lag_ns / _NS * rate))
    margin = max(3, int(round(4 * sigma_s * rate)))
    lags_abs = np.arange(centre - half - margin, centre + half + margin + 1)
    shorter = min(len(a.values), len(b.values))
    min_overlap = int(min(MIN_OVERLAP_S * rate, 0.5 * shorter))
    r = _ncc(a.values, b.values, lags_abs - base, max(min_overlap, 1))
    if not np.any(np.isfinite(r)):
        return _abstain(method, f"{ref_label} and {tgt_label} overlap too little within the lag window")
    r = np.nan_to_num(r, nan=-1.0)
    rng = np.random.default_rng(12345)
    block = max(int(0.5 * rate), int(8 * sigma_s * rate))
    null = np.array([
        np.nanmax(np.nan_to_num(_ncc(a.values, _block_shuffle(b.values, block, rng), lags_abs - base,
                                     max(min_overlap, 1)), nan=-1.0))
        for _ in range(N_NULL)
    ])
    mu, sd = float(null.mean()), float(max(null.std(), 1e-3))
    best = int(np.argmax(r))
    r1 = float(r[best])
    z1 = (r1 - mu) / sd
    details: dict[str, Any] = {
        "peak_r": round(r1, 4), "null_mean_r": round(mu, 4), "null_sd_r": round(sd, 4),
        "null_max_r": round(float(null.max()), 4), "z": round(z1, 2), "grid_hz": rate,
        f"onsets_{ref_label}": int(len(a.onsets)), f"onsets_{tgt_label}": int(len(b.onsets)),
    }
    if z1 < Z_MIN or r1 <= float(null.max()):
        few = min(len(a.onsets), len(b.onsets)) < 2 * MIN_ONSETS
        if few:
            return _abstain(method, f"too few events to tell a match from chance (z={z1:.1f})", **details)
        if z1 >= Z_WEAK:
            # the best lag stands out, but not enough to trust: "another recording" would be a
            # confident claim the evidence does not support either
            best_s = lags_abs[best] / rate
            details["best_lag_s"] = round(float(best_s), 3)
            return _abstain(method, f"weak evidence: the best lag ({best_s:+.2f} s) stands {z1:.1f} sd over "
                            f"shuffled, short of {Z_MIN:g}; more events, or a narrower --max-lag around it, "
                            "would decide", **details)
        return OffsetEstimate(
            method=method, verdict=Verdict.NO_PLAUSIBLE_ALIGNMENT,
            reason=f"no lag within ±{max_lag_ns / _NS:g} s matches better than chance "
                   f"(peak r={r1:.2f}, shuffled {mu:.2f}±{sd:.2f}); are these streams of the same recording?",
            score=round(z1, 3), details=details,
        )
    pos = best + float(_refine(r, np.array([best]))[0] - best) if 0 < best < len(r) - 1 else float(best)
    lag_s = (lags_abs[0] + pos) / rate
    exclusion = max(4 * sigma_s, 3 / rate, 0.06)
    peak_idx, _ = find_peaks(np.concatenate([[-2.0], r, [-2.0]]))
    peak_idx = peak_idx - 1
    others = [int(i) for i in peak_idx if abs(lags_abs[i] - lags_abs[best]) / rate > exclusion]
    others.sort(key=lambda i: -r[i])
    r2 = float(r[others[0]]) if others else mu
    ratio = (r2 - mu) / max(r1 - mu, 1e-9)
    details["second_r"] = round(r2, 4)
    details["second_ratio"] = round(ratio, 3)
    score = round(1.0 / max(ratio, 1e-3), 3)
    if abs(lag_s - expected_lag_ns / _NS) > max_lag_ns / _NS + 0.5 / rate + 1e-9:
        return _abstain(method, f"the best match lies at the edge of the ±{max_lag_ns / _NS:g} s window; "
                        "widen max_lag", **details)
    in_window = np.abs(lags_abs / rate - expected_lag_ns / _NS) <= max_lag_ns / _NS + 0.5 / rate + 1e-9
    rivals = [i for i in others if (r[i] - mu) / max(r1 - mu, 1e-9) >= AMBIGUOUS_RATIO
              and (r[i] - mu) / sd >= Z_MIN and in_window[i]]
    if rivals:
        if len(rivals) >= MAX_CANDIDATES:
            return _abstain(method, f"{len(rivals) + 1} lags fit almost equally (periodic events?)", **details)
        fine = _refine(r, np.asarray(rivals, np.int64))
        cands = [Candidate(int(round(lag_s * _NS)), round(r1, 4))] + [
            Candidate(int(round((lags_abs[0] + f) / rate * _NS)), round(float(r[i]), 4))
            for i, f in zip(rivals, fine, strict=True)]
        gaps = ", ".join(f"{c.lag_ns / _NS:+.3f} s" for c in cands)
        return OffsetEstimate(
            method=method, verdict=Verdict.AMBIGUOUS,
            reason=f"several lags fit almost equally ({gaps}); e.g. the start and the end of events",
            score=score, candidates=tuple(cands), details=details,
        )
    # matched onset pairs at the chosen lag: how many events agree, and how tightly
    tol = max(2.5 * sigma_s, 0.05)
    j = np.searchsorted(b.onsets, a.onsets + lag_s)
    left = b.onsets[np.clip(j - 1, 0, len(b.onsets) - 1)] - (a.onsets + lag_s)
    right = b.onsets[np.clip(j, 0, len(b.onsets) - 1)] - (a.onsets + lag_s)
    resid = np.where(np.abs(left) < np.abs(right), left, right)
    matched = resid[np.abs(resid) <= tol]
    n = int(len(matched))
    details["matched_onsets"] = n
    if n < MIN_MATCHED:
        return _abstain(method, f"too few events match ({n}) at the best lag", **details)
    spread = float(np.std(matched, ddof=1)) if n > 1 else tol
    # statistical part from the matched pairs, plus a systematic floor of a tenth of the coarser
    # signal's sample period (exposure model, codec pre-echo, grid): honest, not optimistic
    systematic = 0.1 / min(ref.rate_hz, tgt.rate_hz)
    sigma = float(np.hypot(max(spread, 0.5 / rate) / np.sqrt(n), systematic))
    return OffsetEstimate(
        method=method, verdict=Verdict.ALIGNED,
        reason=f"{n} onsets match at {lag_s:+.3f} s (peak r={r1:.2f}, {z1:.0f} sd over shuffled)",
        lag_ns=int(round(lag_s * _NS)), uncertainty_ns=int(round(sigma * _NS)), score=score, n_events=n,
        candidates=(Candidate(int(round(lag_s * _NS)), round(r1, 4)),), details=details,
    )


def estimate_av_lag(
    video: Path,
    audio: Path,
    *,
    expected_lag_ns: int = 0,
    max_lag_ns: int = 5_000_000_000,
    threads: int = 0,
) -> OffsetEstimate:
    """Lag of ``audio`` (a separate file, or ``video`` itself for its own audio track) against ``video``.

    ``threads`` is the video decoder's thread count (0: FFmpeg decides; 1: one core). Never
    raises on bad media: an unreadable file is an ABSTAIN with the reason.
    """
    method = METHOD_AV
    try:
        vs = video_signals(Path(video), threads=threads)
    except (MediaError, OSError, ValueError, av.error.FFmpegError) as exc:
        return _abstain(method, f"video unusable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    try:
        samples, sample_rate, start_ns = read_audio(Path(audio))
    except (MediaError, OSError, ValueError, av.error.FFmpegError) as exc:
        return _abstain(method, f"audio unusable ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})")
    info: dict[str, Any] = {"video_frames": vs.n_frames, "video_fps": round(vs.onset.rate_hz, 3),
                            "audio_rate": sample_rate}
    if vs.n_frames < 2:
        return _abstain(method, f"the video has {vs.n_frames} frame; motion needs at least two", **info)
    if vs.changing_frames < MIN_ONSETS:  # a codec's keyframe pulse is not motion
        return _abstain(method, f"static video (only {vs.changing_frames} frames change)", **info)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak < SILENT_AUDIO_LEVEL:
        return _abstain(method, "silent audio", **info)
    env = onset_envelope_from_samples(samples, sample_rate, start_ns)
    est = lag_from_signals(vs.onset, env, expected_lag_ns=expected_lag_ns, max_lag_ns=max_lag_ns,
                           method=method, ref_label="video", tgt_label="audio")
    return OffsetEstimate(**{**est.__dict__, "details": {**info, **est.details}})
