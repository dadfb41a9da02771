"""A pipeline stage: a vectorised function over a batch of segments, with typed ports.

A stage names its ``inputs`` (argument -> ``"stage.port"`` or ``"source.<name>"``, optionally
with the type it expects: ``"locate.boxes:vector"``) and its
``outputs`` (port -> type), the ``modalities`` it needs, its ``role`` in the flow (preprocess,
perception, fusion, decision, output) and what happens to a segment that lacks a modality it
needs (``on_missing``): ``skip`` (its outputs stay missing and stages that need them skip too),
``abstain`` (the segment's decision is an abstention, with the reason), or ``fallback:<stage>``
(another stage with the same outputs runs for those segments instead).

The function takes one NumPy array per input, one row per segment of the batch that has every
input, and returns one array per output port with as many rows. Batches, not rows: a stage is
called once per batch. A stage that cannot tell for some rows (a locator that found nothing)
also returns ``_abstain`` (a bool per row) and optionally ``_why`` (a reason per row): those
rows are abstentions with that reason, and the stages after it abstain on them too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Role = Literal["preprocess", "perception", "fusion", "decision", "output"]
PORT_TYPES = ("vector", "probabilities", "score", "flag", "label", "text")
SourceTypes = Mapping[str, str]
StageFn = Callable[..., Mapping[str, np.ndarray]]


@dataclass(frozen=True)
class Stage:
    name: str
    fn: StageFn
    inputs: dict[str, str]
    outputs: dict[str, str]
    role: Role = "perception"
    modalities: tuple[str, ...] = ()
    on_missing: str = "skip"
    fusion: Literal["early", "late"] | None = None
    version: str = "1"
    params: dict[str, object] = field(default_factory=dict)

    @property
    def fallback(self) -> str | None:
        return self.on_missing.split(":", 1)[1] if self.on_missing.startswith("fallback:") else None


def stage(name: str, *, inputs: dict[str, str], outputs: dict[str, str], role: Role = "perception",
          modalities: tuple[str, ...] = (), on_missing: str = "skip", fusion: Literal["early", "late"] | None = None,
          version: str = "1") -> Callable[[StageFn], Stage]:
    """Decorator: ``@stage("posture", inputs={"x": "source.video"}, outputs={"p": "probabilities"})``."""
    def wrap(fn: StageFn) -> Stage:
        return Stage(name, fn, dict(inputs), dict(outputs), role, tuple(modalities), on_missing, fusion, version)
    return wrap
