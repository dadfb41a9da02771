"""The label schema (``labels.yaml`` in the project): what may be labelled, how, and by whom.

Every field has a *kind* — ``perception`` (what is in the frame or the audio) or ``judgment``
(what to do) — and a field is one or the other, never both; a granularity (what a label is
attached to); a value type; and, for context fields (machine, nearby tools, operator hands),
``context: true``: over-labelling is first class, not an afterthought. Annotators are listed
with a tier (expert, trained, crowd) and the fields they are qualified to label::

    version: 1
    fields:
      animal_state: {kind: perception, granularity: segment, type: ordinal,
                     values: [calm, restless, distressed]}
      injury:       {kind: perception, granularity: region, type: box}
      posture_span: {kind: perception, granularity: entity, type: time_span,
                     values: [standing, lying, down_struggling]}
      action:       {kind: judgment, granularity: segment, type: class, values: [alert_vet, watch, ignore]}
      nearby:       {kind: perception, granularity: segment, type: multi_label, context: true,
                     values: [feed_cart, tractor, person]}
    annotators:
      vet-a:   {tier: expert, fields: [animal_state, injury, action, nearby], grades: [animal_state]}
      crowd-c: {tier: crowd, fields: [animal_state, nearby]}

Boxes, polygons and time spans are *shapes*: an annotator may draw several on one target (each
label then has an ``instance`` key), and a shape field with ``values`` gives each shape a class.

``load_schema`` reports every problem at once, one line each (field path, bad value, what is
allowed), like the task spec. ``content_hash`` versions it: labels record the schema version
they were written under.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from syncline.task._base import Name, _Strict
from syncline.task.errors import TaskSpecError, _describe, read_yaml

SCHEMA_FILE = "labels.yaml"
Granularity = Literal["entity", "segment", "event", "region", "sequence"]
ValueType = Literal["class", "multi_label", "ordinal", "number", "box", "polygon", "time_span", "text"]
WITH_VALUES = ("class", "multi_label", "ordinal")
SHAPES = ("box", "polygon", "time_span")  # may carry a class each (``values``), several per target


class SchemaError(TaskSpecError):
    """``labels.yaml`` is invalid; ``problems`` holds one line per problem."""


class FieldSpec(_Strict):
    kind: Literal["perception", "judgment"]
    granularity: Granularity = "segment"
    type: ValueType = "class"
    values: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    context: bool = False
    description: str = ""
    min: float | None = None  # number fields
    max: float | None = None
    synonyms: dict[str, list[str]] = Field(default_factory=dict)  # other words for a value (leakage audit)

    @model_validator(mode="after")
    def _values_fit_the_type(self) -> FieldSpec:
        if self.type in WITH_VALUES and len(self.values) < 2:
            raise ValueError(f"a {self.type} field needs at least two values")
        if self.type in SHAPES and len(self.values) == 1:
            raise ValueError(f"a {self.type} field with classes needs at least two values (or none)")
        if self.type not in WITH_VALUES + SHAPES and self.values:
            raise ValueError(f"a {self.type} field takes no list of values")
        if len(set(self.values)) != len(self.values):
            raise ValueError("values must be distinct")
        unknown = sorted(set(self.synonyms) - set(self.values))
        if unknown:
            raise ValueError(f"synonyms for unknown values {unknown}; values: {self.values}")
        owner: dict[str, str] = {}
        for value, words in self.synonyms.items():
            for word in words:
                if word in self.values and word != value:
                    raise ValueError(f"synonym {word!r} of {value!r} is itself a value; a word names one value")
                if owner.setdefault(word, value) != value:
                    raise ValueError(f"synonym {word!r} is given for both {owner[word]!r} and {value!r}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}: no number could be labelled")
        if (self.min is not None or self.max is not None) and self.type != "number":
            raise ValueError(f"min and max bound number fields, not {self.type} fields")
        return self


class AnnotatorSpec(_Strict):
    tier: Literal["expert", "trained", "crowd"]
    fields: list[Name] = Field(default_factory=list)
    grades: list[Name] = Field(default_factory=list)  # fields whose labels they may grade (not crowd)

    @model_validator(mode="after")
    def _crowd_does_not_grade(self) -> AnnotatorSpec:
        if self.grades and self.tier == "crowd":
            raise ValueError("the grader layer is a second tier: a crowd annotator cannot grade")
        return self


class LabelSchema(_Strict):
    version: Literal[1] = 1
    fields: dict[Name, FieldSpec] = Field(min_length=1)
    annotators: dict[Name, AnnotatorSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _qualifications_name_fields(self) -> LabelSchema:
        problems = [f"annotators.{who}.{key}: unknown field {f!r}; fields: {', '.join(self.fields)}"
                    for who, a in self.annotators.items() for key, names in (("fields", a.fields), ("grades", a.grades))
                    for f in names if f not in self.fields]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


def load_schema(path: Path) -> LabelSchema:
    """``labels.yaml`` validated; every problem listed with its path (``SchemaError``)."""
    try:
        raw = read_yaml(Path(path))
    except TaskSpecError as e:
        raise SchemaError([p.replace("task spec", "label schema") for p in e.problems]) from None
    try:
        return LabelSchema.model_validate(raw)
    except ValidationError as e:
        raise SchemaError([_describe(err, str(path), LabelSchema) for err in e.errors()]) from None
