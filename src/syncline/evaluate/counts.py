"""Per-slice sufficient statistics of a set of predictions, from a handful of ``bincount`` passes.

Every metric syncline reports — confusion-based rates, cost, calibration, risk–coverage, latency
quantiles, and their intervals — depends on the rows only through counts. Rows are grouped by
the combination of the columns the slices read (``group``: a few thousand groups for millions of
rows), the counts are taken once per group, and a slice's counts are the sum over the groups it
contains (``membership``, groups × slices): a matrix product over groups, never a pass over the
rows per slice. So 100 slices cost what one slice costs. The per-row keys are built in
cache-sized steps in small dtypes, and the rows are split across cores (NumPy releases the GIL
in its ufuncs and in ``bincount``): 10M rows in ~0.7 s on 2 cores (``benchmarks/bench_eval.py``).

Per row: ``truth`` and ``pred`` are class indices (-1: no label / no answer), ``conf`` the
model's confidence in its answer (NaN: none), ``latency_ms`` (NaN: not measured), ``routed``
whether the system did not act on it (the prediction's ``abstained``: routed to a person for
review, or no answer).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
FINE_BINS = 150  # confidence bins kept per group; reliability uses 15 of 10 each
LAT_BINS = 400  # log-spaced latency bins from 1 µs to 100 s: 4.7 % apart
LAT_LO, LAT_HI = 1e-3, 1e5
_STEP = 1 << 16  # rows per step of the key arithmetic: its temporaries stay in cache
_ROWS_PER_THREAD = 2_000_000
_PART_BYTES = 1 << 30  # each part counts into arrays of its own; more parts only while they fit in this


@dataclass
class SliceCounts:
    """Counts per slice (first axis) of one field's predictions against its labels."""

    classes: list[str]
    confusion: I64  # slices x truth x prediction: labelled rows with an answer
    no_answer: I64  # slices x truth (+1: unlabelled in the last column): rows without an answer
    unlabelled: I64  # slices: rows with an answer but no label
    routed: I64  # slices: rows the system did not act on (review, or no answer)
    rows: I64  # slices: every prediction in the slice
    conf_n: F64  # slices x FINE_BINS: labelled rows with an answer and a confidence
    conf_sum: F64  # ... the sum of their confidences
    conf_correct: F64  # ... how many of them were right
    latency: I64  # slices x LAT_BINS

    def take(self, which: NDArray[np.intp]) -> SliceCounts:
        return SliceCounts(self.classes, *(getattr(self, f)[which] for f in (
            "confusion", "no_answer", "unlabelled", "routed", "rows", "conf_n", "conf_sum", "conf_correct",
            "latency")))


def latency_edges() -> F64:
    return np.geomspace(LAT_LO, LAT_HI, LAT_BINS + 1)


def count(classes: list[str], group: I64, membership: NDArray[np.bool_], truth: I64, pred: I64, conf: F64,
          latency_ms: F64, routed: NDArray[np.bool_], threads: int | None = None) -> SliceCounts:
    """The counts of every slice; ``membership`` is groups x slices. Rows are counted in
    ``threads`` contiguous parts side by side (default: up to 4 cores, one part per 2M rows);
    NumPy's ufuncs and ``bincount`` release the GIL, so the parts run in parallel."""
    k = len(classes)
    g = int(membership.shape[0])
    group = np.asarray(group, np.int64)
    truth, pred = np.asarray(truth, np.int64), np.asarray(pred, np.int64)
    conf, latency_ms = np.asarray(conf, np.float64), np.asarray(latency_ms, np.float64)
    routed = np.asarray(routed)
    if routed.dtype != np.bool_:  # 0/1 integers would be read as row indices
        raise ValueError(f"routed must be a boolean array, not {routed.dtype}")
    lengths = {len(x) for x in (group, truth, pred, conf, latency_ms, routed)}
    if len(lengths) != 1:
        raise ValueError(f"group, truth, pred, conf, latency_ms and routed need one entry per row; got {lengths}")
    for name, codes, low in (("group", group, 0), ("truth", truth, -1), ("pred", pred, -1)):
        top = g if name == "group" else k
        if len(codes) and (codes.min() < low or codes.max() >= top):
            raise ValueError(f"{name} codes must lie in [{low}, {top}); got {codes.min()}..{codes.max()}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1; got {threads}")
    n = len(group)
    per_part = 8 * g * ((k + 1) ** 2 + 3 * (FINE_BINS + 1) + LAT_BINS + 2)  # bytes of one part's counts
    parts = threads or max(1, min(4, os.cpu_count() or 1, n // _ROWS_PER_THREAD, _PART_BYTES // per_part))
    bounds = np.linspace(0, n, parts + 1).astype(int)
    shape = _Shape(k + 1, g)
    work = [(shape, group, truth, pred, conf, latency_ms, routed, int(a), int(b)) for a, b in pairwise(bounds)]
    if parts == 1:
        results = [_count_rows(*work[0])]
    else:
        with ThreadPoolExecutor(parts) as pool:
            results = list(pool.map(lambda w: _count_rows(*w), work))
    cube, both, conf_sum, lat, routed_g = results[0]
    for more in results[1:]:
        for total, part in zip(results[0], more, strict=True):
            with np.errstate(invalid="ignore", over="ignore"):  # +-inf confidences meet in the dropped bins
                np.add(total, part, out=total)
    k1 = k + 1
    both = both.reshape(g, FINE_BINS + 1, 2)[:, :FINE_BINS]  # the last bin of each group: rows not scored
    conf_n = both.sum(axis=2).astype(np.float64)
    conf_correct = both[:, :, 1].astype(np.float64)
    conf_sum = conf_sum.reshape(g, FINE_BINS + 1)[:, :FINE_BINS]
    lat = lat.reshape(g, LAT_BINS + 1)[:, :LAT_BINS]
    cube = cube.reshape(g, k1, k1)

    m = membership.T.astype(np.float64)  # slices x groups; float matmul is BLAS, counts stay exact below 2^53

    def per_slice(a: NDArray[np.number]) -> F64:
        with threadpool_limits(1):  # a small product: two BLAS threads were 15x slower here, not faster
            return np.asarray(m @ a.reshape(g, -1).astype(np.float64))

    cube_s = np.rint(per_slice(cube)).astype(np.int64).reshape(-1, k1, k1)
    return SliceCounts(
        classes=list(classes),
        confusion=cube_s[:, 1:, 1:],
        no_answer=np.concatenate([cube_s[:, 1:, 0], cube_s[:, :1, 0]], axis=1),
        unlabelled=cube_s[:, 0, 1:].sum(axis=1),
        routed=np.rint(per_slice(routed_g)).astype(np.int64)[:, 0],
        rows=cube_s.sum(axis=(1, 2)),
        conf_n=per_slice(conf_n.reshape(g, FINE_BINS)),
        conf_sum=per_slice(conf_sum.reshape(g, FINE_BINS)),
        conf_correct=per_slice(conf_correct.reshape(g, FINE_BINS)),
        latency=np.rint(per_slice(np.ascontiguousarray(lat))).astype(np.int64),
    )


@dataclass(frozen=True)
class _Shape:
    k1: int  # classes + 1 (no label / no answer)
    g: int  # groups


def _count_rows(shape: _Shape, group: I64, truth: I64, pred: I64, conf: F64, latency_ms: F64,
                routed: NDArray[np.bool_], lo: int, hi: int) -> list[NDArray[np.number]]:
    """Per-group counts of rows ``lo:hi``: the confusion cube, confidence bins x right/wrong
    (counts and sums of confidence), latency bins, routed. Each has an extra bin per group for
    the rows it does not score, dropped by the caller."""
    k1, g = shape.k1, shape.g
    keys = tuple(np.empty(hi - lo, np.int64) for _ in range(3))
    _row_keys(shape, group[lo:hi], truth[lo:hi], pred[lo:hi], conf[lo:hi], latency_ms[lo:hi], keys)
    cube_key, conf_key, lat_key = keys
    size = g * (FINE_BINS + 1) * 2
    both = np.bincount(conf_key, minlength=size)
    conf_key >>= 1  # the bin without its right/wrong bit: the sums of confidence in row order, as one pass
    return [np.bincount(cube_key, minlength=g * k1 * k1),
            both,
            np.bincount(conf_key, weights=conf[lo:hi], minlength=size // 2),
            np.bincount(lat_key, minlength=g * (LAT_BINS + 1)),
            np.bincount(group[lo:hi][routed[lo:hi]], minlength=g)]


def _row_keys(shape: _Shape, group: I64, truth: I64, pred: I64, conf: F64, latency_ms: F64,
              out: tuple[I64, ...]) -> None:
    """The three bincount keys of the rows, written into ``out`` (cube, confidence, latency).

    The arithmetic runs over cache-sized steps of rows in small dtypes (int16 bins), so each
    pass reads cache, not memory; only the finished keys are written at full length."""
    cube_key, conf_key, lat_key = out
    k1 = shape.k1
    small_t = np.int16 if k1 * k1 < 2**15 else np.int64
    per_bin = np.float32(LAT_BINS / np.log(LAT_HI / LAT_LO))
    for a in range(0, len(group), _STEP):
        b = min(a + _STEP, len(group))
        t, p, grp = truth[a:b], pred[a:b], group[a:b]
        pair = np.add(t, 1, dtype=small_t, casting="unsafe")  # (truth + 1) * k1 + pred + 1
        pair *= k1
        np.add(pair, p, out=pair, casting="unsafe")
        pair += 1
        np.multiply(grp, k1 * k1, out=cube_key[a:b])
        cube_key[a:b] += pair
        # confidence: bins 0..FINE_BINS-1; FINE_BINS for rows without a label, an answer or a finite confidence
        c = conf[a:b]
        dropped = ~np.isfinite(c)
        with np.errstate(over="ignore"):  # a huge finite confidence is clipped to the top bin, not dropped
            scaled = c * FINE_BINS
        dropped |= t < 0
        dropped |= p < 0
        np.clip(scaled, 0, FINE_BINS - 1, out=scaled)
        np.copyto(scaled, FINE_BINS, where=dropped)
        cbin = scaled.astype(np.int16)
        cbin *= 2
        cbin += t == p  # the last bit: right or wrong
        np.multiply(grp, 2 * (FINE_BINS + 1), out=conf_key[a:b])
        conf_key[a:b] += cbin
        # latency: geometric bins, so the bin is the logarithm, not a search; float32 (4.7 % bins need no more)
        lat = latency_ms[a:b]
        missing = ~(lat > 0)  # NaN, non-positive and infinite latencies are not measured
        missing |= lat == np.inf
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # beyond float32: the end bins
            logs = lat.astype(np.float32)
            logs /= np.float32(LAT_LO)
            np.log(logs, out=logs)
        logs *= per_bin
        np.clip(logs, 0, LAT_BINS - 1, out=logs)
        np.copyto(logs, LAT_BINS, where=missing)
        np.multiply(grp, LAT_BINS + 1, out=lat_key[a:b])
        lat_key[a:b] += logs.astype(np.int16)
