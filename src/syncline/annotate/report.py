"""Agreement on a label field, from the catalog: overall, per annotator and per slice, each
with an interval and the number of targets it stands on.

Values (class, ordinal, number): Krippendorff's alpha over every annotator and target (missing
labels allowed), with a bootstrap interval over targets. Per annotator: Cohen's kappa of that
annotator against the majority label of the *others* on the targets both labelled — the
annotator who disagrees with everyone shows up, not just a low overall number.

Shapes (boxes, time spans): for each target and pair of annotators, their shapes are matched one
to one (same class, IoU ≥ 0.5) and scored by F1 — the measure detection and event tasks use;
the overall value is the mean over pairs and targets, per annotator the mean over the pairs they
are in, with bootstrap intervals over targets.

Slices: ``by`` names a capture condition (an asset ``context_json`` key such as lighting, a
column such as camera, an entity attribute, or ``entity``); each value gets the same report,
so a crowd annotator who is fine by day and wrong at night is seen at night.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal

import numpy as np

from syncline.annotate.agreement import (
    Level,
    bootstrap_interval,
    box_iou,
    cohen_kappa,
    krippendorff_alpha,
    match_shapes,
    temporal_iou,
)
from syncline.annotate.schema import FieldSpec
from syncline.catalog import query as Q
from syncline.project import Project

Rows = list[tuple[str, str, str]]  # (target_id, annotator, stored value)


@dataclass
class Agreement:
    field_name: str
    level: str                     # nominal | ordinal | interval | ratio | box | time_span
    measure: str                   # krippendorff_alpha | matched_f1
    targets: int
    annotators: list[str]
    value: float
    interval: tuple[float, float]
    per_annotator: list[dict[str, Any]] = field(default_factory=list)  # annotator, score, interval, targets
    slice: str | None = None       # "lighting=night"
    slices: list[Agreement] = field(default_factory=list)


def level_of(spec: FieldSpec | None, level: str | None = None) -> tuple[Any, list[str] | None]:
    """The measurement level a field's agreement uses (its type's, unless ``level`` overrides;
    nominal for a field the schema does not know) and, for ordinal fields, the order of its values."""
    if spec is None:
        return level_of(FieldSpec(kind="perception", type="class", values=["a", "b"]), level)[0], None
    default = {"class": "nominal", "multi_label": "nominal", "ordinal": "ordinal", "number": "interval",
               "box": "box", "time_span": "time_span"}.get(spec.type)
    how = level or default
    if how is None:
        raise ValueError(f"agreement on {spec.type} fields is not computed (class, ordinal, number, box, time span)")
    if (how in ("box", "time_span") or spec.type in ("box", "time_span")) and how != spec.type:
        raise ValueError(f"a {spec.type} field's agreement is measured as {default}, not {how}")
    if how not in ("nominal", "ordinal", "interval", "ratio", "box", "time_span"):
        raise ValueError(f"--level {how!r}: choose nominal, ordinal, interval or ratio")
    return how, (list(spec.values) if how == "ordinal" else None)


def field_agreement(project: Project, field_name: str, *, level: Level | Literal["box", "time_span"] = "nominal",
                    order: list[str] | None = None, by: str | None = None, n_boot: int = 500,
                    seed: int = 0) -> Agreement:
    with project.catalog().connect() as con:
        rows = Q.field_labels(con, field_name)
        slices = Q.target_slices(con, field_name, by) if by else {}
    if not rows:
        raise ValueError(f"no labels of field {field_name!r} with an annotator in the catalog")
    out = _agreement(field_name, rows, level, order, n_boot, seed)
    for value in sorted(set(slices.values())):
        part = _agreement(field_name, [r for r in rows if slices.get(r[0]) == value], level, order, n_boot, seed)
        part.slice = f"{by}={value}"
        out.slices.append(part)
    return out


def _agreement(name: str, rows: Rows, level: str, order: list[str] | None, n_boot: int, seed: int) -> Agreement:
    if level in ("box", "time_span"):
        return _shapes(name, rows, level, n_boot, seed)
    return _values(name, rows, level, order, n_boot, seed)  # type: ignore[arg-type]


def _values(name: str, rows: Rows, level: Level, order: list[str] | None, n_boot: int, seed: int) -> Agreement:
    x, targets, annotators, _ = _matrix(rows, level, order)
    est, lo, hi = bootstrap_interval(x, lambda d: krippendorff_alpha(d, level), n=n_boot, seed=seed)
    out = Agreement(name, level, "krippendorff_alpha", len(targets), annotators, est, (lo, hi))
    weights: Literal["quadratic"] | None = None if level == "nominal" else "quadratic"

    def kappa(d: np.ndarray) -> float:
        return cohen_kappa(list(d[0]), list(d[1]), weights=weights)

    values, votes = _votes(x)
    for i, who in enumerate(annotators):
        majority = _majority_without(x[i], values, votes)
        both = ~np.isnan(x[i]) & ~np.isnan(majority)
        pair = np.vstack([x[i, both], majority[both]])
        if pair.shape[1] < 2:
            k, klo, khi = float("nan"), float("nan"), float("nan")
        else:
            k, klo, khi = bootstrap_interval(pair, kappa, n=n_boot, seed=seed + i + 1)
        out.per_annotator.append({"annotator": who, "measure": "kappa_vs_majority_of_others", "score": k,
                                  "interval": (klo, khi), "targets": int(pair.shape[1])})
    return out


def _matrix(rows: Rows, level: Level, order: list[str] | None) -> tuple[np.ndarray, list[str], list[str], list[str]]:
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
    code = {c: i for i, c in enumerate(codes)}
    for t, a, v in rows:
        if codes:
            x[ai[a], ti[t]] = code[v]
        else:
            try:
                x[ai[a], ti[t]] = float(v)
            except ValueError:
                raise ValueError(f"value {v!r} of annotator {a} is not a number; "
                                 "use level nominal or ordinal") from None
    return x, targets, annotators, codes


def _votes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, targets × values vote counts) of an annotators × targets matrix."""
    present = ~np.isnan(x)
    values = np.unique(x[present])
    votes = np.zeros((x.shape[1], len(values)), np.int64)
    cols = np.broadcast_to(np.arange(x.shape[1]), x.shape)
    np.add.at(votes, (cols[present], np.searchsorted(values, x[present])), 1)
    return values, votes


def _majority_without(mine: np.ndarray, values: np.ndarray, votes: np.ndarray) -> np.ndarray:
    """Per target, the majority value of everyone but the annotator whose row is ``mine`` (NaN
    where the others gave nothing or tie: a tie is no majority)."""
    others = votes.copy()
    has = ~np.isnan(mine)
    others[np.flatnonzero(has), np.searchsorted(values, mine[has])] -= 1
    top = others.max(axis=1) if len(values) else np.zeros(len(others), np.int64)
    unique_top = (others == top[:, None]).sum(axis=1) == 1
    return np.where((top > 0) & unique_top, values[others.argmax(axis=1)] if len(values) else np.nan, np.nan)


def _shapes(name: str, rows: Rows, level: str, n_boot: int, seed: int) -> Agreement:
    """Pairwise matched F1 per target; a (pair × target) matrix, NaN where a pair did not both label."""
    width = 4 if level == "box" else 2
    iou = box_iou if level == "box" else temporal_iou
    shapes: dict[str, dict[str, list[list[Any]]]] = {}
    for t, a, v in rows:
        shapes.setdefault(t, {}).setdefault(a, []).append(json.loads(v))
    targets, annotators = sorted(shapes), sorted({a for _, a, _ in rows})
    pairs = list(combinations(annotators, 2))
    f1 = np.full((len(pairs), len(targets)), np.nan)
    for j, t in enumerate(targets):
        for k, (a, b) in enumerate(pairs):
            sa, sb = shapes[t].get(a), shapes[t].get(b)
            if sa and sb:
                m = iou([s[:width] for s in sa], [s[:width] for s in sb])
                same = np.array([[s[width:] == r[width:] for r in sb] for s in sa])
                f1[k, j] = match_shapes(np.where(same, m, 0.0), 0.5)[1]

    def mean(d: np.ndarray) -> float:
        return float(np.nanmean(d)) if np.isfinite(d).any() else float("nan")

    nan = float("nan")
    est, lo, hi = bootstrap_interval(f1, mean, n=n_boot, seed=seed) if pairs else (nan, nan, nan)
    both = int(np.isfinite(f1).any(axis=0).sum()) if pairs else 0
    out = Agreement(name, level, "matched_f1", both, annotators, est, (lo, hi))
    for i, who in enumerate(annotators):
        mine = f1[[k for k, p in enumerate(pairs) if who in p]]
        score, slo, shi = bootstrap_interval(mine, mean, n=n_boot, seed=seed + i + 1) if len(mine) else (nan, nan, nan)
        out.per_annotator.append({"annotator": who, "measure": "matched_f1_vs_others", "score": score,
                                  "interval": (slo, shi), "targets": int(np.isfinite(mine).any(axis=0).sum())})
    return out
