"""The task spec (``task.yaml``): what is decided, what each mistake costs, what may never happen.

Every other capability starts from here: annotation schemas come from the label space, the
evaluation reads the error costs, hard gates and slices, the pipeline reads the modalities, the
review policy and the budget, and every run pins ``TaskSpec.content_hash()``.

A spec, in short (``syncline/templates/task_farm.yaml`` is a complete one)::

    version: 1
    name: vet-alert
    decision: {text: "...", affects: [animals, vet], field: action}
    labels:                           # field -> kind (perception | judgment) and values
      action: {kind: judgment, values: {alert_vet: "...", watch: "...", ignore: "..."}}
    error_costs:                      # true label -> predicted label -> cost, over decision.field
      alert_vet: {alert_vet: 0, watch: 50, ignore: 100}
      ...
    hard_gates:                       # a mapping, or the same thing in words
      - {metric: false_negative_rate, label: alert_vet, op: "<=", value: 0.02, scope: every_slice}
      - "false-negative rate on `animal_state.distressed` <= 2% in every slice"
    modalities: {required: {video: {adds: "..."}}, optional: {transcript: {adds: "..."}}}
    slices: [{name: night, where: "context.lighting == 'night'"}]
    review: {confidence_threshold: 0.6, always_review: [alert_vet], max_review_rate: 0.1}
    budget: {p95_latency_ms: 500, max_gpu_memory_gb: 0, cpu_only: true,
             cost_per_1000_decisions: 0.2}

A label reference is ``value`` (a value of the decision field) or ``field.value`` (any field).
``load_task`` reports every problem at once, one line each: file, field path, bad value, what
is allowed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import types
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

MODALITIES = ("video", "audio", "image", "transcript", "sensor", "events", "document", "metadata")
METRICS = (
    "false_negative_rate", "false_positive_rate", "precision", "recall",
    "accuracy", "ece", "abstain_rate", "p95_latency_ms",
)
PER_LABEL_METRICS = ("false_negative_rate", "false_positive_rate", "precision", "recall")
SLICE_OPS = ("==", "!=", "in", "<", "<=", ">", ">=")
GATE_OPS = ("<=", "<", ">=", ">")
TEMPLATES = Path(__file__).parent / "templates"

Metric = Literal[
    "false_negative_rate", "false_positive_rate", "precision", "recall",
    "accuracy", "ece", "abstain_rate", "p95_latency_ms",
]
Modality = Literal[
    "video", "audio", "image", "transcript", "sensor", "events", "document", "metadata",
]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
Scalar = str | int | float | bool


class TaskSpecError(ValueError):
    """An unusable task spec. ``problems`` holds one line per problem; the message joins them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# -- the decision and its label space -------------------------------------------------------


class Decision(_Strict):
    """What is decided, for whom, and which label field holds the decision."""

    text: str = Field(min_length=1)
    affects: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    field: Name


class LabelField(_Strict):
    """One field of the label space: perception ("what is there") or judgment ("what to do")."""

    kind: Literal["perception", "judgment"]
    description: str = ""
    target: Literal["entity", "segment", "event", "region"] = "segment"
    values: dict[Name, Annotated[str, Field(min_length=1)]] = Field(min_length=2)


# -- hard gates -------------------------------------------------------------------------------

_METRIC_WORDS = {
    "false_negative_rate": "false-negative rate", "false_positive_rate": "false-positive rate",
    "precision": "precision", "recall": "recall", "accuracy": "accuracy", "ece": "ECE",
    "abstain_rate": "abstain rate", "p95_latency_ms": "p95 latency",
}
_METRIC_ALIASES = {
    **{w.lower().replace("-", " "): m for m, w in _METRIC_WORDS.items()},
    **{m.replace("_", " "): m for m in METRICS},
    "fnr": "false_negative_rate", "fpr": "false_positive_rate", "miss rate": "false_negative_rate",
    "expected calibration error": "ece", "p95 latency": "p95_latency_ms",
    "latency p95": "p95_latency_ms", "abstention rate": "abstain_rate",
    "review rate": "abstain_rate",
}
_GATE_RE = re.compile(
    r"^\s*(?P<metric>[A-Za-z0-9 _-]+?)"
    r"(?:\s+(?:on|for)\s+`(?P<label>[^`]+)`)?"
    r"\s*(?P<op><=|>=|<|>|≤|≥)\s*"
    r"(?P<value>[0-9]*\.?[0-9]+)\s*(?P<unit>%|ms)?"
    r"(?:\s+(?P<scope>in\s+every\s+slice|overall|in\s+slice\s+`(?P<slice>[^`]+)`))?\s*\.?\s*$",
    re.IGNORECASE,
)


def parse_gate(text: str) -> dict[str, Any]:
    """``"false-negative rate on `distress` <= 2% in every slice"`` to the fields of a HardGate."""
    m = _GATE_RE.match(text)
    if not m:
        raise ValueError(
            f"cannot read hard gate {text!r}; write it as "
            "'<metric> [on `<label>`] <op> <number>[%|ms] "
            "[in every slice|overall|in slice `<name>`]'"
        )
    words = re.sub(r"[\s_-]+", " ", m["metric"].strip().lower())
    metric = _METRIC_ALIASES.get(words)
    if metric is None:
        allowed = ", ".join(METRICS)
        raise ValueError(f"unknown metric {m['metric']!r} in hard gate; allowed: {allowed}")
    value = Decimal(m["value"])
    unit = (m["unit"] or "").lower()
    if unit == "%":
        if metric == "p95_latency_ms":
            raise ValueError(f"p95 latency is in ms, not % (in {text!r})")
        value /= 100
    elif unit == "ms" and metric != "p95_latency_ms":
        raise ValueError(f"{metric} is a fraction, not ms (in {text!r})")
    scope_words = re.sub(r"\s+", " ", (m["scope"] or "overall").lower())
    scope = scope_words.replace("in every slice", "every_slice")
    if m["slice"]:
        scope = f"slice:{m['slice']}"
    op = {"≤": "<=", "≥": ">="}.get(m["op"], m["op"])
    return {"metric": metric, "label": m["label"], "op": op, "value": float(value), "scope": scope}


_SCOPE = r"^(every_slice|overall|slice:[A-Za-z0-9_-]+)$"


class HardGate(_Strict):
    """An unacceptable error: ``metric [on label] op value`` must hold in ``scope``, or fail.

    ``scope`` is ``every_slice``, ``overall`` or ``slice:NAME``. A YAML string is read with
    ``parse_gate``; ``to_human()`` writes it back.
    """

    metric: Metric
    label: str | None = None
    op: Literal["<=", "<", ">=", ">"]
    value: float = Field(allow_inf_nan=False)
    scope: Annotated[str, Field(pattern=_SCOPE)] = "overall"

    @model_validator(mode="before")
    @classmethod
    def _from_words(cls, data: Any) -> Any:
        return parse_gate(data) if isinstance(data, str) else data

    @model_validator(mode="after")
    def _label_and_range(self) -> HardGate:
        if self.metric in PER_LABEL_METRICS and self.label is None:
            raise ValueError(f"metric {self.metric} needs a label (the positive class)")
        if self.metric not in PER_LABEL_METRICS and self.label is not None:
            raise ValueError(f"metric {self.metric} takes no label; got label {self.label!r}")
        if self.metric == "p95_latency_ms" and self.value <= 0:
            raise ValueError(f"p95_latency_ms must be > 0 ms; got {self.value:g}")
        if self.metric != "p95_latency_ms" and not 0 <= self.value <= 1:
            raise ValueError(
                f"{self.metric} is a fraction in [0, 1]; got {self.value:g} (write 2% or 0.02)"
            )
        return self

    def to_human(self) -> str:
        """The gate in words; ``parse_gate(g.to_human())`` gives ``g`` back."""
        label = f" on `{self.label}`" if self.label else ""
        exact = Decimal(repr(self.value))
        if self.metric == "p95_latency_ms":
            value = f"{_plain(exact)} ms"
        elif self.metric == "ece":
            value = _plain(exact)
        else:
            value = f"{_plain(exact * 100)}%"
        scope = {"every_slice": " in every slice", "overall": " overall"}.get(
            self.scope, f" in slice `{self.scope.removeprefix('slice:')}`"
        )
        return f"{_METRIC_WORDS[self.metric]}{label} {self.op} {value}{scope}"

    def passes(self, observed: float) -> bool:
        """Whether an observed metric value satisfies the gate."""
        return {
            "<=": observed <= self.value, "<": observed < self.value,
            ">=": observed >= self.value, ">": observed > self.value,
        }[self.op]


def _plain(d: Decimal) -> str:
    return format(d.normalize(), "f")


# -- modalities, slices, review, budget --------------------------------------------------------


class ModalityNeed(_Strict):
    """Why a modality is in the task: what it ``adds`` beyond text, in one line."""

    adds: str = Field(min_length=1, pattern=r"^[^\n]*\S[^\n]*$")


class Modalities(_Strict):
    required: dict[Modality, ModalityNeed] = Field(min_length=1)
    optional: dict[Modality, ModalityNeed] = Field(default_factory=dict)


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


class ReviewPolicy(_Strict):
    """When a decision goes to a person instead of being acted on."""

    confidence_threshold: float = Field(ge=0, le=1)
    always_review: list[str] = Field(default_factory=list)
    max_review_rate: float = Field(ge=0, le=1)


class Budget(_Strict):
    """Latency and compute the deployed pipeline may spend per decision."""

    p95_latency_ms: float = Field(gt=0, allow_inf_nan=False)
    max_gpu_memory_gb: float = Field(ge=0, allow_inf_nan=False)
    cpu_only: bool
    cost_per_1000_decisions: float = Field(ge=0, allow_inf_nan=False)
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"

    @model_validator(mode="after")
    def _cpu_only_means_no_gpu(self) -> Budget:
        if self.cpu_only and self.max_gpu_memory_gb > 0:
            raise ValueError(
                f"cpu_only is true, so max_gpu_memory_gb must be 0; got {self.max_gpu_memory_gb:g}"
            )
        return self


# -- the spec ----------------------------------------------------------------------------------


class TaskSpec(_Strict):
    """A validated ``task.yaml``. Build it with ``load_task`` or ``validate_task``."""

    version: Literal[1] = 1
    name: Name
    decision: Decision
    labels: dict[Name, LabelField] = Field(min_length=1)
    error_costs: dict[str, dict[str, float]]
    diagonal_costs_allowed: bool = False
    hard_gates: list[HardGate] = Field(default_factory=list)
    modalities: Modalities
    slices: list[Slice] = Field(default_factory=list)
    review: ReviewPolicy
    budget: Budget

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> TaskSpec:
        if not (info.context or {}).get("skip_cross_check"):
            problems = cross_check(self.model_dump())
            if problems:
                raise ValueError("; ".join(f"{path}: {msg}" for path, msg in problems))
        return self

    @property
    def decision_labels(self) -> list[str]:
        return list(self.labels[self.decision.field].values)

    def cost(self, true: str, predicted: str) -> float:
        return self.error_costs[true][predicted]

    def resolve(self, ref: str) -> tuple[str, str]:
        """A label reference (``value`` or ``field.value``) to ``(field, value)``."""
        field, _, value = ref.rpartition(".")
        return (field or self.decision.field, value)

    def slice(self, name: str) -> Slice:
        return next(s for s in self.slices if s.name == name)

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    def content_hash(self) -> str:
        """sha256 of the canonical JSON: independent of key order, comments and gate spelling."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


# -- checks across sections ---------------------------------------------------------------------

Problem = tuple[str, str]  # (field path, what is wrong)


def cross_check(s: Mapping[str, Any]) -> list[Problem]:
    """Checks that span sections, on whatever sections are valid on their own (dumped form)."""
    out: list[Problem] = []
    labels: dict[str, Any] | None = s.get("labels")
    decision: dict[str, Any] | None = s.get("decision")
    dvalues: list[str] | None = None
    if labels is not None and decision is not None:
        field = decision["field"]
        if field not in labels:
            msg = f"unknown label field {field!r}; allowed: {', '.join(labels)}"
            out.append(("decision.field", msg))
        elif labels[field]["kind"] != "judgment":
            msg = f"{field!r} is a perception field; the decision needs a judgment field"
            out.append(("decision.field", msg))
        else:
            dvalues = list(labels[field]["values"])
    costs = s.get("error_costs")
    if costs is not None and dvalues is not None:
        out += _check_costs(costs, dvalues, bool(s.get("diagonal_costs_allowed")))
    slice_names: list[str] | None = None
    if s.get("slices") is not None:
        slice_names = []
        for i, sl in enumerate(s["slices"]):
            if sl["name"] in slice_names:
                out.append((f"slices[{i}].name", f"duplicate slice name {sl['name']!r}"))
            slice_names.append(sl["name"])
    refs = _label_refs(labels, dvalues)
    for i, g in enumerate(s.get("hard_gates") or []):
        if g is None:
            continue
        if g["label"] is not None and refs is not None:
            out += _check_ref(f"hard_gates[{i}].label", g["label"], refs, dvalues)
        if g["scope"].startswith("slice:") and slice_names is not None:
            name = g["scope"].removeprefix("slice:")
            if name not in slice_names:
                named = ", ".join("slice:" + n for n in slice_names) or "slice:NAME"
                msg = f"unknown slice {name!r}; allowed: every_slice, overall, {named}"
                out.append((f"hard_gates[{i}].scope", msg))
    review = s.get("review")
    if review is not None and refs is not None:
        for i, ref in enumerate(review["always_review"]):
            out += _check_ref(f"review.always_review[{i}]", ref, refs, dvalues)
    mods = s.get("modalities")
    if mods is not None:
        for name in mods["optional"]:
            if name in mods["required"]:
                out.append((f"modalities.optional.{name}", f"{name!r} is already required"))
    return out


def _check_costs(
    costs: dict[str, dict[str, float]], values: list[str], diag_ok: bool
) -> list[Problem]:
    out: list[Problem] = []
    allowed = ", ".join(values)
    for true in values:
        if true not in costs:
            msg = f"missing row for true label {true!r}; the matrix is square over {allowed}"
            out.append((f"error_costs.{true}", msg))
    for true, row in costs.items():
        if true not in values:
            out.append((f"error_costs.{true}", f"unknown label {true!r}; allowed: {allowed}"))
            continue
        for pred in values:
            if pred not in row:
                msg = (f"missing cost of predicting {pred!r} when the truth is {true!r}; "
                       f"every pair of {allowed} needs a cost")
                out.append((f"error_costs.{true}.{pred}", msg))
        for pred, cost in row.items():
            path = f"error_costs.{true}.{pred}"
            if pred not in values:
                out.append((path, f"unknown label {pred!r}; allowed: {allowed}"))
            elif not math.isfinite(cost) or cost < 0:
                out.append((path, f"cost must be a finite number >= 0; got {cost:g}"))
            elif pred == true and cost != 0 and not diag_ok:
                msg = (f"a correct decision costs 0; got {cost:g} "
                       "(set diagonal_costs_allowed: true if that is intended)")
                out.append((path, msg))
    return out


def _label_refs(labels: dict[str, Any] | None, dvalues: list[str] | None) -> set[str] | None:
    if labels is None:
        return None
    refs = {f"{f}.{v}" for f, spec in labels.items() for v in spec["values"]}
    return refs | set(dvalues or [])


def _check_ref(path: str, ref: str, refs: set[str], dvalues: list[str] | None) -> list[Problem]:
    if ref in refs or ("." not in ref and dvalues is None):
        return []  # an unqualified ref cannot be checked while decision.field is broken
    dvalues = dvalues or []
    others = sorted(r for r in refs if "." in r and r.split(".")[1] not in dvalues)
    hint = f"; or field.value: {', '.join(others)}" if others else ""
    return [(path, f"unknown label {ref!r}; allowed: {', '.join(dvalues)}{hint}")]


# -- loading -------------------------------------------------------------------------------------

_SECTIONS: dict[str, TypeAdapter[Any]] = {}


def _section(name: str) -> TypeAdapter[Any]:
    if name not in _SECTIONS:
        info = TaskSpec.model_fields[name]
        _SECTIONS[name] = TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]
    return _SECTIONS[name]


def validate_task(raw: Any, source: str = "<task>") -> TaskSpec:
    """Validate parsed YAML/JSON; raise TaskSpecError listing every problem, one line each."""
    if not isinstance(raw, Mapping):
        kind = "an empty file" if raw is None else type(raw).__name__
        msg = f"a task spec is a mapping (name, decision, labels, ...); got {kind}"
        raise TaskSpecError([f"{source}: {msg}"])
    try:
        spec = TaskSpec.model_validate(raw, context={"skip_cross_check": True})
    except ValidationError as e:
        problems = [_describe(err, source) for err in e.errors()]
        failed = {err["loc"][0] for err in e.errors() if err["loc"]}
    else:
        crossed = cross_check(spec.model_dump())
        if crossed:
            raise TaskSpecError([f"{source}: {path}: {msg}" for path, msg in crossed])
        return spec
    valid: dict[str, Any] = {}
    for name, info in TaskSpec.model_fields.items():
        if name == "version" or (name in failed and name != "hard_gates"):
            continue
        given = raw.get(name, info.get_default(call_default_factory=True))
        if name in failed:  # keep the valid gates, in place, for the label and slice checks
            valid[name] = [_valid_gate(g) for g in given] if isinstance(given, list) else []
            continue
        adapter = _section(name)
        try:
            valid[name] = adapter.dump_python(adapter.validate_python(given, strict=True))
        except ValidationError:  # already reported through the whole-spec validation
            continue
    problems += [f"{source}: {path}: {msg}" for path, msg in cross_check(valid)]
    raise TaskSpecError(problems)


def _valid_gate(raw: Any) -> dict[str, Any] | None:
    try:
        return HardGate.model_validate(raw).model_dump()
    except ValidationError:
        return None


def load_task(path: str | Path) -> TaskSpec:
    """Read and validate ``task.yaml``; TaskSpecError lists every problem, YAML ones with a line."""
    path = Path(path)
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
    return validate_task(raw, str(path))


def template_path(name: Literal["farm", "blank"]) -> Path:
    """A packaged task template: ``farm`` (the demo) or ``blank`` (to fill in)."""
    return TEMPLATES / f"task_{name}.yaml"


class _UniqueKeyLoader(yaml.SafeLoader):
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
        return super().construct_mapping(node, deep=deep)


# -- error wording -------------------------------------------------------------------------------


def _describe(err: Mapping[str, Any], source: str) -> str:
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
        keys = _allowed_keys(loc[:-1])
        hint = f"; allowed: {', '.join(keys)}" if keys else ""
        return f"{source}: {path}: unknown key {loc[-1]!r}{hint}"
    if kind == "literal_error":
        values = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
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


def _allowed_keys(loc: list[Any]) -> list[str]:
    tp: Any = TaskSpec
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
