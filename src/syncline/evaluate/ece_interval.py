"""A 95 % interval for the true ECE, by inverting tests of the binned counts (Neyman's construction).

Why not a bootstrap: the plug-in ECE ``sum_b |k_b - s_b| / N`` (``k_b`` right answers, ``s_b``
summed confidence in bin ``b``) is biased upward by the noise of every bin whose true gap is
small, and by how much depends on the *shape* of the miscalibration — how many bins carry it.
The bootstrap estimates that bias in a world whose gaps are the observed ones, which is the
wrong world exactly where it matters: when the miscalibration sits in a few bins (a model
overconfident only where it is most confident, the usual case), the bootstrap interval covered
the truth 61-96 % of the time in simulation (``benchmarks/bench_eval.py``).

Instead, for a candidate true ECE ``theta`` the counts are simulated under a configuration of
per-bin gaps summing (weighted) to ``theta``, and ``theta`` is kept when the observed plug-in
is not in that distribution's tail:

* **lower end**: the configuration that makes the plug-in largest for its ``theta`` — each bin
  keeps the least gap its own data allow (its observed gap less 2 standard errors, not below
  0), and the rest of ``theta`` goes where it removes the least noise bias: into the bin
  already most clearly miscalibrated (its noise no longer adds), or, where none is, into the
  bin whose noise adds least; every other bin keeps its full upward noise. A large plug-in is
  then explained by the smallest ``theta`` any shape could give it.
* **upper end**: gaps in proportion to each bin's standard error (water-filled against what
  each bin can hold), which makes the plug-in's noise bias least for its ``theta`` (the
  expected ``|gap + noise|`` is convex in ``gap / se``, so equal ratios minimise the sum), so a
  small plug-in is explained by the largest ``theta``; searched up to the largest ECE the
  bins' confidences allow. Gaps spread evenly instead covered 88 % on a skewed histogram.
* The 5 % is split as the data allow: at ``theta = 0`` the upper end cannot miss, so the lower
  test takes all of it (the interval holds 0 as often as a 5 % test of calibration accepts);
  as ``theta`` grows past the noise the split moves to 2.5 % / 2.5 %.

A bin's right answers are a binomial on its observed rows, drawn through a skew-corrected normal
quantile (Cornish–Fisher, damped where the sd is under 1, rounded and clipped to the bin's rows);
the bin's share of rows is redrawn too (multinomial), which moves its term by the rows gained
times its gap — nothing at ``theta = 0``, so the calibration test keeps the observed bins
(redrawing them made it reject 7-8 % of calibrated 10-row slices). All from one fixed set of
draws, so every candidate ``theta`` is judged on the same draws and a step is a few float32
vector operations. The search assumes the test's verdict turns once along ``theta``; with a
few hundred rows it can flip back within ~0.005 of the boundary. The damped quantile gives a
1-row bin at 0.99 no wrong answer (exactly: 1 %), which only matters for a slice of a few rows.

Each end is conservative where the truth is not its least favourable shape: in simulation over
three shapes, true ECE 0-0.1 and 300-10,000 rows, coverage 93.3-99.2 % (the bootstrap: 61-97 %;
see BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
FLOOR_Z = 2.0  # a bin's gap is taken to be at least its observed gap less this many standard errors
STEPS = 14  # bisection steps per end: to within the bracket's width / 16,384 (at most 6e-5)
TIE = 1e-6  # plug-ins this close are equal: the simulation sums float32 counts
CELLS = 4_000_000  # slices x draws x bins per block: 7 float32 arrays of it, ~110 MB


def plug_in(n: F64, s: F64, k: F64) -> F64:
    """The plug-in ECE ``sum_b |k_b - s_b| / N`` over the last axis (NaN for a slice without rows)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.abs(k - s).sum(axis=-1) / n.sum(axis=-1))


def ece_interval(n: F64, s: F64, k: F64, *, draws: int = 500, alpha: float = 0.05,
                 seed: int = 0) -> tuple[F64, F64, F64]:
    """``(lo, hi, median_unbiased)`` per slice (rows of the ``slices x bins`` arrays of rows,
    summed confidence and right answers; every slice with at least one row). The third is the
    ``theta`` whose spread-gap distribution has the observed plug-in as its median. Slices go in
    blocks of at most ``CELLS`` simulated cells, so memory is bounded whatever their number."""
    n = np.asarray(n, np.float64).reshape(len(n), -1)
    empty = np.flatnonzero(n.sum(axis=1) <= 0)
    if len(empty):
        raise ValueError(f"ece_interval: slice {int(empty[0])} has no rows; leave empty slices out")
    block = max(1, CELLS // max(1, draws * n.shape[1]))
    parts = [_block(n[i:i + block], np.asarray(s[i:i + block], np.float64), np.asarray(k[i:i + block], np.float64),
                    draws, alpha, seed + i)
             for i in range(0, len(n), block)]
    if not parts:
        none = np.zeros(0)
        return none, none, none
    lo, hi, middle = zip(*parts, strict=True)
    return np.concatenate(lo), np.concatenate(hi), np.concatenate(middle)


def _spread(theta: F64, w: F64, se: F64, room: F64) -> F64:
    """Gaps proportional to each bin's standard error, ``min(c se_b, room_b)`` with ``c`` set so
    the weighted gaps sum to ``theta`` (water-filling against the rooms): with equal ``gap / se``
    in every bin, the plug-in's expected noise bias is least (its terms are convex in that ratio)."""
    cut = room / se  # the c at which a bin is full
    order = np.argsort(cut, axis=1)
    cut_s = np.take_along_axis(cut, order, axis=1)
    full = np.cumsum(np.take_along_axis(w * room, order, axis=1), axis=1)  # mass of the bins full by then
    slope = (w * se).sum(axis=1, keepdims=True) - np.cumsum(np.take_along_axis(w * se, order, axis=1), axis=1)
    before_full = np.concatenate([np.zeros_like(full[:, :1]), full[:, :-1]], axis=1)
    before_slope = np.concatenate([(w * se).sum(axis=1, keepdims=True), slope[:, :-1]], axis=1)
    at_cut = before_full + cut_s * before_slope  # the weighted gap sum when c reaches each cut
    seg = np.minimum((at_cut < theta[:, None]).sum(axis=1), cut.shape[1] - 1)[:, None]
    c = (theta[:, None] - np.take_along_axis(before_full, seg, axis=1)) / np.maximum(
        np.take_along_axis(before_slope, seg, axis=1), 1e-300)
    return np.asarray(np.minimum(np.maximum(c, 0.0) * se, room))


def _block(n: F64, s: F64, k: F64, draws: int, alpha: float, seed: int) -> tuple[F64, F64, F64]:
    used = (n > 0).any(axis=0)  # bins no slice of the block has rows in cost nothing
    n, s, k = n[:, used], s[:, used], k[:, used]
    rows = n.sum(axis=1)
    live = n > 0
    nb = np.maximum(n, 1.0)
    mc = np.where(live, s / nb, 0.0)
    acc = np.clip(np.where(live, k / nb, 0.0), 0.0, 1.0)
    t_obs = plug_in(n, s, k)
    w = n / rows[:, None]
    over = np.where(acc == mc, mc >= 0.5, acc < mc)  # each bin's observed direction (a tie: the roomier one)
    room = np.where(live, np.where(over, mc, 1.0 - mc), 0.0)  # the largest gap a bin can have that way
    roomier = mc >= 0.5  # the spread configuration takes the roomier side: its gaps may not fit the observed one
    room_max = np.where(live, np.maximum(mc, 1.0 - mc), 0.0)
    se = np.sqrt(np.maximum(np.maximum(mc * (1 - mc), acc * (1 - acc)), 1e-6) / nb)
    floor = np.where(live, np.minimum(np.maximum(np.abs(acc - mc) - FLOOR_Z * se, 0.0), room), 0.0)
    noise = np.sqrt((n * np.maximum(mc * (1 - mc), 1e-6)).sum(axis=1)) / rows  # sd of the plug-in at theta 0
    theta_max = (w * room_max).sum(axis=1)  # the largest ECE these bins' confidences allow
    rng = np.random.default_rng(seed)
    shift = (rng.multinomial(rows.astype(np.int64)[:, None], w[:, None, :], size=(n.shape[0], draws))
             - n[:, None, :]).astype(np.float32)  # each bin's redrawn share, as rows gained or lost
    z = rng.standard_normal(shift.shape, dtype=np.float32)
    z2 = (z * z - 1.0) / 6.0
    n32 = n.astype(np.float32)[:, None, :]
    root_n, n_conf = np.sqrt(n32), n32 * mc.astype(np.float32)[:, None, :]
    buf, tmp = np.empty_like(z), np.empty_like(z)

    def simulate(gaps: F64, overconfident: NDArray[np.bool_]) -> F64:
        """``draws`` plug-ins per slice when bin ``b``'s true gap is ``gaps[:, b]``. Right answers
        in a bin of ``n`` rows: ``rint(n p + sd z + min(1, sd) (1 - 2p)(z^2 - 1)/6)``,
        ``sd = sqrt(n p (1 - p))``, clipped to ``[0, n]`` (Cornish–Fisher, its skew term damped
        where the sd is under 1, where it would invent outcomes); then the bin's share of rows
        redrawn, which moves its term by ``(rows gained) x gap`` — nothing when the gap is 0, so
        the test of a calibrated model keeps the observed bins."""
        p = np.clip(np.where(overconfident, mc - gaps, mc + gaps), 0.0, 1.0).astype(np.float32)[:, None, :]
        sd = root_n * np.sqrt(p * (1 - p))
        np.multiply(z, sd, out=buf)
        np.multiply(z2, np.minimum(sd, 1.0) * (1 - 2 * p), out=tmp)
        np.add(buf, tmp, out=buf)
        np.add(buf, n32 * p, out=buf)
        np.rint(buf, out=buf)
        np.clip(buf, 0.0, n32, out=buf)
        np.subtract(buf, n_conf, out=buf)
        np.abs(buf, out=buf)
        moved = np.einsum("sdb,sb->sd", shift, gaps.astype(np.float32), dtype=np.float64)
        return np.asarray((buf.sum(axis=2, dtype=np.float64) + moved) / rows[:, None])

    def at_least(gaps: F64, overconfident: NDArray[np.bool_]) -> F64:  # share of draws >= the plug-in
        return np.asarray((1 + (simulate(gaps, overconfident) >= t_obs[:, None] - TIE).sum(axis=1)) / (1 + draws))

    def at_most(gaps: F64, overconfident: NDArray[np.bool_]) -> F64:
        return np.asarray((1 + (simulate(gaps, overconfident) <= t_obs[:, None] + TIE).sum(axis=1)) / (1 + draws))

    def spread_gaps(theta: F64) -> F64:
        return np.where(live, _spread(theta, w, se, room_max), 0.0)

    def concentrated(theta: F64) -> F64:
        base = floor * np.minimum(1.0, theta / np.maximum((w * floor).sum(axis=1), 1e-300))[:, None]
        rest = np.maximum(theta - (w * base).sum(axis=1), 0.0)
        order = np.argsort(np.where(live, np.where(floor > 0, -floor / se, w * se), np.inf), axis=1)
        cap = np.take_along_axis(np.where(live, w * (room - base), 0.0), order, axis=1)
        before = np.cumsum(cap, axis=1) - cap
        mass = np.zeros_like(w)
        np.put_along_axis(mass, order, np.clip(rest[:, None] - before, 0.0, cap), axis=1)
        return np.asarray(base + np.where(live, mass / np.maximum(w, 1e-300), 0.0))

    def lower_share(theta: F64) -> F64:
        return np.asarray(alpha * (1.0 - 0.5 * (1.0 - np.exp(-theta / np.maximum(noise, 1e-12)))))

    def search(too_small: Callable[[F64], NDArray[np.bool_]], lo: F64, hi: F64, steps: int = STEPS) -> F64:
        """The boundary in ``[lo, hi]`` where ``too_small(theta)`` turns false."""
        for _ in range(steps):
            mid = (lo + hi) / 2
            below = too_small(mid)
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return (lo + hi) / 2

    def too_small_for_lower(theta: F64) -> NDArray[np.bool_]:  # the plug-in is in this theta's upper tail
        return at_least(concentrated(theta), over) <= lower_share(theta)

    def too_small_for_upper(theta: F64) -> NDArray[np.bool_]:  # not yet: the plug-in is not in its lower tail
        return at_most(spread_gaps(theta), roomier) > alpha - lower_share(theta)

    def below_median(theta: F64) -> NDArray[np.bool_]:
        return at_least(spread_gaps(theta), roomier) < 0.5

    zero = np.zeros_like(t_obs)
    lower = np.where(too_small_for_lower(zero), search(too_small_for_lower, zero, t_obs.copy()), 0.0)
    upper = np.where(too_small_for_upper(theta_max), theta_max, search(too_small_for_upper, zero, theta_max))
    middle = np.where(below_median(zero), search(below_median, zero, theta_max, steps=12), 0.0)  # a point: coarser
    upper = np.maximum(upper, lower)
    return lower, upper, np.clip(middle, lower, upper)
