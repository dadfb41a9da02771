"""Model A against model B on the same targets, per slice, with paired tests.

Only targets both runs answered and that have a label are compared (the same rows for both:
an unpaired comparison of two models on different rows confounds the models with the rows).
Per slice:

* **McNemar's test** on the discordant pairs — ``b`` targets A got right and B wrong, ``c`` the
  reverse: exact (binomial, two-sided) below 25 discordant pairs, the continuity-corrected
  chi-square above, as statsmodels' ``mcnemar`` does.
* **Paired bootstrap** of the differences B − A in accuracy, macro F1 and cost per decision,
  over the slice's joint counts of (truth, A's answer, B's answer): a multinomial redraw of those
  K³ cells is a redraw of the paired rows, at the cost of the counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom, chi2

from syncline.evaluate.intervals import bootstrap_counts
from syncline.evaluate.metrics import _macro_f1, _num
from syncline.evaluate.rows import load_rows, resolve_any_run
from syncline.project import Project

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Paired:
    slice: str
    n: int
    a_right_b_wrong: int
    a_wrong_b_right: int
    mcnemar_p: float | None
    method: str
    deltas: dict[str, dict[str, float | None]]  # metric -> {b_minus_a, lo, hi}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def mcnemar(b: int, c: int) -> tuple[float | None, str]:
    n = b + c
    if n == 0:
        return None, "no discordant pairs"
    if n < 25:
        return float(min(1.0, 2 * binom.cdf(min(b, c), n, 0.5))), "exact"
    return float(chi2.sf((abs(b - c) - 1) ** 2 / n, 1)), "chi-square, continuity-corrected"


def paired_counts(k: int, group: NDArray[np.int64], patterns: NDArray[np.bool_], truth: NDArray[np.int64],
                  a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    """Slices x K³ joint counts of (truth, a, b) over rows with a label and both answers."""
    use = (truth >= 0) & (a >= 0) & (b >= 0)
    g = patterns.shape[0]
    key = ((group[use] * k + truth[use]) * k + a[use]) * k + b[use]
    per_group = np.bincount(key, minlength=g * k ** 3).reshape(g, k ** 3).astype(np.float64)
    return np.rint(patterns.T.astype(np.float64) @ per_group).astype(np.int64)


def _marginals(r: F64, k: int) -> tuple[F64, F64]:
    """(truth x A) and (truth x B) confusion counts from joint counts (..., K³)."""
    m = r.reshape(*r.shape[:-1], k, k, k)
    return m.sum(-1).reshape(*r.shape[:-1], k * k), m.sum(-2).reshape(*r.shape[:-1], k * k)


def compare_counts(names: list[str], joint: NDArray[np.int64], k: int, costs: F64 | None, *, draws: int = 1000,
                   seed: int = 0) -> list[Paired]:
    eye = np.eye(k, dtype=bool).reshape(-1)
    stats = {"accuracy": lambda m: (m * eye).sum(-1) / m.sum(-1), "macro_f1": lambda m: _macro_f1(m, k)}
    if costs is not None:
        w = np.asarray(costs, np.float64).reshape(-1)
        stats["cost_per_decision"] = lambda m: (m * w).sum(-1) / m.sum(-1)
    out_d: dict[str, tuple[F64, F64, F64]] = {}
    ff = joint.astype(np.float64)
    for i, (name, f) in enumerate(stats.items()):
        def delta(r: F64, f: Any = f) -> F64:
            ma, mb = _marginals(r, k)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.asarray(f(mb) - f(ma))

        lo, hi = bootstrap_counts(joint, delta, draws=draws, seed=seed + i)
        few = (joint.sum(axis=1) < 30) & (lo == hi)  # identical redraws of a few rows: not certainty
        out_d[name] = (delta(ff), np.where(few, np.nan, lo), np.where(few, np.nan, hi))
    m = joint.reshape(-1, k, k, k)
    right_a = np.einsum("sttb->s", m)  # truth == a, any b
    right_b = np.einsum("stat->s", m)
    both = np.einsum("sttt->s", m)
    b_count, c_count = right_a - both, right_b - both
    out = []
    for i, name in enumerate(names):
        p, method = mcnemar(int(b_count[i]), int(c_count[i]))
        out.append(Paired(name, int(joint[i].sum()), int(b_count[i]), int(c_count[i]), p, method,
                          {mname: {"b_minus_a": _num(v[0][i]), "lo": _num(v[1][i]), "hi": _num(v[2][i])}
                           for mname, v in out_d.items()}))
    return out


def compare_runs(project: Project, run_a: str, run_b: str, *, field_name: str | None = None, split: str = "auto",
                 intersections: bool = True, draws: int = 1000) -> dict[str, Any]:
    """A (``run_a``) against B (``run_b``) on the targets both answered, per slice."""
    r = load_rows(project, run_a, field_name=field_name, split=split, intersections=intersections,
                  compare_with=run_b)
    assert r.other is not None
    k = len(r.classes)
    joint = paired_counts(k, r.group, r.patterns, r.truth, r.pred, r.other)
    both = int(joint[0].sum())
    labelled = int((r.truth >= 0).sum())
    notes = list(r.notes)
    if both < labelled:
        notes.append(f"{labelled - both} labelled targets lack an answer from one of the runs: left out of both")
    rows = compare_counts(r.slices.names, joint, k, r.costs(), draws=draws)
    return {"a": r.run["run_id"], "b": resolve_any_run(project, run_b)["run_id"], "field": r.field,
            "split": r.split, "paired_rows": both, "slices": [p.to_json() for p in rows], "notes": notes}
