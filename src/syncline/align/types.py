"""Typed results every alignment detector returns.

Convention (all integer nanoseconds, asset-local times): a detector compares a *reference*
asset with a *target* asset and estimates ``lag_ns`` such that an event at reference-local time
``t`` appears at target-local time ``t * (1 + drift_ppm * 1e-6) + lag_ns``. A positive lag means
the target's content happens later in its own file than in the reference's.

A detector never returns a confident wrong answer: when the evidence is weak it says
``ABSTAIN`` with a one-line reason ("cannot determine: no onsets in audio"); when several
offsets explain the evidence almost equally (the start and the end edge of short events) it
says ``AMBIGUOUS`` and lists the candidates; when the streams do not match at all (a stream
attached to the wrong entity) it says ``NO_PLAUSIBLE_ALIGNMENT``. Only ``ALIGNED`` estimates
may be applied to clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    ALIGNED = "aligned"
    AMBIGUOUS = "ambiguous"
    ABSTAIN = "abstain"
    NO_PLAUSIBLE_ALIGNMENT = "no_plausible_alignment"


@dataclass(frozen=True)
class Candidate:
    lag_ns: int
    score: float


@dataclass(frozen=True)
class OffsetEstimate:
    """What a detector concluded about one (reference, target) pair.

    ``uncertainty_ns`` is a one-sigma-like half width of the estimate; ``score`` is the
    detector's own evidence strength (e.g. peak-to-second-peak ratio); ``n_events`` how many
    matched events or onsets the estimate rests on. ``details`` must be JSON-serialisable.
    """

    method: str
    verdict: Verdict
    reason: str
    lag_ns: int | None = None
    drift_ppm: float | None = None
    uncertainty_ns: int | None = None
    score: float | None = None
    n_events: int | None = None
    candidates: tuple[Candidate, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict is Verdict.ALIGNED and self.lag_ns is None:
            raise ValueError("an ALIGNED estimate needs a lag")
        if self.verdict in (Verdict.ABSTAIN, Verdict.NO_PLAUSIBLE_ALIGNMENT) and self.lag_ns is not None:
            raise ValueError(f"a {self.verdict} estimate must not carry a lag (no made-up numbers)")


@dataclass(frozen=True)
class Signal:
    """A uniformly sampled 1-D feature of an asset on its local timeline: sample ``i`` is at
    ``t0_ns + i / rate_hz`` seconds. Audio onset envelopes, video motion energy, sensor
    channels resampled to a grid all travel as a Signal."""

    t0_ns: int
    rate_hz: float
    values: Any  # np.ndarray[float32], 1-D

    def times_ns(self) -> Any:
        import numpy as np

        return self.t0_ns + (np.arange(len(self.values)) * (1e9 / self.rate_hz)).astype(np.int64)
