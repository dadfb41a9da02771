"""The whole task spec: ``TaskSpec`` and its sections, the checks across sections, and loading.

``load_task`` reads ``task.yaml``, ``validate_task`` validates parsed YAML/JSON; both report every
problem at once through ``TaskSpecError``. The gate and slice sections live in ``gates`` and
``slices``; ``template_path`` finds the packaged templates in ``syncline/templates``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError, ValidationInfo, model_validator

from syncline.task._base import Name, _Strict
from syncline.task.errors import TaskSpecError, _describe, read_yaml
from syncline.task.gates import HardGate
from syncline.task.privacy import Privacy
from syncline.task.slices import Slice

MODALITIES = ("video", "audio", "image", "transcript", "sensor", "events", "document", "metadata")
TEMPLATES = Path(__file__).parent.parent / "templates"

Modality = Literal[
    "video", "audio", "image", "transcript", "sensor", "events", "document", "metadata",
]


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


class ModalityNeed(_Strict):
    """Why a modality is in the task: what it ``adds`` beyond text, in one line."""

    adds: str = Field(min_length=1, pattern=r"^[^\n]*\S[^\n]*$")


class Modalities(_Strict):
    required: dict[Modality, ModalityNeed] = Field(min_length=1)
    optional: dict[Modality, ModalityNeed] = Field(default_factory=dict)


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


class AuditPolicy(_Strict):
    """How much label noise the task tolerates: a suspect fraction at ``label_noise_warn`` or above
    warns, at ``label_noise_fail`` or above fails (multimodal data tolerates less than text)."""

    label_noise_warn: float = Field(default=0.10, ge=0, le=1)
    label_noise_fail: float = Field(default=0.25, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> AuditPolicy:
        if self.label_noise_warn > self.label_noise_fail:
            raise ValueError(f"label_noise_warn ({self.label_noise_warn}) must not exceed label_noise_fail "
                             f"({self.label_noise_fail})")
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
    privacy: Privacy = Field(default_factory=Privacy)
    audit: AuditPolicy = Field(default_factory=AuditPolicy)

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
        used = [*mods["required"], *mods["optional"]]
        for i, risk in enumerate((s.get("privacy") or {}).get("inferences") or []):
            for j, sig in enumerate(risk["signals"]):
                if sig not in used:
                    out.append((f"privacy.inferences[{i}].signals[{j}]",
                                f"{sig!r} is not a modality of this task; allowed: {', '.join(used)}"))
            if len(set(risk["signals"])) < 2:
                out.append((f"privacy.inferences[{i}].signals", "a cross-modal risk needs two different signals"))
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
        problems = [_describe(err, source, TaskSpec) for err in e.errors()]
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
    return validate_task(read_yaml(path), str(path))


def template_path(name: Literal["farm", "blank"]) -> Path:
    """A packaged task template: ``farm`` (the demo) or ``blank`` (to fill in)."""
    return TEMPLATES / f"task_{name}.yaml"
