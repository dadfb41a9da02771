"""The label-noise check: per class field, the fraction of suspect labels overall and per slice,
with intervals, against the task's tolerance.

Two estimates, because they see different errors:

* *annotator disagreement* — a target whose annotators agree with its majority label less than
  ``AGREE`` of the time (ties included) is suspect: cheap, needs two or more annotators;
* *confident learning* — where the catalog holds embeddings of the labelled targets (any
  representation; the one covering most targets is used), out-of-fold probabilities from a model
  trained on the other entities (``label_noise.out_of_fold_probs``, groups = entities) and
  Confident Learning flag the labels the data disputes (``label_noise.find_label_issues``) —
  errors every annotator makes included. Without embeddings this part says why it did not run.

The verdict compares the suspect fraction with the task's tolerance (``audit:
label_noise_warn / label_noise_fail`` in ``task.yaml``; 10 % and 25 % by default) and says
"undetermined" when the interval straddles a threshold.
Slices are the capture conditions of the targets (lighting...).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from syncline.annotate.schema import SCHEMA_FILE, load_schema
from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.audit.label_noise import (
    find_label_issues,
    out_of_fold_probs,
    rank_label_issues,
    suspect_fraction,
    verdict,
)
from syncline.catalog import query as Q
from syncline.project import Project

AGREE, SLICE_KEY = 0.6, "lighting"
SEVERITY = {"ok": "info", "warn": "warning", "fail": "error"}


def label_noise(project: Project) -> CheckResult:
    path = project.root / SCHEMA_FILE
    if not path.exists():
        raise CannotRun(f"no label schema ({SCHEMA_FILE}): declare the label fields and import labels first")
    fields = [n for n, f in load_schema(path).fields.items() if f.type in ("class", "ordinal")]
    with project.catalog().connect() as con:
        labels = {f: Q.field_labels(con, f) for f in fields}
        slices = {f: Q.target_slices(con, f, SLICE_KEY) for f in fields if labels[f]}
        entities = {f: Q.target_slices(con, f, "entity") for f in fields if labels[f]}
        vectors = {f: Q.target_embeddings(con, f) for f in fields if labels[f]}
    if not any(labels.values()):
        raise CannotRun("no class labels in the catalog: import labels (syncline labels import) first")
    result = CheckResult("label_noise", ran=True)
    limits = _tolerance(project)
    result.summary["tolerance"] = {"warn": limits[0], "fail": limits[1]}
    for field in [f for f in fields if labels[f]]:
        majority, agree = _consensus(labels[field])
        targets = sorted(majority)
        part: dict[str, Any] = {"targets": len(targets)}
        cond = np.array([slices[field].get(t, "unknown") for t in targets])
        shares = np.array([agree[t] for t in targets])
        per_target = Counter(t for t, _, _ in labels[field])
        multi = np.array([per_target[t] > 1 for t in targets])
        if multi.any():
            mask = (shares < AGREE) & multi
            part["disagreement"] = _report(result, field, "disagreement", mask[multi], cond[multi], limits)
        else:
            part["disagreement"] = {"ran": False, "why_not": "one annotator per target: nothing to disagree with"}
        part["confident_learning"] = _confident(result, field, targets, majority, cond, entities[field],
                                                vectors[field], limits)
        result.summary[field] = part
    return result


def _consensus(rows: list[tuple[str, str, str]]) -> tuple[dict[str, str], dict[str, float]]:
    by: dict[str, list[str]] = {}
    for t, _, v in rows:
        by.setdefault(t, []).append(v)
    majority, agree = {}, {}
    for t, values in by.items():
        counts = Counter(values).most_common()
        top = [v for v, c in counts if c == counts[0][1]]
        majority[t] = sorted(top)[0]
        agree[t] = counts[0][1] / len(values) if len(top) == 1 else 0.0  # a tie is no agreement
    return majority, agree


def _tolerance(project: Project) -> tuple[float, float]:
    """(warn, fail) from the task spec; the defaults when it is missing or invalid (``syncline
    task check`` reports that)."""
    from syncline.task import TaskSpecError, load_task

    try:
        policy = load_task(project.task_path).audit
    except (TaskSpecError, OSError):
        return 0.10, 0.25
    return policy.label_noise_warn, policy.label_noise_fail


def _report(result: CheckResult, field: str, how: str, mask: np.ndarray, cond: np.ndarray,
            limits: tuple[float, float]) -> dict[str, Any]:
    est = suspect_fraction(mask, cond)
    overall = est["overall"]
    warn, fail = limits
    v = verdict(overall, warn, fail)
    out = {"ran": True, "suspects": overall.suspects, "n": overall.n, "fraction": round(overall.fraction, 4),
           "interval": [round(overall.low, 4), round(overall.high, 4)], "verdict": v.level,
           "undetermined": v.undetermined,
           "slices": {k: {"n": r.n, "suspects": r.suspects, "fraction": round(r.fraction, 4),
                          "interval": [round(r.low, 4), round(r.high, 4)]} for k, r in est["slices"].items()}}
    if v.level != "ok":
        state = " (undetermined: the interval straddles a threshold)" if v.undetermined else ""
        result.findings.append(Finding(
            f"label_noise.{how}", SEVERITY[v.level],  # type: ignore[arg-type]
            f"{field}: {overall.suspects} of {overall.n} labels suspect by {how} ({overall.fraction:.1%}, 95% "
            f"[{overall.low:.1%}, {overall.high:.1%}]) — over the {warn:.0%}/{fail:.0%} tolerance{state}",
            "review the suspect labels (the grader queue), tighten the guidelines where they cluster, and "
            "re-estimate; do not train on the field until it is within tolerance", "field", field,
            details={k: out[k] for k in ("fraction", "interval", "slices")}))
    return out


def _confident(result: CheckResult, field: str, targets: list[str], majority: dict[str, str], cond: np.ndarray,
               entity: dict[str, str], vectors: dict[str, list[float]], limits: tuple[float, float]) -> dict[str, Any]:
    have = np.array([t in vectors for t in targets])
    if have.sum() < 20:
        return {"ran": False, "why_not": f"embeddings for {int(have.sum())} of {len(targets)} labelled targets: "
                                         "compute a representation of the targets (20 or more) first"}
    keep = [t for t in targets if t in vectors]
    classes = sorted({majority[t] for t in keep})
    y = np.array([classes.index(majority[t]) for t in keep])
    x = np.array([vectors[t] for t in keep], np.float64)
    groups = np.array([entity.get(t, "?") for t in keep])
    try:
        probs = out_of_fold_probs(x, y, groups if len(set(groups)) >= 2 else None)
    except ValueError as e:
        return {"ran": False, "why_not": str(e)}
    mask = find_label_issues(y, probs)
    out = _report(result, field, "confident_learning", mask, cond[have], limits)
    ranked = rank_label_issues(mask, y, probs)
    out["most_suspect"] = [{"target_id": keep[int(i)], "label": classes[y[int(i)]],
                            "model_says": classes[int(np.argmax(probs[int(i)]))]} for i in ranked[:20]]
    return out
