"""Task-spec errors: ``TaskSpecError``, reading YAML with line numbers, and problem wording.

Every problem is one line: file, field path, the bad value, what is allowed. ``read_yaml`` turns
a syntax error or a duplicate key into such a line with its line and column; ``_describe`` turns
one pydantic error into one, walking the spec model (``root``) to list the keys allowed.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel


class TaskSpecError(ValueError):
    """An unusable task spec. ``problems`` holds one line per problem; the message joins them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_yaml(path: Path) -> Any:
    """Parse ``path`` (duplicate keys refused); TaskSpecError names the line of a YAML problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise TaskSpecError([f"{path}: cannot read task spec: {e}"]) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = "; ".join(p for p in (e.context, e.problem) if p)
        raise TaskSpecError([f"{path}: {where}YAML syntax error: {what}"]) from None
    except yaml.YAMLError as e:
        raise TaskSpecError([f"{path}: YAML syntax error: {e}"]) from None
    return raw


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: ~10x faster, same marks


class _UniqueKeyLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that refuses duplicate keys (a repeated cost row would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"duplicate key {key!r}", key_node.start_mark,
                )
            seen.add(key)
        return dict(super().construct_mapping(node, deep=deep))


# -- error wording -------------------------------------------------------------------------------


def _describe(err: Mapping[str, Any], source: str, root: type[BaseModel]) -> str:
    loc = list(err["loc"])
    is_key = bool(loc) and loc[-1] == "[key]"
    if is_key:
        loc.pop()
        if isinstance(err.get("input"), bool):
            loc.pop()  # YAML `yes:` is a bool key; pydantic shows it as 1
    path = _path(loc) or "(top level)"
    kind, ctx, got = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        hint = "; say in one line what it adds beyond text" if loc[-1:] == ["adds"] else ""
        return f"{source}: {path}: required key {loc[-1]!r} is missing{hint}"
    if isinstance(got, bool) and kind == "string_type":
        what = "key" if is_key else "value"
        return (f"{source}: {path}: {what} {got!r} is not a string; YAML reads yes/no/on/off/"
                "true/false as booleans, so quote it (\"yes\")")
    if kind == "string_too_short":
        return f"{source}: {path}: must not be empty; got {got!r}"
    if kind == "extra_forbidden":
        keys = _allowed_keys(root, loc[:-1])
        hint = f"; allowed: {', '.join(keys)}" if keys else ""
        return f"{source}: {path}: unknown key {loc[-1]!r}{hint}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        values = ", ".join(re.findall(r"'([^']*)'", expected)) or expected.replace(" or ", ", ")  # Literal[1]: 1
        what = "unknown key" if is_key else "unknown value"
        return f"{source}: {path}: {what} {got!r}; allowed: {values}"
    bounds = {
        "greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"{source}: {path}: must be {bounds[kind]} {limit:g}; got {_short(got)}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "value_error":
        return f"{source}: {path}: {msg}"
    return f"{source}: {path}: {msg}; got {_short(got)}"


def _path(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


def _allowed_keys(root: type[BaseModel], loc: list[Any]) -> list[str]:
    tp: Any = root
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        models = [a for a in get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else tp
    return tp


def _step(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        info = tp.model_fields.get(str(part))
        return info.annotation if info else None
    origin = get_origin(tp)
    if origin is list:
        return get_args(tp)[0]
    if origin is dict:
        return get_args(tp)[1]
    return None
