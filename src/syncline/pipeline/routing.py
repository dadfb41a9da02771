"""The decision stage's rule: the least expected cost under the task's cost matrix, then a route.

For class probabilities ``p`` (one row per segment) and the task's ``error_costs[true][predicted]``
as a matrix ``C``, the expected cost of predicting ``j`` is ``sum_i p_i C[i, j]``; the decision
is the cheapest (ties: the order of the labels in the task). Then each case is routed:

* ``review`` — its probability of the chosen label is below ``review.confidence_threshold``, or
  the label is one the task always sends to people (``review.always_review``);
* ``abstain`` — an upstream stage abstained (a modality it needs is missing);
* ``act`` — otherwise.

The review volume is reported against ``review.max_review_rate`` by whoever runs the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from syncline.pipeline.stage import Stage
from syncline.task.spec import TaskSpec


@dataclass(frozen=True)
class Routed:
    decision: np.ndarray  # (n,) label, object
    confidence: np.ndarray  # (n,) probability of the chosen label
    expected_cost: np.ndarray  # (n,)
    route: np.ndarray  # (n,) "act" | "review"


def cost_matrix(spec: TaskSpec, labels: list[str]) -> np.ndarray:
    """``C[i, j]``: the cost of predicting ``labels[j]`` when the truth is ``labels[i]``."""
    return np.array([[spec.cost(t, p) for p in labels] for t in labels], np.float64)


def decide(probabilities: np.ndarray, labels: list[str], spec: TaskSpec) -> Routed:
    """Least expected cost per row, and its route (``act`` or ``review``)."""
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or p.shape[1] != len(labels):
        raise ValueError(f"probabilities of shape {p.shape} do not match the {len(labels)} labels {labels}")
    expected = p @ cost_matrix(spec, labels)
    choice = np.argmin(expected, axis=1)
    rows = np.arange(len(p))
    confidence = p[rows, choice]
    decision = np.asarray(labels, object)[choice]
    field = spec.decision.field
    always = np.isin(decision, [v for f, v in map(spec.resolve, spec.review.always_review) if f == field])
    route = np.where((confidence < spec.review.confidence_threshold) | always, "review", "act").astype(object)
    return Routed(decision, confidence, expected[rows, choice], route)


def decision_stage(name: str, spec: TaskSpec, classes: list[str], source: str) -> Stage:
    """The decision stage: probabilities over ``classes`` (a head's, in its order) from ``source``
    (``"stage.port"``) to the least-cost decision and its route. Decision labels the head does
    not know get probability 0; a head class that is not a decision label is refused."""
    labels = spec.decision_labels
    unknown = [c for c in classes if c not in labels]
    if unknown:
        raise ValueError(f"decision {name}: {unknown} are not labels of the decision field "
                         f"{spec.decision.field} ({labels})")
    cols = [classes.index(lab) if lab in classes else -1 for lab in labels]

    def fn(p: np.ndarray) -> dict[str, np.ndarray]:
        p = np.asarray(p, np.float64)
        bad = ~np.isfinite(p).all(axis=1) | (np.abs(p.sum(axis=1) - 1.0) > 1e-3)
        if bad.any():  # the executor re-runs row by row: exactly these rows fail, with this reason
            raise ValueError(f"{int(bad.sum())} row(s) of probabilities are not finite or do not sum to 1 "
                             f"(e.g. {p[bad][0].round(4).tolist()}): no decision is taken on them")
        full = np.where(np.array(cols) >= 0, p[:, np.maximum(cols, 0)], 0.0)
        r = decide(full, labels, spec)
        return {"decision": r.decision, "confidence": r.confidence, "expected_cost": r.expected_cost,
                "route": r.route}

    return Stage(name, fn, {"p": f"{source}:probabilities"},
                 {"decision": "label", "confidence": "score", "expected_cost": "score", "route": "label"},
                 "decision", params={"task_hash": spec.content_hash(), "classes": classes})
