"""One way to say time.

Every timestamp on an entity timeline, and every asset-local time, is an ``int`` of
nanoseconds. Seconds appear only at the edges (parsing a CSV, printing a report), and always
through these helpers with keyword-only names, so a call cannot mix seconds with frames.
Frame indices are never time: a frame's time is its presentation timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass

NS_PER_S = 1_000_000_000


def ns_from_seconds(*, seconds: float) -> int:
    """Seconds (float) to integer nanoseconds, rounded to the nearest nanosecond."""
    return int(round(seconds * NS_PER_S))


def seconds_from_ns(*, ns: int) -> float:
    return ns / NS_PER_S


def hours_from_ns(*, ns: int) -> float:
    return ns / (3600 * NS_PER_S)


@dataclass(frozen=True)
class Span:
    """A half-open span ``[t0_ns, t1_ns)`` on one timeline."""

    t0_ns: int
    t1_ns: int

    def __post_init__(self) -> None:
        if self.t1_ns < self.t0_ns:
            raise ValueError(f"span ends before it starts: [{self.t0_ns}, {self.t1_ns})")

    @property
    def duration_ns(self) -> int:
        return self.t1_ns - self.t0_ns

    def overlap(self, other: Span) -> Span | None:
        t0, t1 = max(self.t0_ns, other.t0_ns), min(self.t1_ns, other.t1_ns)
        return Span(t0, t1) if t1 > t0 else None


@dataclass(frozen=True)
class Clock:
    """Maps asset-local time onto the entity timeline: ``t_entity = offset + t_local * (1 + drift)``.

    ``drift_ppm`` is parts per million (a clock running 50 ppm fast has drift_ppm = 50).
    ``source`` says where the numbers came from (manifest, container, exif, estimated, none).
    """

    offset_ns: int = 0
    drift_ppm: float = 0.0
    source: str = "none"

    def to_entity(self, *, local_ns: int) -> int:
        return self.offset_ns + local_ns + int(round(local_ns * self.drift_ppm * 1e-6))

    def to_local(self, *, entity_ns: int) -> int:
        return int(round((entity_ns - self.offset_ns) / (1.0 + self.drift_ppm * 1e-6)))
