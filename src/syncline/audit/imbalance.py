"""Imbalance: classes × capture conditions, with weights to train with and a sampling plan.

For every class or ordinal field of the label schema, each labelled target counts once, with
its consensus label (``audit.gold``: Dawid–Skene, so a two-annotator tie does not go to the
class that sorts first) and its capture condition (an asset ``context_json`` key such as lighting,
the camera, an entity attribute). Three things go wrong and each becomes a finding:

* a *rare class* — under 5 % of the targets, or the largest class over 10× the smallest;
* a *thin cell* — a class seen fewer than ``MIN_CELL`` times under one condition: evaluation
  there is noise and the model never learns it; the finding says how many more to collect;
* a *confound* — the class depends on the condition (χ² test of independence, p < 0.01, and
  Cramér's V ≥ 0.3): a model can learn the lighting instead of the animal.

The summary gives the counts, class weights ``n / (k · n_c)`` (scikit-learn's "balanced") and
per-cell weights for conditioned sampling.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.stats import chi2_contingency

from syncline.annotate.schema import SCHEMA_FILE, load_schema
from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.audit.gold import consensus, with_consensus
from syncline.catalog import query as Q
from syncline.project import Project

MIN_CELL, RARE_SHARE, MAX_RATIO = 10, 0.05, 10.0
CONFOUND_P, CONFOUND_V = 0.01, 0.3


def _conditions(project: Project) -> list[str]:
    with project.catalog().connect() as con:
        return [k for k in Q.context_keys(con) if k not in ("location",)]


def imbalance(project: Project, conditions: list[str] | None = None) -> CheckResult:
    path = project.root / SCHEMA_FILE
    if not path.exists():
        raise CannotRun(f"no label schema ({SCHEMA_FILE}): declare the label fields and import labels first")
    fields = [n for n, f in load_schema(path).fields.items() if f.type in ("class", "ordinal")]
    keys = conditions if conditions is not None else _conditions(project)
    result = CheckResult("imbalance", ran=True)
    with project.catalog().connect() as con:
        gold = {f: consensus(Q.field_labels(con, f)) for f in fields}
        tables = {(f, k): with_consensus(Q.class_conditions(con, f, k), gold[f])
                  for f in fields for k in keys or ["entity"]}
    if not any(tables.values()):
        raise CannotRun("no class labels in the catalog: import labels (syncline labels import) first")
    for field in fields:
        rows = next((t for (f, _), t in tables.items() if f == field and t), [])
        if not rows:
            continue
        counts = Counter(v for _, _, v, _ in rows)
        n, k = len(rows), len(counts)
        summary: dict[str, object] = {"targets": n, "counts": dict(sorted(counts.items())),
                                      "class_weights": {c: round(n / (k * m), 4) for c, m in sorted(counts.items())}}
        result.findings += _rare(field, counts, n)
        for key in keys:
            cells, more = _cells(field, key, tables[(field, key)])
            summary[f"by_{key}"] = cells
            result.findings += more
        result.summary[field] = summary
    return result


def _rare(field: str, counts: Counter[str], n: int) -> list[Finding]:
    out = []
    big = max(counts.values())
    for c, m in sorted(counts.items()):
        if m / n < RARE_SHARE or big / m > MAX_RATIO:
            out.append(Finding("imbalance.rare_class", "warning",
                               f"{field}: '{c}' is {m} of {n} targets ({m / n:.1%}; the largest class has {big})",
                               f"collect or label more '{c}', or train with the class weights in the summary",
                               "field", field, details={"class": c, "count": m, "targets": n}))
    return out


def _cells(field: str, key: str, rows: list[tuple[str, str, str, str]]) -> tuple[dict[str, object], list[Finding]]:
    classes = sorted({v for _, _, v, _ in rows})
    conds = sorted({c for _, _, _, c in rows})
    table = np.zeros((len(classes), len(conds)), np.int64)
    for _, _, v, c in rows:
        table[classes.index(v), conds.index(c)] += 1
    out: list[Finding] = []
    for i, cls in enumerate(classes):
        for j, cond in enumerate(conds):
            if table[i, j] < MIN_CELL:
                need = MIN_CELL - int(table[i, j])
                out.append(Finding("imbalance.thin_cell", "warning",
                                   f"{field}: '{cls}' at {key}={cond} has {table[i, j]} target(s)",
                                   f"targeted sampling: collect or label {need} more '{cls}' at {key}={cond}",
                                   "field", field, details={"class": cls, key: cond, "count": int(table[i, j]),
                                                            "needed": need}))
    cells: dict[str, object] = {"conditions": conds, "classes": classes, "counts": table.tolist(),
             "cell_weights": (table.sum() / (table.size * np.maximum(table, 1))).round(4).tolist()}
    if len(classes) > 1 and len(conds) > 1:
        keep_r, keep_c = table.sum(axis=1) > 0, table.sum(axis=0) > 0
        chi2, p, _, _ = chi2_contingency(table[keep_r][:, keep_c], correction=False)  # Cramér's V: no Yates
        cramer = float(np.sqrt(chi2 / (table.sum() * (min(keep_r.sum(), keep_c.sum()) - 1))))
        cells |= {"chi2_p": float(p), "cramers_v": round(cramer, 3)}
        if p < CONFOUND_P and cramer >= CONFOUND_V:
            out.append(Finding("imbalance.confounded", "warning",
                               f"{field} depends on {key} (Cramér's V {cramer:.2f}, p = {p:.1e})",
                               f"balance {field} within each {key} (sampling or weights), and evaluate per {key}: "
                               f"a model can learn {key} instead of {field}", "field", field,
                               details={"key": key, "cramers_v": cramer, "p": float(p)}))
    return cells, out
