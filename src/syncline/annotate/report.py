"""Agreement on a label field, from the catalog: overall and per annotator, each with an interval.

Overall: Krippendorff's alpha over every annotator and target (missing labels allowed), with a
bootstrap interval over targets. Per annotator: Cohen's kappa of that annotator against the
majority label of the *others* on the targets both labelled, with its own bootstrap interval —
the annotator who disagrees with everyone shows up, not just a low overall number. Each number
comes with the count of targets it stands on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from syncline.annotate.agreement import Level, bootstrap_interval, cohen_kappa, krippendorff_alpha
from syncline.catalog import query as Q
from syncline.project import Project


@dataclass
class Agreement:
    field_name: str
    level: str
    targets: int
    annotators: list[str]
    alpha: float
    alpha_interval: tuple[float, float]
    per_annotator: list[dict[str, Any]] = field(default_factory=list)


def _matrix(rows: list[tuple[str, str, str]], level: Level,
            order: list[str] | None) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    targets = sorted({t for t, _, _ in rows})
    annotators = sorted({a for _, a, _ in rows})
    if level == "nominal":
        codes = sorted({v for _, _, v in rows})
    elif order:  # ordinal with the schema's order of values
        unknown = sorted({v for _, _, v in rows} - set(order))
        if unknown:
            raise ValueError(f"values {unknown} are not in the field's ordered values {order}")
        codes = list(order)
    else:
        codes = []
    x = np.full((len(annotators), len(targets)), np.nan)
    ti, ai = {t: i for i, t in enumerate(targets)}, {a: i for i, a in enumerate(annotators)}
    for t, a, v in rows:
        if codes:
            x[ai[a], ti[t]] = codes.index(v)
        else:
            try:
                x[ai[a], ti[t]] = float(v)
            except ValueError:
                raise ValueError(f"value {v!r} of annotator {a} is not a number; "
                                 "use level nominal or ordinal") from None
    return x, targets, annotators, codes


def field_agreement(project: Project, field_name: str, *, level: Level = "nominal", order: list[str] | None = None,
                    n_boot: int = 500, seed: int = 0) -> Agreement:
    with project.catalog().connect() as con:
        rows = Q.field_labels(con, field_name)
    if not rows:
        raise ValueError(f"no labels of field {field_name!r} with an annotator in the catalog")
    x, targets, annotators, _ = _matrix(rows, level, order)
    est, lo, hi = bootstrap_interval(x, lambda d: krippendorff_alpha(d, level), n=n_boot, seed=seed)
    out = Agreement(field_name, level, len(targets), annotators, est, (lo, hi))
    weights: Literal["quadratic"] | None = None if level == "nominal" else "quadratic"

    def kappa(d: np.ndarray) -> float:
        return cohen_kappa(list(d[0]), list(d[1]), weights=weights)

    for i, name in enumerate(annotators):
        others = np.delete(x, i, axis=0)
        majority = np.array([_mode(col) for col in others.T])
        both = ~np.isnan(x[i]) & ~np.isnan(majority)
        pair = np.vstack([x[i, both], majority[both]])
        if pair.shape[1] < 2:
            out.per_annotator.append({"annotator": name, "targets": int(pair.shape[1]), "kappa": float("nan"),
                                      "interval": (float("nan"), float("nan"))})
            continue
        k, klo, khi = bootstrap_interval(pair, kappa, n=n_boot, seed=seed + i + 1)
        out.per_annotator.append({"annotator": name, "targets": int(pair.shape[1]), "kappa": k,
                                  "interval": (klo, khi)})
    return out


def _mode(col: np.ndarray) -> float:
    vals = col[~np.isnan(col)]
    if not len(vals):
        return float("nan")
    counts = Counter(vals.tolist()).most_common()
    top = [v for v, c in counts if c == counts[0][1]]
    return float(top[0]) if len(top) == 1 else float("nan")  # a tie is no majority
