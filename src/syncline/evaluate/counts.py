"""Per-slice sufficient statistics of a set of predictions, from a handful of ``bincount`` passes.

Every metric syncline reports — confusion-based rates, cost, calibration, risk–coverage, latency
quantiles, and their intervals — depends on the rows only through counts. Rows are grouped by
the combination of the columns the slices read (``group``: a few thousand groups for millions of
rows), the counts are taken once per group, and a slice's counts are the sum over the groups it
contains (``membership``, groups × slices): a matrix product over groups, never a pass over the
rows per slice. So 100 slices cost what one slice costs.

Per row: ``truth`` and ``pred`` are class indices (-1: no label / no answer), ``conf`` the
model's confidence in its answer (NaN: none), ``latency_ms`` (NaN: not measured), ``routed``
whether the system did not act on it (the prediction's ``abstained``: routed to a person for
review, or no answer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
FINE_BINS = 150  # confidence bins kept per group; reliability uses 15 of 10 each
LAT_BINS = 400  # log-spaced latency bins from 1 µs to 100 s: 4.7 % apart
LAT_LO, LAT_HI = 1e-3, 1e5


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
          latency_ms: F64, routed: NDArray[np.bool_]) -> SliceCounts:
    """The counts of every slice; ``membership`` is groups x slices."""
    k = len(classes)
    g = int(membership.shape[0])
    group = np.asarray(group, np.int64)
    truth, pred = np.asarray(truth, np.int64), np.asarray(pred, np.int64)
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
    k1 = k + 1
    # In-place arithmetic over the rows (a fresh 80 MB temporary per operation was half the time).
    key = group * k1
    key += truth
    key += 1
    key *= k1
    key += pred
    key += 1
    cube = np.bincount(key, minlength=g * k1 * k1).reshape(g, k1, k1)
    size = g * FINE_BINS
    good = (pred >= 0) & (truth >= 0) & np.isfinite(conf)
    scaled = np.where(good, conf, 0.0)
    weights = scaled.copy()
    scaled *= FINE_BINS
    np.clip(scaled, 0, FINE_BINS - 1, out=scaled)
    ckey = scaled.astype(np.int64)  # the confidence bin
    np.multiply(group, FINE_BINS, out=key)  # key's buffer is free again
    ckey += key
    ckey *= 2
    ckey += truth == pred  # the last bit: right or wrong
    ckey[~good] = 2 * size  # rows without a label, an answer or a confidence go to a bin that is dropped
    both = np.bincount(ckey, minlength=2 * size + 1)[:-1].reshape(size, 2)
    conf_n = both.sum(axis=1).astype(np.float64)
    conf_correct = both[:, 1].astype(np.float64)
    ckey >>= 1
    conf_sum = np.bincount(ckey, weights=weights, minlength=size + 1)[:-1]
    del ckey, scaled, weights
    per_bin = np.float32(LAT_BINS / np.log(LAT_HI / LAT_LO))  # geometric bins: the bin is the log, not a search
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # float32: 4.7 % bins need no more
        logs = np.log(np.asarray(latency_ms, np.float32) / np.float32(LAT_LO))
    logs *= per_bin
    has_lat = np.isfinite(logs)  # NaN, non-positive and infinite latencies are not measured
    np.clip(logs, 0, LAT_BINS - 1, out=logs)
    logs[~has_lat] = LAT_BINS  # a dropped bin per group
    lkey = logs.astype(np.int64)
    np.multiply(group, LAT_BINS + 1, out=key)
    lkey += key
    lat = np.bincount(lkey, minlength=g * (LAT_BINS + 1)).reshape(g, LAT_BINS + 1)[:, :LAT_BINS]
    del lkey, logs, key
    routed_g = np.bincount(group[routed], minlength=g)

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
