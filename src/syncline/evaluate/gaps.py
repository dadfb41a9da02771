"""Gaps as bugs: each slice against the rest of the data, with a test, an effect size and
multiple-comparison control.

For every slice, accuracy and each class's recall, precision and false-positive rate (the
false-negative rate and specificity are their complements: the same test) are compared with
the rate on the rows *outside* the slice (the overall counts less the slice's): Fisher's exact
test, two-sided, Cohen's h as the effect size, and Benjamini–Hochberg q-values over all the
tests of the evaluation — with 10 slices × 4 metrics × 3 classes, a p < 0.05 somewhere is
expected by chance alone. A gap is reported when q < 0.05 and the slice is the worse side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import fisher_exact

from syncline.evaluate.counts import SliceCounts
from syncline.evaluate.intervals import benjamini_hochberg

HIGHER_IS_BETTER = {"recall": True, "precision": True, "accuracy": True,
                    "false_negative_rate": False, "false_positive_rate": False}


@dataclass(frozen=True)
class Gap:
    slice: str
    metric: str
    label: str | None
    inside: float
    outside: float
    n_inside: int
    n_outside: int
    cohens_h: float
    p: float
    q: float
    worse: bool

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _proportions(c: SliceCounts, i: int) -> list[tuple[str, str | None, int, int]]:
    """(metric, label, successes, trials) of slice ``i``."""
    m = c.confusion[i]
    total = int(m.sum())
    out: list[tuple[str, str | None, int, int]] = [("accuracy", None, int(np.trace(m)), total)]
    for j, label in enumerate(c.classes):
        tp, pos, said = int(m[j, j]), int(m[j].sum()), int(m[:, j].sum())
        neg = total - pos
        out += [("recall", label, tp, pos), ("precision", label, tp, said),  # FNR and specificity are their
                ("false_positive_rate", label, said - tp, neg)]                 # complements: the same test
    return out


def slice_gaps(names: list[str], c: SliceCounts, *, alpha: float = 0.05, min_rows: int = 10) -> list[Gap]:
    """Every slice (but ``overall``, index 0) against its complement; ``q`` over all tests."""
    tests: list[tuple[str, str, str | None, float, float, int, int, float, float, bool]] = []
    overall = {(m, lab): (k, n) for m, lab, k, n in _proportions(c, 0)}
    for i, name in enumerate(names):
        if i == 0:
            continue
        for metric, label, k, n in _proportions(c, i):
            k_all, n_all = overall[(metric, label)]
            k_out, n_out = k_all - k, n_all - n
            if n < min_rows or n_out < min_rows:
                continue
            p = float(fisher_exact([[k, n - k], [k_out, n_out - k_out]]).pvalue)
            r_in, r_out = k / n, k_out / n_out
            h = float(2 * np.arcsin(np.sqrt(r_in)) - 2 * np.arcsin(np.sqrt(r_out)))
            worse = (r_in < r_out) == HIGHER_IS_BETTER[metric] and r_in != r_out
            tests.append((name, metric, label, r_in, r_out, n, n_out, h, p, bool(worse)))
    if not tests:
        return []
    q = benjamini_hochberg(np.array([t[8] for t in tests]))
    return [Gap(t[0], t[1], t[2], round(t[3], 6), round(t[4], 6), t[5], t[6], round(t[7], 4), float(t[8]),
                float(q[i]), bool(t[9])) for i, t in enumerate(tests)]


def significant(gaps: list[Gap], alpha: float = 0.05) -> list[Gap]:
    """The gaps that are bugs: q below ``alpha``, the slice on the worse side."""
    return sorted((g for g in gaps if g.q < alpha and g.worse), key=lambda g: (g.q, -abs(g.cohens_h)))
