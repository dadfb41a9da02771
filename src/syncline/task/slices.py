"""Slices: named parts of the data evaluated on their own, as ANDed ``column op value`` conditions.

``Condition`` evaluates on a row (``matches``) or as a DuckDB predicate (``to_sql``);
``parse_condition`` reads ``"context.lighting == 'night' and camera in ['cam2']"``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from syncline.task._base import Name, _Strict

SLICE_OPS = ("==", "!=", "in", "<", "<=", ">", ">=")
Scalar = str | int | float | bool


class Condition(_Strict):
    """``column op value`` over a catalog column; dots reach into structs (``context.lighting``)."""

    column: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")]
    op: Literal["==", "!=", "in", "<", "<=", ">", ">="]
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError(
                f"'in' needs a list, e.g. {self.column} in ['a', 'b']; got {self.value!r}"
            )
        if self.op != "in" and isinstance(self.value, list):
            raise ValueError(
                f"{self.op!r} compares with one value; got a list {self.value!r} (use 'in')"
            )
        return self

    def matches(self, row: Mapping[str, Any]) -> bool:
        """Evaluate on a flat ``{"context.lighting": ..}`` or nested ``{"context": {..}}`` row."""
        got = _lookup(row, self.column)
        if self.op == "in":
            return isinstance(self.value, list) and got in self.value
        if self.op in ("==", "!="):
            return bool((got == self.value) == (self.op == "=="))
        try:
            return bool(_COMPARE[self.op](got, self.value))
        except TypeError:
            return False

    def to_sql(self) -> str:
        """A DuckDB predicate; dotted columns become struct field access."""
        col = ".".join(f'"{part}"' for part in self.column.split("."))
        if isinstance(self.value, list):
            return f"{col} IN ({', '.join(_sql_literal(v) for v in self.value)})"
        return f"{col} {'=' if self.op == '==' else self.op} {_sql_literal(self.value)}"

    def __str__(self) -> str:
        return f"{self.column} {self.op} {self.value!r}"


_COMPARE: dict[str, Any] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _lookup(row: Mapping[str, Any], column: str) -> Any:
    if column in row:
        return row[column]
    node: Any = row
    for part in column.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _sql_literal(v: Scalar) -> str:
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + v.replace("'", "''") + "'"


_COND_RE = re.compile(
    r"^\s*(?P<col>[A-Za-z_][\w.]*)\s*"
    r"(?P<op>==|!=|<=|>=|<|>|\bin\b|[^\w\s'\"\[\]]+)"
    r"\s*(?P<val>.+?)\s*$"
)


def parse_condition(text: str) -> list[dict[str, Any]]:
    """``"context.lighting == 'night' and camera in ['cam2']"`` to a list of Condition fields."""
    out: list[dict[str, Any]] = []
    for part in _split_and(text):
        m = _COND_RE.match(part)
        if not m:
            raise ValueError(f"cannot read condition {part.strip()!r}; write it as column op value")
        if m["op"] not in SLICE_OPS:
            allowed = ", ".join(SLICE_OPS)
            raise ValueError(
                f"unknown operator {m['op']!r} in {part.strip()!r}; allowed: {allowed}"
            )
        try:
            value = ast.literal_eval(m["val"])
        except (ValueError, SyntaxError):
            raise ValueError(
                f"cannot read value {m['val']!r} in {part.strip()!r}; quote strings, e.g. 'night'"
            ) from None
        if isinstance(value, tuple):
            value = list(value)
        out.append({"column": m["col"], "op": m["op"], "value": value})
    return out


def _split_and(text: str) -> Iterator[str]:
    depth, quote, start = 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and text[i:i + 5].lower() == " and " and i >= start:
            yield text[start:i]
            start = i + 5
    yield text[start:]


class Slice(_Strict):
    """A named part of the data evaluated on its own; its ``where`` conditions are ANDed."""

    name: Name
    description: str = ""
    where: list[Condition] = Field(min_length=1)

    @field_validator("where", mode="before")
    @classmethod
    def _from_words(cls, v: Any) -> Any:
        if isinstance(v, str):
            return parse_condition(v)
        return [v] if isinstance(v, Mapping) else v

    def matches(self, row: Mapping[str, Any]) -> bool:
        return all(c.matches(row) for c in self.where)

    def to_sql(self) -> str:
        return " AND ".join(c.to_sql() for c in self.where)
