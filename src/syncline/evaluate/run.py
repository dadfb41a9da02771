"""``syncline eval``: one run's predictions of a field against the labels, per slice, with
intervals, gates, gaps, calibration and abstention — written to the catalog as an evaluation run.

The truth of a target is the Dawid–Skene consensus of its labels (``audit.gold.consensus``: the
expert settles a two-way disagreement). By default only the ``test`` split is evaluated when
the field's targets have splits (a head scored on the rows it was fitted on says nothing), and
every labelled prediction otherwise; ``split="all"`` evaluates everything. The evaluation run
is pinned to the catalog's table versions, the evaluated run, the task spec's hash; its metric
rows (``metrics`` table) carry their sample size, interval and method.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np
import pyarrow as pa

from syncline.evaluate.attribution import attribute
from syncline.evaluate.calibration import ece, reliability, risk_coverage
from syncline.evaluate.counts import SliceCounts, count
from syncline.evaluate.diagnose import confusion_pairs, data_request, error_clusters, segment_vectors_for
from syncline.evaluate.discover import discover
from syncline.evaluate.gaps import significant, slice_gaps
from syncline.evaluate.gates import GateResult, check_gates
from syncline.evaluate.metrics import Metric, classification_metrics
from syncline.evaluate.rows import Rows, load_rows
from syncline.ids import stable_id
from syncline.project import Project

SMALL_SLICE = 30  # below this many labelled rows, a slice's numbers are shown as too small to conclude from


@dataclass
class Evaluation:
    eval_id: str
    run_id: str
    field: str
    split: str
    classes: list[str]
    slices: list[dict[str, Any]]
    metrics: list[Metric]
    gates: list[GateResult]
    gaps: list[dict[str, Any]]
    calibration: dict[str, Any]
    versions: dict[str, Any]
    notes: list[str] = dc_field(default_factory=list)
    counts: SliceCounts | None = dc_field(default=None, repr=False)  # kept for the report's figures
    discovered: list[dict[str, Any]] = dc_field(default_factory=list)  # slices found by search (discover)
    diagnostics: dict[str, Any] = dc_field(default_factory=dict)  # confusion pairs, error clusters, data request

    def metric(self, slice_: str, metric: str, label: str | None = None) -> Metric:
        return next(m for m in self.metrics if (m.slice, m.metric, m.label) == (slice_, metric, label))

    def to_json(self) -> dict[str, Any]:
        return {"eval_id": self.eval_id, "run_id": self.run_id, "field": self.field, "split": self.split,
                "classes": self.classes, "slices": self.slices, "metrics": [m.to_json() for m in self.metrics],
                "gates": [g.to_json() for g in self.gates], "gaps": self.gaps, "calibration": self.calibration,
                "versions": self.versions, "notes": self.notes, "discovered": self.discovered,
                "diagnostics": self.diagnostics}


def evaluate(project: Project, run_id: str, *, field_name: str | None = None, split: str = "auto",
             intersections: bool = True, draws: int = 1000, write: bool = True, suite: str | None = None) -> Evaluation:
    r = load_rows(project, run_id, field_name=field_name, split=split, intersections=intersections, search=True,
                  suite=suite)
    names = r.slices.names
    c = count(r.classes, r.group, r.patterns, r.truth, r.pred, r.conf, r.latency_ms, r.routed)
    metrics = classification_metrics(names, c, costs=r.costs(), draws=draws) + ece(names, c, draws=draws)
    task_slices = [s.name for s in r.spec.slices]
    gate_results = check_gates(r.spec.hard_gates, metrics, r.field, r.classes, task_slices)
    gaps = significant(slice_gaps(names, c))
    found: list[dict[str, Any]] = []
    if r.candidate_member is not None:
        use = (r.truth >= 0) & (r.pred >= 0)
        found = discover(r.candidates, r.candidate_columns, r.candidate_member, r.per_group(use),
                         r.per_group(use & (r.truth != r.pred)))
    diagnostics = _diagnose(project, r, c, found)
    labelled = c.confusion.sum(axis=(1, 2))
    slices = [{"name": n, "description": r.slices.descriptions.get(n, ""), "rows": int(c.rows[i]),
               "labelled": int(labelled[i]), "too_small": bool(labelled[i] < SMALL_SLICE)}
              for i, n in enumerate(names)]
    calibration = {n: {"reliability": reliability(c, i), "risk_coverage": risk_coverage(c, i)}
                   for i, n in enumerate(names) if c.conf_n[i].sum() > 0}
    run = r.run
    started = time.time_ns()
    eval_id = stable_id("eval", run["run_id"], r.field, r.split, json.dumps(r.snapshot, sort_keys=True), started)
    versions = {"tables": r.snapshot, "task_hash": r.spec.content_hash(), "evaluated_run": run["run_id"],
                "model": [run.get("model_name"), run.get("model_version")],
                "representations": run.get("representation_ids") or [],
                "evaluated_run_tables": json.loads(run.get("table_versions_json") or "{}"), "suite": r.suite}
    ev = Evaluation(eval_id, run["run_id"], r.field, r.split, r.classes, slices, metrics, gate_results,
                    [g.to_json() for g in gaps], calibration, versions, list(r.notes), discovered=found)
    ev.diagnostics = diagnostics | {"data_request": data_request(ev, diagnostics["confusion_pairs"],
                                                                 _prevalence(names, c))}
    ev.counts = c
    if write:
        _write(project, ev, started)
    return ev


def _prevalence(names: list[str], c: SliceCounts) -> dict[tuple[str, str], float]:
    """Each class's share of each slice's labelled rows."""
    support = c.confusion.sum(axis=2)  # slices x truth
    tot = np.maximum(support.sum(axis=1), 1)
    return {(s, k): float(support[i, j] / tot[i]) for i, s in enumerate(names) for j, k in enumerate(c.classes)}


def _diagnose(project: Project, r: Rows, c: SliceCounts, found: list[dict[str, Any]]) -> dict[str, Any]:
    """Confusion pairs with example moments, and clusters of errors in representation space."""
    pairs = confusion_pairs(r.classes, r.truth, r.pred, r.conf, r.target_ids, r.entity_ids, r.t0_ns, r.t1_ns)
    use = (r.truth >= 0) & (r.pred >= 0)
    clusters: dict[str, Any] = {"k": 0, "rows": 0, "clusters": [], "note": "no segment spans to place in a space"}
    if use.any() and (r.t0_ns[use] >= 0).any():
        vecs, reps = segment_vectors_for(project, list(r.run.get("representation_ids") or []), r.entity_ids[use],
                                         r.t0_ns[use], r.t1_ns[use])
        if reps:
            targets = [t for t, u in zip(r.target_ids, use, strict=True) if u]
            clusters = error_clusters(vecs, (r.truth != r.pred)[use], r.patterns[r.group[use]], r.slices.names,
                                      targets, r.entity_ids[use], r.t0_ns[use], r.t1_ns[use])
            clusters["representations"] = reps
        else:
            clusters["note"] = "no stored representation covers the evaluated segments (syncline embed)"
    labelled = np.flatnonzero(use)
    names = np.asarray(r.classes, object)
    attribution = attribute(project, r.run, np.asarray(r.target_ids, object)[labelled].tolist(),
                            names[r.truth[labelled]].tolist(), names[r.pred[labelled]].tolist())
    return {"confusion_pairs": pairs, "error_clusters": clusters, "attribution": attribution}


def _write(project: Project, ev: Evaluation, started: int) -> None:
    """The run row first (running), then the metric rows, then the run finished: metrics never
    point at a run that does not exist, and a crash leaves a run that says it did not finish."""
    cat = project.catalog()
    summary = {"field": ev.field, "split": ev.split, "evaluated_run": ev.run_id,
               "gates": [g.to_json() for g in ev.gates], "gaps": ev.gaps, "slices": ev.slices, "notes": ev.notes,
               "suite": ev.versions.get("suite")}
    run = {"run_id": ev.eval_id, "kind": "eval", "started_utc_ns": started, "status": "running",
           "task_hash": ev.versions["task_hash"], "model_name": ev.versions["model"][0],
           "model_version": ev.versions["model"][1], "representation_ids": list(ev.versions["representations"]),
           "table_versions_json": json.dumps(ev.versions["tables"], sort_keys=True),
           "config_json": json.dumps(summary, sort_keys=True, default=str)}
    cat.upsert("runs", [run])
    rows = pa.table({
        "metric_id": [f"{ev.eval_id}|{m.slice}|{m.metric}|{m.label or ''}" for m in ev.metrics],
        "run_id": [ev.eval_id] * len(ev.metrics), "evaluated_run_id": [ev.run_id] * len(ev.metrics),
        "field": [ev.field] * len(ev.metrics), "slice": [m.slice for m in ev.metrics],
        "metric": [m.metric for m in ev.metrics], "label": [m.label for m in ev.metrics],
        "value": pa.array([m.value for m in ev.metrics], pa.float64()),
        "lo": pa.array([m.lo for m in ev.metrics], pa.float64()),
        "hi": pa.array([m.hi for m in ev.metrics], pa.float64()),
        "n": [m.n for m in ev.metrics], "k": pa.array([m.k for m in ev.metrics], pa.int64()),
        "method": [m.method for m in ev.metrics]})
    cat.append("metrics", cat.conform("metrics", rows))
    cat.upsert("runs", [run | {"status": "finished", "finished_utc_ns": time.time_ns()}])
