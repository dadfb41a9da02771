"""The rows an evaluation counts: one run's predictions of a field, each with its label's
consensus, its slice memberships and, for a comparison, another run's answer on the same target.

The truth of a target is the Dawid–Skene consensus of its labels (``audit.gold.consensus``: the
expert settles a two-way disagreement). ``split="auto"`` keeps the ``test`` split when the
targets have splits (a head scored on the rows it was fitted on says nothing) and every
prediction otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from syncline.audit.gold import consensus
from syncline.catalog import query as Q
from syncline.evaluate.slices import SliceSet, condition_sql, slice_set
from syncline.project import Project
from syncline.splits import SPLITS
from syncline.task.slices import Condition
from syncline.task.spec import TaskSpec, load_task


@dataclass
class Rows:
    run: dict[str, Any]
    field: str  # the label field evaluated
    split: str
    classes: list[str]
    slices: SliceSet
    target_ids: list[str]
    entity_ids: NDArray[np.object_]
    t0_ns: NDArray[np.int64]  # the segment's span (-1 for an entity target)
    t1_ns: NDArray[np.int64]
    truth: NDArray[np.int64]  # class index, -1 unlabelled
    pred: NDArray[np.int64]  # class index, -1 no answer
    conf: NDArray[np.float64]
    latency_ms: NDArray[np.float64]
    routed: NDArray[np.bool_]
    group: NDArray[np.int64]
    patterns: NDArray[np.bool_]  # groups x slices
    snapshot: dict[str, int]
    spec: TaskSpec
    other: NDArray[np.int64] | None = None  # the compared run's answer (-1: none)
    candidates: list[str] = dc_field(default_factory=list)  # slice search: each condition, as a task spec writes
    candidate_columns: list[str] = dc_field(default_factory=list)
    candidate_member: NDArray[np.bool_] | None = None  # groups x candidates
    notes: list[str] = dc_field(default_factory=list)
    suite: str | None = None  # name@version of the scenario suite the rows were restricted to

    def per_group(self, mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        """How many rows of ``mask`` each group holds."""
        return np.bincount(self.group[mask], minlength=self.patterns.shape[0])

    def per_slice(self, counts: NDArray[np.number]) -> NDArray[np.int64]:
        """Per-group counts (groups, or groups x anything) summed over each slice's groups."""
        return np.rint(self.patterns.T.astype(np.float64) @ np.asarray(counts, np.float64)).astype(np.int64)

    def costs(self) -> NDArray[np.float64] | None:
        if self.field != self.spec.decision.field:
            return None
        return np.array([[self.spec.cost(t, p) for p in self.classes] for t in self.classes], np.float64)


def resolve_any_run(project: Project, run_id: str) -> dict[str, Any]:
    with project.catalog().connect() as con:
        found = Q.runs_with_prefix(con, run_id)
        if len(found) != 1:
            raise ValueError(f"no run {run_id!r}" if not found else
                             f"{run_id!r} names {len(found)} runs ({', '.join(f[:16] for f in found[:4])}…): give more")
        row = Q.run_row(con, found[0])
    assert row is not None
    return row


def _codes(col: pa.ChunkedArray, classes: list[str]) -> NDArray[np.int64]:
    return np.asarray(pc.fill_null(pc.index_in(col, value_set=pa.array(classes)), -1).to_numpy(), np.int64)


def load_rows(project: Project, run_id: str, *, field_name: str | None = None, split: str = "auto",
              intersections: bool = True, compare_with: str | None = None, search: bool = False,
              suite: str | None = None) -> Rows:
    if split not in ("auto", "all", *SPLITS):
        raise ValueError(f"unknown split {split!r}; choose auto, all, {', '.join(SPLITS)}")
    run = resolve_any_run(project, run_id)
    field_name = field_name or json.loads(run.get("config_json") or "{}").get("field")
    if not field_name:
        raise ValueError(f"run {run['run_id'][:16]} does not say which field it predicts: pass --field")
    spec = load_task(project.task_path)
    if field_name not in spec.labels:
        raise ValueError(f"field {field_name!r} is not in the task spec's labels ({', '.join(spec.labels)})")
    classes = list(spec.labels[field_name].values)
    sset = slice_set(spec.slices, intersections=intersections)
    other_run = resolve_any_run(project, compare_with) if compare_with else None
    cat = project.catalog()
    snapshot = cat.snapshot()
    notes: list[str] = []
    if run.get("status") not in ("finished", None):
        why = json.loads(run.get("config_json") or "{}").get("invalidated_by", {}).get("action", "")
        notes.append(f"run {run['run_id'][:12]} is {run['status']}" + (f" ({why}: rows it used were removed; "
                     "what remains is evaluated)" if why else ""))
    with cat.connect(versions=snapshot) as con:
        search_columns = [c for c in Q.slice_candidates(con) if c not in sset.columns] if search else []
        frame = Q.prediction_frame(con, run["run_id"], field_name, [*sset.columns, *search_columns, "split"])
        if frame.num_rows == 0:
            raise ValueError(f"run {run['run_id'][:16]} has no predictions of {field_name!r}")
        gold = consensus(Q.field_labels(con, field_name))
        frame = Q.join_on_target(con, frame, pa.table({"target_id": pa.array(list(gold), pa.string()),
                                                       "truth": pa.array(list(gold.values()), pa.string())}))
        if other_run is not None:
            other = Q.prediction_frame(con, other_run["run_id"], field_name, [])
            if other.num_rows == 0:
                raise ValueError(f"run {other_run['run_id'][:16]} has no predictions of {field_name!r}")
            frame = Q.join_on_target(con, frame, other.select(["target_id", "value"]).rename_columns(
                ["target_id", "other_value"]))
        if suite is not None:  # a scenario suite: only its targets, whatever their split
            from syncline.evaluate.scenarios import resolve_suite

            name, version, members = resolve_suite(project, suite)
            frame = frame.filter(pc.is_in(frame.column("target_id"), value_set=pa.array(members, pa.string())))
            notes.append(f"scenario suite {name}@{version}: {frame.num_rows} of its {len(members)} targets predicted")
            if frame.num_rows == 0:
                raise ValueError(f"run {run['run_id'][:16]} predicts none of suite {name}@{version}'s targets")
            split = "all" if split == "auto" else split
        has_split = pc.sum(pc.is_valid(frame.column("split"))).as_py() or 0
        if split == "auto":
            split = "test" if has_split else "all"
            notes.append("evaluated on the test split (the targets have splits)" if has_split else
                         "no splits assigned: every labelled prediction is evaluated (run `syncline split`)")
        if split != "all":
            frame = frame.filter(pc.fill_null(pc.equal(frame.column("split"), split), False))
            if frame.num_rows == 0:
                raise ValueError(f"no predictions of {field_name!r} on targets of the {split!r} split")
        tops = list(dict.fromkeys(c.split(".")[0] for c in [*sset.columns, *search_columns]))
        group, first = Q.frame_groups(con, frame, tops)  # slices are evaluated once per distinct combination
        reps = frame.take(first)
        member = Q.slice_membership(con, reps, sset.predicates)
        notes += _empty_slices(con, spec.slices, member, reps, frame.num_rows)
        conds: list[Condition] = []
        if search:
            for col in dict.fromkeys([*sset.columns, *search_columns]):
                if col in ("split", "entity_id") or col.startswith(("quality.", "coverage.")):
                    continue
                values = Q.frame_values(con, reps, col, Q.frame_column_is_list(col))
                if 2 <= len(values) <= 12:
                    conds += [Condition(column=col, op="==", value=v) for v in values]
            cand = Q.slice_membership(con, reps, [condition_sql(c) for c in conds]) if conds else None
    patterns = np.column_stack([member.column(i).to_numpy(zero_copy_only=False)
                                for i in range(member.num_columns)]).astype(bool)
    pred = _codes(frame.column("value"), classes)
    unknown = int(pc.sum(pc.and_(pc.is_valid(frame.column("value")), pc.equal(pa.array(pred), -1))).as_py() or 0)
    if unknown:
        notes.append(f"{unknown} predictions hold a value that is not a class of {field_name!r}: counted as no answer")
    extra: dict[str, Any] = {"suite": f"{name}@{version}"} if suite is not None else {}
    if search and conds and cand is not None:
        extra |= {"candidates": [f"{c.column} == {c.value!r}" for c in conds],
                 "candidate_columns": [c.column for c in conds],
                 "candidate_member": np.column_stack([cand.column(i).to_numpy(zero_copy_only=False)
                                                      for i in range(cand.num_columns)]).astype(bool)}
    return Rows(run=run, field=field_name, split=split, classes=classes, slices=sset,
                target_ids=frame.column("target_id").to_pylist(),
                entity_ids=np.asarray(frame.column("entity_id").to_pylist(), object),
                t0_ns=np.asarray(pc.fill_null(frame.column("t0_ns"), -1).to_numpy(), np.int64),
                t1_ns=np.asarray(pc.fill_null(frame.column("t1_ns"), -1).to_numpy(), np.int64),
                truth=_codes(frame.column("truth"), classes),
                pred=pred, conf=pc.fill_null(pc.cast(frame.column("score"), pa.float64()), np.nan).to_numpy(),
                latency_ms=pc.fill_null(pc.cast(frame.column("latency_ms"), pa.float64()), np.nan).to_numpy(),
                routed=np.asarray(pc.fill_null(frame.column("abstained"), False).to_numpy(zero_copy_only=False), bool),
                group=group, patterns=patterns, snapshot=snapshot, spec=spec,
                other=_codes(frame.column("other_value"), classes) if other_run is not None else None, notes=notes,
                **extra)


def _empty_slices(con: Any, slices: list[Any], member: pa.Table, reps: pa.Table, rows: int) -> list[str]:
    """A note for each task slice that matches no prediction, with the values its columns do
    hold: a typo in a key or a value (``attrs.barnn``, ``'nite'``) reads as a regime to collect."""
    notes = []
    for j, sl in enumerate(slices, start=1):  # member's columns: overall, then the task's slices in order
        if pc.any(member.column(j)).as_py():
            continue
        seen = []
        for cond in sl.where:
            values = Q.frame_values(con, reps, cond.column, Q.frame_column_is_list(cond.column), limit=8)
            shown = ", ".join(map(str, values[:8])) + (", …" if len(values) > 8 else "")
            seen.append(f"{cond.column} holds {shown}" if values else f"{cond.column} holds no value in any row")
        notes.append(f"slice {sl.name} matches none of the {rows} predictions evaluated: if that regime is real, "
                     f"collect it; else check its condition ({'; '.join(seen)})")
    return notes
