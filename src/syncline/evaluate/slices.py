"""The slices an evaluation reports: ``overall``, the task spec's slices, and their pairwise
intersections ("night & cam2") — the regimes where a model that is fine on average is terrible.

A slice is a DuckDB predicate over the prediction frame (``catalog.query.prediction_frame``):
the task's ``where`` conditions over capture context, entity attributes, audit quality columns,
modality coverage, splits. A condition on a file-level column (camera, ``context.lighting``) holds
when any of the target's files satisfies it: a segment filmed by cam1 and cam2 is in ``cam2``.
Rows are grouped by their membership pattern, so the counting pass
(``evaluate.counts``) runs once however many slices there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncline.catalog import query as Q
from syncline.task.slices import Condition, Slice, _sql_literal


@dataclass
class SliceSet:
    names: list[str]
    predicates: list[str]
    columns: list[str]  # the frame columns the predicates read
    descriptions: dict[str, str] = field(default_factory=dict)


def slice_set(slices: list[Slice], *, intersections: bool = True) -> SliceSet:
    """``overall``, each task slice, and (optionally) each pair of task slices ANDed. A column no
    slice can read is refused up front, naming the slice and the column."""
    problems = []
    columns: list[str] = []
    for sl in slices:
        if sl.name == "overall":
            problems.append("slice overall: the name is taken by every row; rename it")
        for cond in sl.where:
            why = Q.frame_column_problem(cond.column)
            if why:
                problems.append(f"slice {sl.name}: {why}")
            elif cond.column not in columns:
                columns.append(cond.column)
    if problems:
        raise ValueError("; ".join(problems))
    out = SliceSet(["overall"], ["true"], columns, {"overall": "every prediction"})
    for sl in slices:
        out.names.append(sl.name)
        out.predicates.append(slice_sql(sl))
        out.descriptions[sl.name] = sl.description or " and ".join(str(c) for c in sl.where)
    if intersections:
        for i, a in enumerate(slices):
            for b in slices[i + 1:]:
                name = f"{a.name} & {b.name}"
                out.names.append(name)
                out.predicates.append(f"({slice_sql(a)}) AND ({slice_sql(b)})")
                out.descriptions[name] = f"both {a.name} and {b.name}"
    return out


def _test(x: str, op: str, value: Any, text: bool) -> str:
    """``x op value`` for one value; ``text``: ``x`` is JSON text (entity attributes, capture
    context), so a number compares as a number (``TRY_CAST``: '10' > '3') and a boolean as JSON
    writes it ('true')."""
    if op == "in":
        return "(" + " OR ".join(_test(x, "==", v, text) for v in value) + ")" if value else "false"
    sql_op = {"==": "=", "!=": "<>"}.get(op, op)
    if text and isinstance(value, bool):
        return f"{x} {sql_op} '{'true' if value else 'false'}'"
    if text and isinstance(value, (int, float)):
        return f"TRY_CAST({x} AS DOUBLE) {sql_op} {float(value)!r}"
    return f"{x} {sql_op} {_sql_literal(value)}"


def condition_sql(c: Condition) -> str:
    """A DuckDB predicate for one condition over the prediction frame. On a file-level column (a
    list of the values of the target's files) it holds when it holds for *some* file — each
    condition on its own, so ``camera == 'cam2' and context.lighting == 'night'`` also holds for a
    segment whose cam1 is at night and cam2 by day — and ``!=`` is its negation, so a slice and
    its ``!=`` twin split the rows (a target without any value falls in the ``!=`` twin). On a
    one-value column, SQL's rule: a missing value is in neither."""
    col = ".".join(f'"{part}"' for part in c.column.split("."))
    text = c.column.startswith(("attrs.", "metadata.", "context."))
    if not Q.frame_column_is_list(c.column):
        return _test(col, c.op, c.value, text)
    if c.op == "!=":
        return f"NOT coalesce(list_bool_or(list_transform({col}, lambda x: {_test('x', '==', c.value, text)})), false)"
    return f"coalesce(list_bool_or(list_transform({col}, lambda x: {_test('x', c.op, c.value, text)})), false)"


def slice_sql(sl: Slice) -> str:
    return " AND ".join(condition_sql(c) for c in sl.where)
