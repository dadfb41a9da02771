"""The label-noise check: per class field, the fraction of suspect labels overall, per slice and
per annotator, with intervals, against the task's tolerance.

Two estimates, because they see different errors:

* *annotator disagreement* — a label is suspect when it differs from its target's consensus
  (three or more annotators), the consensus being Dawid–Skene's: each annotator's labels weighed
  by how reliable they are on that class, learnt from all the field's labels
  (``annotate.consensus``). A plain majority of the others was tried first: where four
  annotators split 2–2, each side is the other's 2–1 majority and the right labels are flagged
  with the wrong ones (precision 0.76–0.78 on the demo's ``vocal``; Dawid–Skene 0.84–1.00). It
  finds each annotator's private errors and systematic confusions (one crowd worker who calls
  every lying animal at night "down"), needs nothing but the labels, and names the labels and
  who gave them;
* *confident learning* — where the catalog holds embeddings of the labelled targets (any
  representation; the one covering most targets is used), out-of-fold probabilities from a model
  trained on the other entities (``label_noise.out_of_fold_probs``, groups = entities) and
  Confident Learning flag the labels the data disputes (``label_noise.find_label_issues``) —
  errors every annotator makes included. It runs only where the model can predict the field
  (out-of-fold balanced accuracy at least ``SKILL`` above chance): a model that cannot see the
  label disputes every label, and its "noise" would be its own blindness.

Each estimate is one finding per field (``info`` when within tolerance: the measurement is
evidence too), plus one per slice and per annotator over the tolerance — the night shift's or
one worker's noise, which a field-wide average hides. The verdict compares the suspect fraction
with the task's tolerance (``audit: label_noise_warn / label_noise_fail`` in ``task.yaml``; 10 %
and 25 % by default) and says "undetermined" when the interval straddles a threshold. Slices are
the capture conditions of the targets (lighting...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from syncline.annotate.schema import SCHEMA_FILE, load_schema
from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.audit.gold import consensus
from syncline.audit.label_noise import (
    find_label_issues,
    out_of_fold_probs,
    rank_label_issues,
    suspect_fraction,
    verdict,
)
from syncline.catalog import query as Q
from syncline.project import Project

SLICE_KEY, SKILL = "lighting", 0.2
SEVERITY = {"ok": "info", "warn": "warning", "fail": "error"}
ACTION = ("review the suspect labels (the grader queue), tighten the guidelines where they cluster, and re-estimate; "
          "do not train on the field until it is within tolerance")


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
        majority = consensus(labels[field])
        targets = sorted(majority)
        part: dict[str, Any] = {"targets": len(targets)}
        part["disagreement"] = _disagreement(result, field, labels[field], slices[field], limits, majority)
        cond = np.array([slices[field].get(t, "unknown") for t in targets])
        part["confident_learning"] = _confident(result, field, targets, majority, cond, entities[field],
                                                vectors[field], limits)
        result.summary[field] = part
    return result


def suspect_labels(rows: list[tuple[str, str, str]], min_annotators: int = 3,
                   gold: dict[str, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(judged, suspect) per row of ``(target, annotator, value)``: judged where the target has
    ``min_annotators`` or more annotators; suspect where the row's value is not the target's
    consensus (``gold``, else ``audit.gold.consensus`` of the rows). No loop over labels: the
    consensus is looked up once per target."""
    if not rows:
        return np.zeros(0, bool), np.zeros(0, bool)
    targets, t = np.unique([r[0] for r in rows], return_inverse=True)
    values, v = np.unique([r[2] for r in rows], return_inverse=True)
    t, v = t.ravel(), v.ravel()
    judged = np.bincount(t)[t] >= min_annotators
    if not judged.any():
        return judged, judged.copy()
    gold = consensus(rows) if gold is None else gold
    code = {value: i for i, value in enumerate(values.tolist())}
    gold_code = np.array([code.get(gold.get(str(k), ""), -1) for k in targets.tolist()])
    return judged, judged & (gold_code[t] != v)


def _tolerance(project: Project) -> tuple[float, float]:
    """(warn, fail) from the task spec; the defaults when it is missing or invalid (``syncline
    task check`` reports that)."""
    from syncline.task import TaskSpecError, load_task

    try:
        policy = load_task(project.task_path).audit
    except (TaskSpecError, OSError):
        return 0.10, 0.25
    return policy.label_noise_warn, policy.label_noise_fail


def _rate(r: Any) -> dict[str, Any]:
    return {"n": r.n, "suspects": r.suspects, "fraction": round(r.fraction, 4),
            "interval": [round(r.low, 4), round(r.high, 4)]}


def _disagreement(result: CheckResult, field: str, rows: list[tuple[str, str, str]], slices: dict[str, str],
                  limits: tuple[float, float], gold: dict[str, str]) -> dict[str, Any]:
    judged, suspect = suspect_labels(rows, gold=gold)
    if not judged.any():
        return {"ran": False, "why_not": "no target has three or more annotators (with two, who is wrong cannot be "
                                         "told): have more annotators label a sample of the targets"}
    keep = np.flatnonzero(judged)
    cond = np.array([slices.get(rows[i][0], "unknown") for i in keep])
    who = np.array([rows[i][1] for i in keep])
    flagged = [[rows[i][0], rows[i][1], rows[i][2]] for i in np.flatnonzero(suspect)]
    out = _report(result, field, "disagreement", suspect[keep], cond, limits, flagged)
    out["labels"] = len(rows)
    by_annotator = suspect_fraction(suspect[keep], who)["slices"]
    out["annotators"] = {a: _rate(r) for a, r in by_annotator.items()}
    for a, r in by_annotator.items():
        v = verdict(r, *limits)
        if v.level != "ok":
            result.findings.append(Finding(
                "label_noise.annotator", SEVERITY[v.level],  # type: ignore[arg-type]
                f"{field}: {r.suspects} of {r.n} of {a}'s labels differ from the annotators' consensus "
                f"({r.fraction:.1%}, 95% [{r.low:.1%}, {r.high:.1%}]){_state(v)}",
                f"review {a}'s {field} labels against the guidelines (and retrain or re-qualify); "
                "grade a sample of them", "annotator", a,
                details={"field": field, **_rate(r), "suspects": [x for x in flagged if x[1] == a]}))
    return out


def _state(v: Any) -> str:
    return " (undetermined: the interval straddles a threshold)" if v.undetermined else ""


def _report(result: CheckResult, field: str, how: str, mask: np.ndarray, cond: np.ndarray,
            limits: tuple[float, float], flagged: list[list[str]]) -> dict[str, Any]:
    est = suspect_fraction(mask, cond)
    overall = est["overall"]
    warn, fail = limits
    v = verdict(overall, warn, fail)
    out = {"ran": True, **_rate(overall), "verdict": v.level, "undetermined": v.undetermined,
           "slices": {k: _rate(r) for k, r in est["slices"].items()}}
    over = f"over the {warn:.0%}/{fail:.0%} tolerance" if v.level != "ok" else f"within the {warn:.0%} tolerance"
    result.findings.append(Finding(
        f"label_noise.{how}", SEVERITY[v.level],  # type: ignore[arg-type]
        f"{field}: {overall.suspects} of {overall.n} labels suspect by {how.replace('_', ' ')} "
        f"({overall.fraction:.1%}, 95% [{overall.low:.1%}, {overall.high:.1%}]) — {over}{_state(v)}",
        ACTION if v.level != "ok" else "none: keep measuring as labels arrive", "field", field,
        details={k: out[k] for k in ("fraction", "interval", "slices", "n")} | {"suspects": flagged}))
    for key, r in est["slices"].items():
        sv = verdict(r, warn, fail)
        if sv.level != "ok" and len(est["slices"]) > 1:
            result.findings.append(Finding(
                f"label_noise.{how}_slice", SEVERITY[sv.level],  # type: ignore[arg-type]
                f"{field} at {SLICE_KEY}={key}: {r.suspects} of {r.n} labels suspect by {how.replace('_', ' ')} "
                f"({r.fraction:.1%}, 95% [{r.low:.1%}, {r.high:.1%}]) — over the {warn:.0%}/{fail:.0%} "
                f"tolerance{_state(sv)}", ACTION, "field", f"{field}@{SLICE_KEY}={key}",
                details={"field": field, "slice": {SLICE_KEY: key}, **_rate(r)}))
    return out


def _confident(result: CheckResult, field: str, targets: list[str], majority: dict[str, str], cond: np.ndarray,
               entity: dict[str, str], vectors: dict[str, list[float]], limits: tuple[float, float]) -> dict[str, Any]:
    from sklearn.metrics import balanced_accuracy_score

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
    skill = float(balanced_accuracy_score(y, probs.argmax(axis=1)))
    chance = 1.0 / len(classes)
    if skill < chance + SKILL:
        return {"ran": False, "balanced_accuracy": round(skill, 3),
                "why_not": f"the embeddings do not predict {field} (out-of-fold balanced accuracy {skill:.2f}, chance "
                           f"{chance:.2f}): confident learning would dispute every label; use a representation "
                           "that sees the label"}
    mask = find_label_issues(y, probs)
    ranked = rank_label_issues(mask, y, probs)
    out = _report(result, field, "confident_learning", mask, cond[have], limits,
                  [[keep[int(i)], "", classes[y[int(i)]]] for i in ranked])
    out["balanced_accuracy"] = round(skill, 3)
    out["most_suspect"] = [{"target_id": keep[int(i)], "label": classes[y[int(i)]],
                            "model_says": classes[int(np.argmax(probs[int(i)]))]} for i in ranked[:20]]
    return out
