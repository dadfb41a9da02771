"""Which stage a wrong decision came from, from a pipeline run's traces: when the final answer is
wrong, was a perception stage wrong first, was the input degraded (a stage fell back, was skipped
or abstained upstream), did fusion go wrong on right perceptions, or did the decision rule choose
against a fusion that was right?

A perception stage is checked against the label field whose values are its classes (the
``see`` head's classes are posture's values: it is checked against the posture labels'
consensus), on the rows that have such a label. Per wrong decision, in this order:

1. ``perception: <stage>`` — the first perception stage (in the pipeline's order) whose top class
   is not its field's label;
2. ``degraded: <stage> <status>`` — otherwise, a stage that fell back, was skipped or abstained;
3. ``decision`` — the fusion's top class was the truth, the cost matrix and thresholds chose
   otherwise;
4. ``fusion`` — the fusion's top class was not the truth, on inputs that were right (or
   unchecked); ``unexplained`` when there is no fusion stage or no fusion output to check.

Each share comes with its Wilson interval, and the same checks on the *right* decisions, so a
perception stage that is wrong as often when the decision is right is not blamed by default.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np

from syncline.audit.gold import consensus
from syncline.catalog import query as Q
from syncline.evaluate.intervals import wilson
from syncline.project import Project

DEGRADED = ("fallback", "skipped", "abstained")


def _top(outputs_json: Any, classes: list[str]) -> str | None:
    try:
        probs = json.loads(outputs_json or "{}").get("probabilities")
    except ValueError:
        return None
    if not isinstance(probs, list) or len(probs) != len(classes) or any(p is None for p in probs):
        return None
    return classes[int(np.argmax(probs))]


def _field_of(classes: set[str], fields: dict[str, set[str]]) -> str | None:
    """The label field a perception stage speaks: its values are the stage's classes (or, where a
    class was never labelled, all lie among them), the largest overlap of at least two."""
    fit = [(len(v & classes), f) for f, v in fields.items() if len(v & classes) >= 2 and (v <= classes or classes <= v)]
    return max(fit)[1] if fit else None


def attribute(project: Project, run: dict[str, Any], target_ids: list[str], truth: list[str | None],
              answer: list[str | None]) -> dict[str, Any]:
    """Blame per wrong decision (and the same checks on right ones), for the labelled, answered
    rows of a pipeline run."""
    config = json.loads(run.get("config_json") or "{}")
    stages = config.get("stages") or []
    if run.get("kind") not in ("pipeline", "redteam") or not stages:
        return {"note": "no pipeline traces: stage attribution needs a syncline pipeline run"}
    order = [s["name"] for s in stages]
    fusion = [s for s in stages if s["role"] == "fusion" and s.get("classes")]
    with project.catalog().connect() as con:
        fields = {f: set(v) for f, v in Q.label_values(con).items()}
        checked = {}
        for s in stages:
            if s["role"] == "perception" and s.get("classes"):
                field = _field_of(set(s["classes"]), fields)
                if field:
                    checked[s["name"]] = (field, s["classes"])
        gold = {f: consensus(Q.field_labels(con, f)) for f in {f for f, _ in checked.values()}}
        traces = Q.run_traces(con, run["run_id"], target_ids)
    by_target: dict[str, dict[str, tuple[str, Any]]] = {}
    for t, stage, status, out in traces:
        by_target.setdefault(t, {})[stage] = (status, out)
    blame: dict[str, Counter[str]] = {"wrong": Counter(), "right": Counter()}
    for t, y, a in zip(target_ids, truth, answer, strict=True):
        tr = by_target.get(t, {})
        side = "right" if y == a else "wrong"
        cause = None
        for name in order:
            if name in checked and name in tr:
                field, classes = checked[name]
                label = gold[field].get(t)
                top = _top(tr[name][1], classes)
                if label is not None and top is not None and top != label:
                    cause = f"perception: {name} (its {field} is not the label's)"
                    break
        if cause is None:
            bad = next((f"degraded: {n} {tr[n][0]}" for n in order if n in tr and tr[n][0] in DEGRADED), None)
            cause = bad
        if cause is None and fusion:  # the last fusion stage that ran on the row (a stand-in writes under its main)
            last = next((f for f in reversed(fusion) if f["name"] in tr), None)
            top = _top(tr[last["name"]][1], last["classes"]) if last is not None else None
            cause = (None if top is None else "decision" if top == y and a != y else "fusion")
        blame[side][cause or "unexplained (no fusion output to check)"] += 1
    out = {}
    for side, counter in blame.items():
        n = sum(counter.values())
        rows = []
        for cause, k in counter.most_common():
            lo, hi = wilson(k, n)
            rows.append({"cause": cause, "rows": k, "share": round(k / n, 6), "lo": round(float(lo), 6),
                         "hi": round(float(hi), 6)})
        out[side] = {"rows": n, "causes": rows}
    out["checked_stages"] = {name: field for name, (field, _) in checked.items()}
    return out
