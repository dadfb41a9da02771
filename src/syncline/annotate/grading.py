"""The grader layer, gold values, and "best data": expertise flowing into the dataset.

``grade_labels``: a second-tier annotator (``grades`` in ``labels.yaml``; never crowd, never
their own labels) accepts, fixes or rejects a label, optionally with a 1-5 expertness score (for
demonstrations); a fix is also written as the grader's own label, checked like any other.

``gold``: per target, a gold value with a confidence from Dawid–Skene over the field's labels —
rejected labels left out, fixed labels replaced by the fix — so that reliable annotators count
for more. ``best_data`` keeps the targets whose gold value is confident enough (and, for graded
labels, scored high enough) and gives each a training weight: selection by grade and agreement,
not by volume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from syncline.annotate.consensus import dawid_skene
from syncline.annotate.labels import LabelWrite as GradeWrite  # same shape: written, refused
from syncline.annotate.labels import Refused, on_lines, read_jsonl, resolve_label_ids, write_labels
from syncline.annotate.schema import SCHEMA_FILE, LabelSchema, load_schema
from syncline.catalog import query as Q
from syncline.ids import stable_id
from syncline.project import Project

VERDICTS = ("accept", "fix", "reject")


def grade_labels(project: Project, grades: list[dict[str, Any]], *, schema: LabelSchema | None = None) -> GradeWrite:
    """Validate and write grades ({label_id, grader, verdict, value (fix), score}; a label may
    also be named by field, annotator and target as in the labels file); the valid ones in one
    commit, the rest refused with a reason."""
    schema = schema or load_schema(project.root / SCHEMA_FILE)
    cat = project.catalog()
    named = resolve_label_ids(project, grades)
    with cat.connect() as con:
        labels = Q.labels_by_id(con, sorted({i for i in named if i}))
    out = GradeWrite()
    rows, fixes, fix_of = [], [], []
    for n, g in enumerate(grades):
        lab = labels.get(named[n] or "")
        who, verdict = str(g.get("grader") or ""), g.get("verdict")
        grader = schema.annotators.get(who)
        score = g.get("score")
        reason = None
        if lab is None:
            reason = (f"no label {g['label_id']!r}" if g.get("label_id") else
                      f"no label of {g.get('field')!r} by {g.get('annotator')!r} on that target (give label_id, or "
                      "field, annotator and target_id or entity_id, t0_ns, t1_ns)")
        elif grader is None:
            reason = f"unknown grader {who!r}; register them under annotators in {SCHEMA_FILE}"
        elif lab["field"] not in grader.grades:
            reason = (f"{who!r} ({grader.tier}) may not grade {lab['field']!r}; "
                      f"grades: {', '.join(grader.grades) or 'nothing'}")
        elif lab["annotator"] == who:
            reason = f"{who!r} cannot grade their own label"
        elif verdict not in VERDICTS:
            reason = f"verdict {verdict!r} is not one of {list(VERDICTS)}"
        elif verdict == "fix" and "value" not in g:
            reason = "a fix needs the corrected value"
        elif score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                                    or not 1 <= score <= 5):
            reason = f"score {score!r} must be a number from 1 to 5"
        if reason is not None:
            out.refused.append(Refused(n, reason))
            continue
        assert lab is not None
        if verdict == "fix":
            fixes.append({"field": lab["field"], "target_id": lab["target_id"], "annotator": who, "value": g["value"]})
            fix_of.append(n)
        rows.append((n, {
            "grade_id": stable_id("grade", lab["label_id"], who), "label_id": lab["label_id"], "grader": who,
            "verdict": verdict, "score": float(score) if score is not None else None,
            "accepted": verdict == "accept",
            "corrected_value": json.dumps(g["value"]) if verdict == "fix" else None,
            "graded_value": lab["value"],
            "guideline_version": lab["guideline_version"], "asset_ids": lab["asset_ids"],
            "subject_ids": lab["subject_ids"],
        }))
    bad_fix = set()
    if fixes:
        res = write_labels(project, fixes, schema=schema)
        for r in res.refused:
            bad_fix.add(fix_of[r.index])
            out.refused.append(Refused(fix_of[r.index], f"the fix is not a valid label: {r.reason}"))
    keep = [row for n, row in rows if n not in bad_fix]
    if keep:
        cat.upsert("grades", keep)
    out.written = len(keep)
    out.refused.sort(key=lambda r: r.index)
    return out


@dataclass(frozen=True)
class Gold:
    field_name: str
    values: list[str]  # the classes, in index order
    rows: list[dict[str, Any]]  # per target: target_id, value, confidence, n_labels, score


def gold(project: Project, field_name: str, *, schema: LabelSchema | None = None) -> Gold:
    """Gold values of a class/ordinal field by Dawid–Skene over its graded labels."""
    schema = schema or load_schema(project.root / SCHEMA_FILE)
    spec = schema.fields.get(field_name)
    if spec is None or spec.type not in ("class", "ordinal"):
        raise ValueError(f"gold values need a class or ordinal field; {field_name!r} is "
                         f"{'not in the schema' if spec is None else spec.type}")
    with project.catalog().connect() as con:
        rows = Q.graded_labels(con, field_name)
    if not rows:
        raise ValueError(f"no labels of field {field_name!r} to build gold values from")
    values = list(spec.values)
    targets = sorted({r["target_id"] for r in rows})
    annotators = sorted({r["annotator"] for r in rows})
    ti, ai, vi = ({t: n for n, t in enumerate(targets)}, {a: n for n, a in enumerate(annotators)},
                  {v: n for n, v in enumerate(values)})
    kept = [r for r in rows if r["verdict"] not in ("reject", "fix") and r["value"] in vi]  # a fix is a label itself
    i = np.array([ti[r["target_id"]] for r in kept], np.int64)
    j = np.array([ai[r["annotator"]] for r in kept], np.int64)
    lab = np.array([vi[r["value"]] for r in kept], np.int64)
    ds = dawid_skene(i, j, lab, n_items=len(targets), n_annotators=len(annotators), n_classes=len(values))
    counts = np.bincount(i, minlength=len(targets))
    scores: dict[str, list[float]] = {}
    for r in rows:
        if r["score"] is not None:
            scores.setdefault(r["target_id"], []).append(float(r["score"]))
    out = [{"target_id": t, "value": values[int(ds.gold[n])] if ds.gold[n] >= 0 else None,
            "confidence": round(float(ds.confidence[n]), 4), "n_labels": int(counts[n]),
            "score": round(float(np.mean(scores[t])), 3) if t in scores else None}
           for n, t in enumerate(targets)]
    return Gold(field_name, values, out)


def best_data(g: Gold, *, min_confidence: float = 0.9, min_score: float | None = None) -> list[dict[str, Any]]:
    """The targets worth training on, each with a weight: gold confidence (times score / 5 when
    graded). Kept: confidence >= ``min_confidence`` and, when scored, score >= ``min_score``."""
    out = []
    for r in g.rows:
        if r["value"] is None or r["confidence"] < min_confidence:
            continue
        if min_score is not None and r["score"] is not None and r["score"] < min_score:
            continue
        weight = r["confidence"] * (r["score"] / 5.0 if r["score"] is not None else 1.0)
        out.append(r | {"weight": round(weight, 4)})
    return out


def import_grades(project: Project, path: Any) -> GradeWrite:
    """Grades from a JSON Lines file; ``Refused.index`` is the 0-based line number."""
    objs, bad, lines = read_jsonl(path)
    return on_lines(grade_labels(project, objs), bad, lines)


def write_best(rows: list[dict[str, Any]], path: Any) -> None:
    """The best-data rows as Parquet, through a temp file (never a half-written export)."""
    import os
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    pq.write_table(pa.Table.from_pylist(rows) if rows else pa.table({"target_id": pa.array([], pa.string())}), tmp)
    os.replace(tmp, out)
