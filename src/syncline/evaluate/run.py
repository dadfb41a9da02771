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
import pyarrow.compute as pc

from syncline.audit.gold import consensus
from syncline.catalog import query as Q
from syncline.evaluate.calibration import ece, reliability, risk_coverage
from syncline.evaluate.counts import count
from syncline.evaluate.gaps import significant, slice_gaps
from syncline.evaluate.gates import GateResult, check_gates
from syncline.evaluate.metrics import Metric, classification_metrics
from syncline.evaluate.slices import groups, slice_set
from syncline.ids import stable_id
from syncline.project import Project
from syncline.task.spec import load_task

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

    def metric(self, slice_: str, metric: str, label: str | None = None) -> Metric:
        return next(m for m in self.metrics if (m.slice, m.metric, m.label) == (slice_, metric, label))

    def to_json(self) -> dict[str, Any]:
        return {"eval_id": self.eval_id, "run_id": self.run_id, "field": self.field, "split": self.split,
                "classes": self.classes, "slices": self.slices, "metrics": [m.to_json() for m in self.metrics],
                "gates": [g.to_json() for g in self.gates], "gaps": self.gaps, "calibration": self.calibration,
                "versions": self.versions, "notes": self.notes}


def resolve_any_run(project: Project, run_id: str) -> dict[str, Any]:
    with project.catalog().connect() as con:
        found = Q.runs_with_prefix(con, run_id)
        if len(found) != 1:
            raise ValueError(f"no run {run_id!r}" if not found else
                             f"{run_id!r} names {len(found)} runs ({', '.join(f[:16] for f in found[:4])}…): give more")
        row = Q.run_row(con, found[0])
    assert row is not None
    return row


def evaluate(project: Project, run_id: str, *, field_name: str | None = None, split: str = "auto",
             intersections: bool = True, draws: int = 1000, write: bool = True) -> Evaluation:
    run = resolve_any_run(project, run_id)
    config = json.loads(run.get("config_json") or "{}")
    field_name = field_name or config.get("field")
    if not field_name:
        raise ValueError(f"run {run['run_id'][:16]} does not say which field it predicts: pass --field")
    spec = load_task(project.task_path)
    if field_name not in spec.labels:
        raise ValueError(f"field {field_name!r} is not in the task spec's labels ({', '.join(spec.labels)})")
    classes = list(spec.labels[field_name].values)
    costs = (np.array([[spec.cost(t, p) for p in classes] for t in classes])
             if field_name == spec.decision.field else None)
    sset = slice_set(spec.slices, intersections=intersections)
    cat = project.catalog()
    snapshot = cat.snapshot()
    with cat.connect(versions=snapshot) as con:
        frame = Q.prediction_frame(con, run["run_id"], field_name, [*sset.columns, "split"])
        gold = consensus(Q.field_labels(con, field_name))
        if frame.num_rows == 0:
            raise ValueError(f"run {run['run_id'][:16]} has no predictions of {field_name!r}")
        truth_tab = pa.table({"target_id": pa.array(list(gold), pa.string()),
                              "truth": pa.array(list(gold.values()), pa.string())})
        frame = Q.with_truth(con, frame, truth_tab)
        notes = []
        has_split = pc.sum(pc.is_valid(frame.column("split"))).as_py() or 0
        if split == "auto":
            split = "test" if has_split else "all"
            notes.append("evaluated on the test split (the targets have splits)" if has_split else
                         "no splits assigned: every labelled prediction is evaluated (run `syncline split`)")
        if split != "all":
            frame = frame.filter(pc.fill_null(pc.equal(frame.column("split"), split), False))
            if frame.num_rows == 0:
                raise ValueError(f"no predictions of {field_name!r} on targets of the {split!r} split")
        member = Q.slice_membership(con, frame, sset.predicates)
    membership = np.column_stack([member.column(i).to_numpy(zero_copy_only=False)
                                  for i in range(member.num_columns)]).astype(bool)
    group, patterns = groups(membership)
    truth = pc.fill_null(pc.index_in(frame.column("truth"), value_set=pa.array(classes)), -1).to_numpy()
    value = pc.fill_null(pc.index_in(frame.column("value"), value_set=pa.array(classes)), -1).to_numpy()
    unknown = pc.sum(pc.and_(pc.is_valid(frame.column("value")), pc.equal(value, -1))).as_py() or 0
    if unknown:
        notes.append(f"{unknown} predictions hold a value that is not a class of {field_name!r}: counted as no answer")
    conf = pc.fill_null(pc.cast(frame.column("score"), pa.float64()), np.nan).to_numpy()
    latency = pc.fill_null(pc.cast(frame.column("latency_ms"), pa.float64()), np.nan).to_numpy()
    routed = pc.fill_null(frame.column("abstained"), False).to_numpy(zero_copy_only=False).astype(bool)
    c = count(classes, group, patterns, truth.astype(np.int64), value.astype(np.int64), conf, latency, routed)
    metrics = classification_metrics(sset.names, c, costs=costs, draws=draws) + ece(sset.names, c, draws=draws)
    task_slices = [s.name for s in spec.slices]
    gate_results = check_gates(spec.hard_gates, metrics, field_name, classes, task_slices)
    gaps = significant(slice_gaps(sset.names, c))
    labelled = c.confusion.sum(axis=(1, 2))
    slices = [{"name": n, "description": sset.descriptions.get(n, ""), "rows": int(c.rows[i]),
               "labelled": int(labelled[i]), "too_small": bool(labelled[i] < SMALL_SLICE)}
              for i, n in enumerate(sset.names)]
    calibration = {n: {"reliability": reliability(c, i), "risk_coverage": risk_coverage(c, i)}
                   for i, n in enumerate(sset.names) if c.conf_n[i].sum() > 0}
    started = time.time_ns()
    eval_id = stable_id("eval", run["run_id"], field_name, split, json.dumps(snapshot, sort_keys=True), started)
    versions = {"tables": snapshot, "task_hash": spec.content_hash(), "evaluated_run": run["run_id"],
                "model": [run.get("model_name"), run.get("model_version")],
                "representations": run.get("representation_ids") or [],
                "evaluated_run_tables": json.loads(run.get("table_versions_json") or "{}")}
    ev = Evaluation(eval_id, run["run_id"], field_name, split, classes, slices, metrics, gate_results,
                    [g.to_json() for g in gaps], calibration, versions, notes)
    if write:
        _write(project, ev, started)
    return ev


def _write(project: Project, ev: Evaluation, started: int) -> None:
    cat = project.catalog()
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
    summary = {"field": ev.field, "split": ev.split, "evaluated_run": ev.run_id,
               "gates": [g.to_json() for g in ev.gates], "gaps": ev.gaps, "slices": ev.slices, "notes": ev.notes}
    cat.upsert("runs", [{"run_id": ev.eval_id, "kind": "eval", "started_utc_ns": started,
                         "finished_utc_ns": time.time_ns(), "status": "finished",
                         "task_hash": ev.versions["task_hash"], "model_name": ev.versions["model"][0],
                         "model_version": ev.versions["model"][1],
                         "representation_ids": list(ev.versions["representations"]),
                         "table_versions_json": json.dumps(ev.versions["tables"], sort_keys=True),
                         "config_json": json.dumps(summary, sort_keys=True, default=str)}])
