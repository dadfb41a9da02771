"""Classification metrics per slice, each with its sample size and a 95 % interval.

Rates that are a proportion of rows (recall, precision, specificity, false-negative and
false-positive rates, accuracy, abstain rate) get a Wilson interval on their own numerator and
denominator; F1, macro F1, balanced accuracy and the cost-weighted error are not proportions and
get a BCa bootstrap interval over the slice's counts (``intervals``; one set of redraws shared by
every statistic). Metrics use
the rows that have both a label and an answer. The abstain rate is the share of rows the system
did not act on (routed to a person, or no answer at all: the task gate's "abstain rate" and its
review policy's review rate); the no-answer rate is the share without any answer.

``Metric`` rows are flat (slice, metric, label, value, lo, hi, n, k, method) so that a report, a
gate and a DuckDB query read them alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from syncline.evaluate.counts import SliceCounts, latency_edges
from syncline.evaluate.intervals import bca_interval, redraw, wilson

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Metric:
    slice: str
    metric: str
    label: str | None
    value: float | None
    lo: float | None
    hi: float | None
    n: int  # the denominator: the rows the number is about
    k: int | None  # the numerator, for proportions
    method: str  # wilson | bootstrap | order-statistic | none

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _num(x: Any) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 6)


def _props(names: list[str], metric: str, label: str | None, k: NDArray[np.number],
           n: NDArray[np.number]) -> list[Metric]:
    lo, hi = wilson(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.asarray(k, np.float64) / np.asarray(n, np.float64)
    return [Metric(s, metric, label, _num(v[i]), _num(lo[i]), _num(hi[i]), int(n[i]), int(k[i]), "wilson")
            for i, s in enumerate(names)]


def _f1(c: F64, j: int, kk: int) -> F64:
    """F1 of class ``j`` from flattened confusion counts (..., kk*kk)."""
    m = c.reshape(*c.shape[:-1], kk, kk)
    tp = m[..., j, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(2 * tp / (m[..., j, :].sum(-1) + m[..., :, j].sum(-1)))


def _macro_f1(c: F64, kk: int) -> F64:
    """Mean F1 over the classes present in the truth of each replicate (as scikit-learn's
    ``f1_score(average='macro', labels=present)``)."""
    m = c.reshape(*c.shape[:-1], kk, kk)
    tp = np.diagonal(m, axis1=-2, axis2=-1)
    support, predicted = m.sum(-1), m.sum(-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)
        present = support > 0
        return np.asarray(np.where(present.any(-1), (f1 * present).sum(-1) / present.sum(-1), np.nan))


def _balanced_accuracy(c: F64, kk: int) -> F64:
    m = c.reshape(*c.shape[:-1], kk, kk)
    tp = np.diagonal(m, axis1=-2, axis2=-1)
    support = m.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / support
        present = support > 0
        return np.asarray(np.where(present.any(-1), np.nansum(recall * present, -1) / present.sum(-1), np.nan))


def _boot(names: list[str], metric: str, label: str | None, flat: NDArray[np.int64], point: F64, stat: object,
          reps: F64) -> list[Metric]:
    lo, hi = bca_interval(flat, reps, stat)  # type: ignore[arg-type]
    n = flat.sum(axis=1)
    # every redraw of a few identical rows is the same: a zero-width interval would read as certainty
    degenerate = (n < 30) & (lo == hi)
    lo, hi = np.where(degenerate, np.nan, lo), np.where(degenerate, np.nan, hi)
    return [Metric(s, metric, label, _num(point[i]), _num(lo[i]), _num(hi[i]), int(n[i]), None, "bootstrap")
            for i, s in enumerate(names)]


def classification_metrics(names: list[str], c: SliceCounts, *, costs: F64 | None = None, draws: int = 1000,
                           seed: int = 0) -> list[Metric]:
    """Per slice: accuracy, balanced accuracy, macro F1, cost-weighted error (``costs`` is
    truth x decision, in the task's units), abstain and no-answer rates; per class: recall,
    precision, specificity, F1, false-negative and false-positive rates."""
    kk = len(c.classes)
    conf = c.confusion.astype(np.int64)
    flat = conf.reshape(len(names), kk * kk)
    total = flat.sum(axis=1)
    out: list[Metric] = []
    out += _props(names, "accuracy", None, np.trace(conf, axis1=1, axis2=2), total)
    ff = flat.astype(np.float64)
    reps = redraw(flat, draws=draws, seed=seed)  # one set of replicates for every statistic of these counts
    out += _boot(names, "balanced_accuracy", None, flat, _balanced_accuracy(ff, kk),
                 lambda r: _balanced_accuracy(r, kk), reps)
    out += _boot(names, "macro_f1", None, flat, _macro_f1(ff, kk), lambda r: _macro_f1(r, kk), reps)
    if costs is not None:
        w = np.asarray(costs, np.float64).reshape(-1)

        def mean_cost(r: F64) -> F64:
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.asarray((r * w).sum(-1) / r.sum(-1))

        out += _boot(names, "cost_per_decision", None, flat, mean_cost(ff), mean_cost, reps)
    answered = c.rows - c.no_answer.sum(axis=1)
    out += _props(names, "abstain_rate", None, c.routed, c.rows)  # not acted on: routed to a person or abstained
    out += _props(names, "no_answer_rate", None, c.no_answer.sum(axis=1), c.rows)
    out += [Metric(s, "answered", None, float(answered[i]), None, None, int(c.rows[i]), int(answered[i]), "none")
            for i, s in enumerate(names)]
    for j, label in enumerate(c.classes):
        tp = conf[:, j, j]
        pos = conf[:, j, :].sum(axis=1)
        said = conf[:, :, j].sum(axis=1)
        neg = total - pos
        tn = neg - (said - tp)
        out += _props(names, "recall", label, tp, pos)
        out += _props(names, "false_negative_rate", label, pos - tp, pos)
        out += _props(names, "precision", label, tp, said)
        out += _props(names, "specificity", label, tn, neg)
        out += _props(names, "false_positive_rate", label, said - tp, neg)
        out += _boot(names, "f1", label, flat, _f1(ff, j, kk), lambda r, j=j: _f1(r, j, kk), reps)
    out += latency_p95(names, c)
    return out


def latency_p95(names: list[str], c: SliceCounts, q: float = 0.95) -> list[Metric]:
    """The 95th percentile of latency with a distribution-free interval: the ranks of the order
    statistics that bracket the quantile with 95 % binomial probability, read off the histogram
    (a bin's upper edge, so the value errs high by at most one 4.7 % bin)."""
    from scipy.stats import binom

    edges = latency_edges()
    out = []
    for i, s in enumerate(names):
        h = c.latency[i]
        n = int(h.sum())
        if n == 0:
            out.append(Metric(s, "p95_latency_ms", None, None, None, None, 0, None, "none"))
            continue
        cum = np.cumsum(h)

        def at_rank(r: int, cum: NDArray[np.int64] = cum) -> float:
            return float(edges[1:][min(int(np.searchsorted(cum, max(r, 1))), len(cum) - 1)])

        lo_r, hi_r = int(binom.ppf(0.025, n, q)), int(binom.ppf(0.975, n, q)) + 1
        hi_v = at_rank(hi_r) if hi_r <= n else None
        out.append(Metric(s, "p95_latency_ms", None, round(at_rank(int(np.ceil(q * n))), 4),
                          round(at_rank(lo_r), 4) if lo_r >= 1 else None,
                          None if hi_v is None else round(hi_v, 4), n, None, "order-statistic"))
    return out
