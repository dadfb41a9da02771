"""Match two event trains: lag *and* clock drift, with verdicts that never bluff.

Model (``align.types``): an event at reference-local ``t`` appears at target-local
``t * (1 + drift_ppm * 1e-6) + lag_ns``. Internally the line is written around the centre
``c`` of the reference events, ``t_tgt - t_ref = a + s * (t_ref - c)``, so that lag and drift
are decorrelated and ``lag = a - s * c``, ``drift_ppm = s * 1e6``.

1. **Coarse vote.** Every (reference, target) pair whose difference can fall in the lag
   window votes, for each drift hypothesis on a grid fine enough that drift smears a vote by
   at most half the tolerance, into a histogram of ``a``; a moving sum over ``±tolerance``
   is the kernel density. Its peaks are the candidate lags.
2. **Refine.** Each candidate is refined by nearest-neighbour matching within the tolerance
   (one target event per reference event) and the winner by a robust line — Theil–Sen
   (``scipy.stats.theilslopes``) to find the inliers, least squares on them — fitted over a
   window that grows from the centre until it covers every event, giving drift and lag with
   one-sigma intervals.
3. **Null.** The one-to-one match count is compared with the counts of a target whose
   inter-event intervals are shuffled, at random lags (the match rate of chance). No better
   than chance -> ``NO_PLAUSIBLE_ALIGNMENT`` (or ``ABSTAIN`` when there are too few events to
   tell, or when a large share of events matched and the count beats chance at ``P_SUGGESTIVE``
   but not at ``P_CHANCE``); two
   candidates about as good -> ``AMBIGUOUS`` (periodic events); too few events -> ``ABSTAIN``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import find_peaks
from scipy.stats import poisson, theilslopes

from syncline.align.types import Candidate, OffsetEstimate, Verdict
from syncline.timebase import NS_PER_S

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

METHOD = "event_match@1"
MAX_DRIFT_HYPOTHESES = 81  # drift grid size for the coarse vote; longer spans use a central chunk
MAX_VOTES = 8_000_000  # pair x drift votes per coarse pass
THEIL_SEN_MAX = 1500  # Theil-Sen is O(n^2): fit on evenly spaced matches beyond this
N_NULL = 200  # random lags for the chance match rate
P_CHANCE = 1e-6  # Bonferroni-corrected p-value a real alignment must beat
P_SUGGESTIVE = 0.05  # below this (but above P_CHANCE) the evidence is real but weak: abstain, never accuse
MIN_EXCESS_RATE = 0.2  # matches beyond chance, as a share of the sparser train
AMBIGUITY_RATIO = 0.8  # a second candidate this close (in excess matches) makes it ambiguous


@dataclass(frozen=True)
class _Fit:
    a: float  # offset (s) at the reference centre
    s: float  # drift as a fraction
    matches: int  # one-to-one matches within the base tolerance
    sigma_lag: float = 0.0  # one-sigma of the lag at t_ref = 0 (s)
    sigma_s: float = 0.0
    resid_mad: float = 0.0
    n_fit: int = 0


def _as_times(x: ArrayLike) -> tuple[I64, int]:
    """Sorted unique int64 times and how many duplicates were dropped."""
    raw = np.asarray(x, dtype=np.int64).ravel()
    u = np.unique(raw)
    return u, int(len(raw) - len(u))


def _nearest(t: F64, q: F64) -> tuple[I64, F64]:
    """Index of the element of sorted ``t`` nearest each ``q``, and ``t[idx] - q``."""
    j = np.searchsorted(t, q)
    j0 = np.clip(j - 1, 0, len(t) - 1)
    j1 = np.clip(j, 0, len(t) - 1)
    d0, d1 = t[j0] - q, t[j1] - q
    pick = np.abs(d1) < np.abs(d0)
    return np.where(pick, j1, j0).astype(np.int64), np.where(pick, d1, d0)


def _match(r: F64, t: F64, a: float, s: float, c: float, tol: float) -> tuple[I64, I64, F64]:
    """One-to-one nearest-neighbour matches within ``tol``: (ref idx, tgt idx, residual)."""
    idx, d = _nearest(t, r + a + s * (r - c))
    ok = np.flatnonzero(np.abs(d) <= tol)
    ti, dd = idx[ok], d[ok]
    order = np.lexsort((np.abs(dd), ti))
    first = np.r_[True, ti[order][1:] != ti[order][:-1]] if len(order) else np.zeros(0, bool)
    sel = np.sort(order[first])
    return ok[sel].astype(np.int64), ti[sel], dd[sel]


def _pairs(r: F64, t: F64, lo: F64, hi: F64) -> tuple[I64, I64]:
    """All (i, j) with ``lo[i] <= t[j] - r[i] <= hi[i]``, vectorised."""
    jl = np.searchsorted(t, r + lo, "left")
    jh = np.searchsorted(t, r + hi, "right")
    counts = np.maximum(jh - jl, 0)
    total = int(counts.sum())
    pi = np.repeat(np.arange(len(r)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    pj = np.arange(total) - starts + np.repeat(jl, counts)
    return pi.astype(np.int64), pj.astype(np.int64)


def _coarse(r: F64, t: F64, c: float, a_lo: float, a_hi: float, tol: float, max_drift: float) -> tuple[F64, F64, F64]:
    """Kernel-density vote over (drift, a): returns (a centres, profile = best score per a,
    drift achieving it)."""
    half = float(np.max(np.abs(r - c))) if len(r) else 0.0
    step = (tol / 2) / max(half, 1e-9)
    n_half = int(min(math.ceil(max_drift / step), (MAX_DRIFT_HYPOTHESES - 1) // 2)) if max_drift > 0 else 0
    drifts = np.linspace(-max_drift, max_drift, 2 * n_half + 1) if n_half else np.zeros(1)
    margin = max_drift * half
    x_all = r - c
    pi, pj = _pairs(r, t, np.full(len(r), a_lo) - margin, np.full(len(r), a_hi) + margin)
    binw = tol / 2
    nb = int(math.ceil((a_hi - a_lo) / binw)) + 1
    hist = np.zeros(len(drifts) * nb)
    if len(pi):
        d, x = t[pj] - r[pi], x_all[pi]
        per = max(1, MAX_VOTES // len(pi))
        for k0 in range(0, len(drifts), per):  # chunks of drift hypotheses, vectorised inside
            ks = np.arange(k0, min(k0 + per, len(drifts)))
            b = np.floor((d[None, :] - drifts[ks, None] * x[None, :] - a_lo) / binw).astype(np.int64)
            ok = (b >= 0) & (b < nb)
            flat = (ks[:, None] * nb + b)[ok]
            hist += np.bincount(flat, minlength=len(hist))
    hist2 = hist.reshape(len(drifts), nb)
    w = 4  # 4 bins of tol/2: a window of +-tol
    cs = np.concatenate([np.zeros((len(drifts), 1)), np.cumsum(hist2, axis=1)], axis=1)
    ms = cs[:, w:] - cs[:, :-w]
    centres = a_lo + (np.arange(ms.shape[1]) + w / 2) * binw
    best = np.argmax(ms, axis=0)
    return centres, ms[best, np.arange(ms.shape[1])], drifts[best]


def _quick_refine(r: F64, t: F64, a: float, s: float, c: float, tol: float, max_drift: float) -> _Fit:
    """A candidate's own best line (least squares on its matches, drift kept within the
    grid) and its one-to-one match count."""
    for _ in range(3):
        ri, ti, d = _match(r, t, a, s, c, tol)
        if not len(d):
            return _Fit(a, s, 0)
        x, y = r[ri] - c, t[ti] - r[ri]
        if max_drift > 0 and len(x) >= 3 and float(np.ptp(x)) > 0:
            s = float(np.clip(np.polyfit(x, y, 1)[0], -max_drift, max_drift))
        a = float(np.median(y - s * x))
    return _Fit(a, s, len(_match(r, t, a, s, c, tol)[0]))


def _line(x: F64, y: F64, fit_drift: bool, floor: float, x0: float,
          bound: float | None = None) -> tuple[float, float, float, float, float, int]:
    """Robust line y = a + s x: Theil-Sen (``scipy.stats.theilslopes``) finds the inliers,
    least squares on them gives the estimate, because Theil-Sen's median of pairwise slopes
    collapses onto 0 when the residuals are quantised to the sample grid (many tied pairs).
    ``bound``, when the timing error of a true pair is known not to exceed it, is the inlier
    band (a wrong pairing further out is dropped, not averaged in; and a residual MAD that the
    grid collapsed to 0 cannot narrow the band below the true errors), and the inliers are
    taken again around the least-squares line. Returns (a, s, one-sigma of the line at ``x0``,
    one-sigma of s, residual MAD, inliers)."""
    n = len(x)
    s = 0.0
    if fit_drift and n >= 3 and float(np.ptp(x)) > 0:
        sub = np.unique(np.linspace(0, n - 1, min(n, THEIL_SEN_MAX)).astype(np.int64))
        s = float(theilslopes(y[sub], x[sub]).slope)
    resid = y - s * x
    a = float(np.median(resid))
    mad = float(np.median(np.abs(resid - a)))
    band = max(3.5 * 1.4826 * mad, floor) if bound is None else bound
    for _ in range(3 if bound is not None else 1):
        inl = np.abs(y - a - s * x) <= band
        if int(inl.sum()) < 3:  # the start line is too far off for the bound: the residuals decide
            inl = np.abs(y - a - s * x) <= max(3.5 * 1.4826 * mad, floor)
        xi, yi = x[inl], y[inl]
        ni = len(xi)
        xm = float(np.mean(xi))
        sxx = float(np.sum((xi - xm) ** 2))
        if fit_drift and ni >= 3 and sxx > 0:
            s = float(np.sum((xi - xm) * (yi - yi.mean())) / sxx)
        a = float(np.mean(yi - s * xi))
    sd = float(np.std(yi - a - s * xi, ddof=2 if fit_drift else 1)) if ni > 2 else 0.0
    drifting = fit_drift and sxx > 0
    sigma_s = sd / math.sqrt(sxx) if drifting else 0.0
    sigma_x0 = sd * math.sqrt(1.0 / max(ni, 1) + ((x0 - xm) ** 2 / sxx if drifting else 0.0))
    return a, s, sigma_x0, sigma_s, mad, ni


def _full_fit(r: F64, t: F64, start: _Fit, c: float, tol: float, chunk_half: float, fit_drift: bool,
              bound: float | None = None) -> _Fit:
    """Robust line fit over a window around ``c`` that doubles until it covers every event."""
    a, s = start.a, start.s
    half = chunk_half
    span = float(np.max(np.abs(r - c)))
    fit = start
    while True:
        inside = np.flatnonzero(np.abs(r - c) <= half)
        rr = r[inside]
        tol_i = tol
        for _ in range(3):
            ri, ti, _ = _match(rr, t, a, s, c, tol_i)
            if len(ri) < 3:
                return fit
            x = rr[ri] - c
            a, s, sl, ss, mad, n_in = _line(x, t[ti] - rr[ri], fit_drift, tol / 4, -c, bound)
            fit = _Fit(a, s, 0, sl, ss, mad, n_in)
            tol_i = float(np.clip(6 * 1.4826 * mad, max(tol / 4, bound or 0.0), tol))
        if half >= span:
            break
        half *= 2
    return _Fit(a, s, len(_match(r, t, a, s, c, tol)[0]), fit.sigma_lag, fit.sigma_s, fit.resid_mad, fit.n_fit)


def _null_counts(r: F64, t: F64, s: float, c: float, tol: float, a_lo: float, a_hi: float,
                 rng: np.random.Generator) -> F64:
    """Chance match counts: the target with its inter-event intervals shuffled (same rate and
    rhythm, no shared events), at random lags in the window. Nearest within tol, not
    one-to-one: an upper bound."""
    per = 10
    n_shuffles = int(max(4, min(N_NULL // per, 4_000_000 // max(per * len(r), 1))))
    gaps = np.diff(t)
    base = r + s * (r - c)
    out = []
    for _ in range(n_shuffles):  # a handful of shuffles, each vectorised over lags x events
        shuffled = t[0] + np.concatenate([[0.0], np.cumsum(rng.permutation(gaps))])
        a = rng.uniform(a_lo, a_hi, size=per)
        _, d = _nearest(shuffled, (base[None, :] + a[:, None]).ravel())
        out.append((np.abs(d) <= tol).reshape(per, len(r)).sum(axis=1))
    return np.concatenate(out).astype(np.float64)


def _chance_p(m: float, null: F64, n_tests: float) -> float:
    """Bonferroni p-value of >= m matches under an over-dispersed Poisson fitted to the null."""
    lam = max(float(np.mean(null)), 1.0 / len(null))
    phi = max(1.0, float(np.var(null)) / lam)
    return float(min(1.0, n_tests * poisson.sf(math.ceil(m / phi) - 1, lam / phi)))


def match_event_times(
    ref_ns: ArrayLike,
    tgt_ns: ArrayLike,
    *,
    expected_lag_ns: int = 0,
    max_lag_ns: int = 30 * NS_PER_S,
    max_drift_ppm: float = 500.0,
    tolerance_ns: int = 50_000_000,
    min_events: int = 5,
    min_matches: int = 5,
    fit_drift: bool = True,
    timing_bound_ns: int | None = None,
    ref_name: str = "reference",
    tgt_name: str = "target",
    method: str = METHOD,
    seed: int = 0,
    notes: Sequence[str] = (),
) -> OffsetEstimate:
    """Lag and drift between two event trains (int64 ns, each on its own local timeline).

    ``timing_bound_ns``: the largest timing error a truly matched pair can have, when known
    (two streams that time a step midway between samples: half of each sample period); the
    line fit then never takes a pair further out as an inlier."""
    ref, dup_r = _as_times(ref_ns)
    tgt, dup_t = _as_times(tgt_ns)
    note_list = list(notes)
    if dup_r or dup_t:
        note_list.append(f"dropped {dup_r} duplicate {ref_name} and {dup_t} duplicate {tgt_name} event times")
    details: dict[str, Any] = {
        "n_ref_events": len(ref), "n_tgt_events": len(tgt), "tolerance_ns": int(tolerance_ns),
        "max_lag_ns": int(max_lag_ns), "expected_lag_ns": int(expected_lag_ns), "notes": note_list,
    }

    def verdict(v: Verdict, reason: str, **kw: Any) -> OffsetEstimate:
        return OffsetEstimate(method=method, verdict=v, reason=reason, details=details, **kw)

    for name, n in ((ref_name, len(ref)), (tgt_name, len(tgt))):
        if n < min_events:
            return verdict(Verdict.ABSTAIN, f"cannot determine: {n} events in {name}, need ≥ {min_events}")

    r, t = ref.astype(np.float64) / NS_PER_S, tgt.astype(np.float64) / NS_PER_S
    tol = tolerance_ns / NS_PER_S
    max_drift = max_drift_ppm * 1e-6 if fit_drift else 0.0
    c = float(np.median(r))
    span = float(np.max(np.abs(r - c)))
    chunk_half = span
    if max_drift > 0:  # keep the drift grid small: vote on a central chunk, then grow the fit
        chunk_half = min(span, (MAX_DRIFT_HYPOTHESES - 1) / 2 * (tol / 2) / max_drift)
    lag_lo = (expected_lag_ns - max_lag_ns) / NS_PER_S
    lag_hi = (expected_lag_ns + max_lag_ns) / NS_PER_S
    a_lo, a_hi = lag_lo - max_drift * abs(c) - tol, lag_hi + max_drift * abs(c) + tol
    core = r[np.abs(r - c) <= chunk_half]
    centres, profile, pdrift = _coarse(core, t, c, a_lo, a_hi, tol, max_drift)
    if not np.any(profile > 0):
        return verdict(Verdict.ABSTAIN, f"cannot determine: no {tgt_name} event within the "
                       f"±{max_lag_ns / NS_PER_S:g} s lag window of any {ref_name} event")

    peaks, _ = find_peaks(np.r_[0.0, profile, 0.0], distance=8)
    peaks = peaks - 1
    top = peaks[np.argsort(-profile[peaks], kind="stable")[:4]]
    refined = sorted((_quick_refine(core, t, float(centres[k]), float(pdrift[k]), c, tol, max_drift) for k in top),
                     key=lambda f: -f.matches)
    cands: list[_Fit] = []
    for f in refined:  # peaks that converge onto the same lag are one candidate
        if all(abs(f.a - g.a) > 2 * tol for g in cands):
            cands.append(f)
    best = cands[0]
    n_min = min(len(core), len(tgt))
    rng = np.random.default_rng(seed)
    null = _null_counts(core, t, best.s, c, tol, a_lo, a_hi, rng)
    lam = float(np.mean(null))
    n_tests = max(1.0, (a_hi - a_lo) / (2 * tol))
    p = _chance_p(best.matches, null, n_tests)
    excess_rate = (best.matches - lam) / max(n_min, 1)
    details.update({
        "n_core_ref_events": len(core), "match_rate": round(best.matches / max(n_min, 1), 4),
        "null_match_rate": round(lam / max(n_min, 1), 4), "null_max_matches": float(np.max(null)),
        "p_chance": p, "drift_grid_half_ppm": max_drift * 1e6,
    })
    significant = best.matches >= min_matches and p < P_CHANCE and best.matches > float(np.max(null))
    rate = f"{best.matches}/{n_min} events matched ({100 * best.matches / max(n_min, 1):.0f}%)"
    chance = f"{100 * lam / max(n_min, 1):.0f}% at random lags"
    if not significant:
        if n_min < 2 * min_events or best.matches < min_matches:
            return verdict(Verdict.ABSTAIN, f"cannot determine: {rate}, chance gives {chance}; too few to tell")
        if p < P_SUGGESTIVE and excess_rate >= MIN_EXCESS_RATE:  # a large share matched, but too few events
            # to trust: no accusation either (a short clip against a long stream shares a handful)
            return verdict(Verdict.ABSTAIN, f"cannot determine: {rate} against {chance} is more than chance "
                           f"(p {p:.2g}) but not enough to trust (need p < {P_CHANCE:g}); more shared events needed")
        return verdict(Verdict.NO_PLAUSIBLE_ALIGNMENT, f"match rate no better than chance: {rate}, {chance}; "
                       f"is the {tgt_name} attached to the wrong entity?")
    if excess_rate < MIN_EXCESS_RATE:
        return verdict(Verdict.ABSTAIN, f"cannot determine: {rate} against {chance}; too few beyond chance "
                       f"(need {100 * MIN_EXCESS_RATE:.0f}% more)")

    def lag_of(f: _Fit) -> float:
        return f.a - f.s * c

    candidates = tuple(Candidate(int(round(lag_of(f) * NS_PER_S)), round(f.matches / max(n_min, 1), 4))
                       for f in cands if f.matches >= min_matches)
    rivals = [f for f in cands[1:] if f.matches - lam >= AMBIGUITY_RATIO * (best.matches - lam)
              and abs(lag_of(f) - lag_of(best)) > 2 * tol]
    if rivals:
        lags = ", ".join(f"{lag_of(f):+.3f} s" for f in [best, *rivals])
        return verdict(Verdict.AMBIGUOUS, f"several lags match about as well ({lags}): periodic events?",
                       candidates=candidates, n_events=best.matches)

    bound = timing_bound_ns / NS_PER_S if timing_bound_ns else None
    fit = _full_fit(r, t, best, c, tol, chunk_half, fit_drift, bound)
    lag = lag_of(fit)
    sigma_lag = fit.sigma_lag
    second = max([f.matches for f in cands[1:]] + [float(np.max(null))])
    score = (fit.matches - lam) / max(second - lam, float(np.std(null)), 1.0)
    details.update({
        "match_rate": round(fit.matches / max(min(len(r), len(t)), 1), 4), "n_fit": fit.n_fit,
        "drift_uncertainty_ppm": round(fit.sigma_s * 1e6, 4), "residual_mad_ns": int(round(fit.resid_mad * NS_PER_S)),
        "ref_centre_ns": int(round(c * NS_PER_S)),
    })
    if fit_drift and abs(fit.s) > 1.5 * max_drift_ppm * 1e-6:
        return verdict(Verdict.ABSTAIN, f"cannot determine: fitted drift {fit.s * 1e6:+.0f} ppm is outside "
                       f"±{max_drift_ppm:g} ppm", candidates=candidates)
    if not lag_lo - tol <= lag <= lag_hi + tol:
        return verdict(Verdict.ABSTAIN, f"cannot determine: best lag {lag:+.3f} s is at the edge of the search "
                       f"window; widen max_lag", candidates=candidates)
    return verdict(
        Verdict.ALIGNED,
        f"{fit.matches} events matched, lag {lag:+.4f} s ± {sigma_lag * 1e3:.2f} ms, "
        f"drift {fit.s * 1e6:+.1f} ± {fit.sigma_s * 1e6:.1f} ppm",
        lag_ns=int(round(lag * NS_PER_S)),
        drift_ppm=fit.s * 1e6 if fit_drift else 0.0,
        uncertainty_ns=max(1, int(round(sigma_lag * NS_PER_S))),
        score=round(float(score), 3),
        n_events=fit.matches,
        candidates=candidates,
    )
