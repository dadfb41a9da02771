"""Underperforming slices nobody named: a SliceLine-style search over conjunctions of one or two
``column == value`` conditions on the catalog's columns (entity attributes, the files' capture
context and devices), with multiple-comparison control.

Every candidate's rows and errors come from two matrix products over the groups' candidate
memberships, weighted by each group's rows and errors (``M^T diag(n) M``, ``M^T diag(e) M``),
so all pairs cost one pass over the groups, not the rows. A candidate is
tested against the rows outside it (Fisher's exact test); Benjamini–Hochberg runs over *every*
candidate tried, since searching hundreds of slices finds some "bad" ones by chance alone.
A slice reported is worse than the rest with q < 0.05 and has at least ``min_rows`` labelled
rows. A slice whose excess disappears once a stronger overlapping slice is taken out ("night"
is bad only because "night and cam2" is) says so: ``explained_by`` names the stronger slice.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import fisher_exact

from syncline.evaluate.intervals import benjamini_hochberg, wilson


def discover(names: list[str], features: list[str], member: NDArray[np.bool_], rows: NDArray[np.number],
             errors: NDArray[np.number], *, min_rows: int = 30, alpha: float = 0.05,
             top: int = 10) -> list[dict[str, Any]]:
    """``names[i]`` is candidate ``i``'s condition (as a task spec writes it), ``features[i]`` the
    column it reads (two conditions on one column are not ANDed); ``member`` is groups x
    candidates (rows that share the columns' values form a group; a group may be one row);
    ``rows`` and ``errors`` are each group's labelled rows and the ones the model got wrong."""
    rows = np.asarray(rows, np.float64)
    errors = np.asarray(errors, np.float64)
    n_all, e_all = int(rows.sum()), int(errors.sum())
    if n_all == 0 or not names:
        return []
    m = member.astype(np.float64)
    n2 = m.T @ (m * rows[:, None])
    e2 = m.T @ (m * errors[:, None])
    p_count = len(names)
    iu = np.triu_indices(p_count)
    cands = []
    for i, j in zip(*iu, strict=True):
        if i != j and features[i] == features[j]:
            continue
        n, e = int(round(n2[i, j])), int(round(e2[i, j]))
        if n < min_rows or n_all - n < min_rows:
            continue
        cands.append((i, j, n, e))
    if not cands:
        return []
    pv = np.array([fisher_exact([[e, n - e], [e_all - e, n_all - n - (e_all - e)]]).pvalue
                   for _, _, n, e in cands])
    q = benjamini_hochberg(pv)
    out: list[dict[str, Any]] = []
    for (i, j, n, e), p, qq in zip(cands, pv, q, strict=True):
        rate, rest = e / n, (e_all - e) / (n_all - n)
        if qq >= alpha or rate <= rest:
            continue
        lo, hi = wilson(e, n)
        out.append({"where": names[i] if i == j else f"{names[i]} and {names[j]}", "level": 1 if i == j else 2,
                    "pair": (int(i), int(j)), "n": n, "errors": e, "error_rate": round(rate, 6),
                    "lo": round(float(lo), 6), "hi": round(float(hi), 6), "rest_error_rate": round(rest, 6),
                    "cohens_h": round(float(2 * np.arcsin(np.sqrt(rate)) - 2 * np.arcsin(np.sqrt(rest))), 4),
                    "p": float(p), "q": float(qq), "explained_by": None})
    out.sort(key=lambda d: -d["cohens_h"] * np.sqrt(d["n"]))  # the strongest evidence of a worse regime first
    masks = [member[:, d["pair"][0]] & member[:, d["pair"][1]] for d in out]
    for k, d in enumerate(out):
        for c in range(k):  # a stronger slice that overlaps this one may be the whole story
            if out[c]["explained_by"] is not None:
                continue
            left = masks[k] & ~masks[c]
            rest_n, rest_e = int(rows[left].sum()), int(errors[left].sum())
            if rest_n == d["n"]:
                continue  # no overlap
            out_n, out_e = n_all - d["n"], e_all - d["errors"]
            p_rest = (fisher_exact([[rest_e, rest_n - rest_e], [out_e, out_n - out_e]]).pvalue if rest_n else 1.0)
            if p_rest >= alpha or rest_e / max(1, rest_n) <= out_e / max(1, out_n):
                d["explained_by"] = out[c]["where"]
                break
    out.sort(key=lambda d: (d["explained_by"] is not None, -d["cohens_h"] * np.sqrt(d["n"])))
    for d in out:
        del d["pair"]
    return out[:top]
