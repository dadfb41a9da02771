"""Hard gates: the errors a task can never accept, as ``metric [on label] op value in scope``.

``HardGate`` is the typed gate; ``parse_gate`` reads one written in words
(``"false-negative rate on `distressed` <= 2% in every slice"``) and ``HardGate.to_human``
writes it back. ``METRICS`` lists the metrics a gate may name.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from syncline.task._base import _Strict

METRICS = (
    "false_negative_rate", "false_positive_rate", "precision", "recall",
    "accuracy", "ece", "abstain_rate", "p95_latency_ms",
)
PER_LABEL_METRICS = ("false_negative_rate", "false_positive_rate", "precision", "recall")
GATE_OPS = ("<=", "<", ">=", ">")

Metric = Literal[
    "false_negative_rate", "false_positive_rate", "precision", "recall",
    "accuracy", "ece", "abstain_rate", "p95_latency_ms",
]


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
