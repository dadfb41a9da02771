"""The demo farm's script: which stall-days exist, who works there, and every planted clock.

Everything random in the demo world is drawn here or from ``rng_for(seed, key)``, a generator
keyed by a stable string, so the world does not depend on the order in which parallel jobs
finish. Times are integer nanoseconds; an asset's true clock is a ``syncline.timebase.Clock``
(``t_entity = offset + t_local * (1 + drift)``) and the manifest gets the *nominal* start,
which is off by ``clock_error_ns``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np

from syncline.timebase import NS_PER_S, Clock

NS_PER_MS = 1_000_000
JURISDICTION = "EU"
FARM_TZ = timezone(timedelta(hours=2), "CEST")  # the farm's local time, phone EXIF only
TZ_OFFSET = "+02:00"
FARM_GPS = {"north": (52.09104, 5.12203), "south": (52.08977, 5.12418)}


def rng_for(seed: int, key: str) -> np.random.Generator:
    """A generator that depends only on the world seed and a stable key (an asset path)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(key.encode())]))


def iso_from_ns(ns: int) -> str:
    """UTC ISO 8601 with milliseconds (``2026-05-01T06:00:01.250Z``); ``ns`` is whole ms."""
    if ns % NS_PER_MS:
        raise ValueError(f"{ns} ns is not a whole millisecond")
    whole, rem = divmod(ns, NS_PER_S)
    dt = datetime.fromtimestamp(whole, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{rem // NS_PER_MS:03d}Z"


def utc_ns(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(dt.timestamp()) * NS_PER_S


@dataclass(frozen=True)
class PlannedClock:
    """The truth about one asset's clock on its entity timeline.

    ``true_offset_ns``: entity time of the asset's local t=0 (its first sample or frame).
    ``clock_error_ns``: nominal minus true, i.e. what the manifest's start_time gets wrong.
    """

    true_offset_ns: int
    clock_error_ns: int = 0
    drift_ppm: float = 0.0

    @property
    def nominal_offset_ns(self) -> int:
        return self.true_offset_ns + self.clock_error_ns

    @property
    def clock(self) -> Clock:
        return Clock(offset_ns=self.true_offset_ns, drift_ppm=self.drift_ppm, source="truth")

    def to_entity(self, local_ns: int) -> int:
        return self.clock.to_entity(local_ns=local_ns)

    def to_local(self, entity_ns: int) -> int:
        return self.clock.to_local(entity_ns=entity_ns)

    def entity_seconds(self, local_s: np.ndarray) -> np.ndarray:
        """Entity time (float seconds) of asset-local times, vectorised, for synthesis only."""
        return self.true_offset_ns / NS_PER_S + local_s * (1.0 + self.drift_ppm * 1e-6)

    def truth(self) -> dict[str, Any]:
        return {
            "true_offset_ns": self.true_offset_ns,
            "nominal_offset_ns": self.nominal_offset_ns,
            "clock_error_ns": self.clock_error_ns,
            "drift_ppm": self.drift_ppm,
        }


def span_truth(clock: PlannedClock, local0: int, local1: int) -> dict[str, list[int]]:
    """A half-open span given in asset-local ns, with its entity-timeline image."""
    return {
        "local_ns": [local0, local1],
        "entity_ns": [clock.to_entity(local0), clock.to_entity(local1)],
    }


@dataclass(frozen=True)
class Subject:
    subject_id: str
    status: str  # granted | withdrawn | pending
    voice: str  # espeak-ng voice
    scope: tuple[str, ...] = ("voice", "image", "training")
    granted_at: str | None = "2026-04-01"


SUBJECTS = (
    Subject("caretaker-01", "granted", "en-gb+m3"),
    Subject("caretaker-02", "withdrawn", "en-us+f2"),
    Subject("caretaker-03", "pending", "en-gb-scotland+m1", granted_at=None),
)


@dataclass(frozen=True)
class EntityPlan:
    """One stall-day: what was recorded, and what happened to its animals."""

    index: int
    barn: str
    stall: str
    day: str
    start_hms: str
    lighting: str  # day | night
    has_cam2: bool
    mic_format: str | None  # m4a | wav | None (no microphone recording)
    sensor_time: str | None  # iso | seconds | None (no sensor file)
    distress_calls: int
    breed: str
    animal_count: int
    caretakers: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def entity_id(self) -> str:
        return f"stall-{self.stall.lower()}-{self.day}"

    @property
    def start_ns(self) -> int:
        return utc_ns(f"{self.day}T{self.start_hms}Z")

    @property
    def start_time(self) -> str:
        return iso_from_ns(self.start_ns)

    @property
    def location(self) -> str:
        return f"barn-{self.barn}/stall-{self.stall.lower()}"

    @property
    def missing(self) -> list[str]:
        out = [] if self.has_cam2 else ["video:cam2"]
        if self.mic_format is None:
            out.append("audio:mic")
        if self.sensor_time is None:
            out.append("sensor")
        return out


ENTITIES = (
    EntityPlan(0, "north", "A", "2026-05-01", "06:00:00", "day", True, "m4a", "iso", 0,
               "Holstein Friesian", 4, ("caretaker-01", "caretaker-03")),
    EntityPlan(1, "north", "A", "2026-05-02", "06:00:00", "day", True, "wav", "seconds", 0,
               "Holstein Friesian", 4, ("caretaker-01",)),
    EntityPlan(2, "north", "B", "2026-05-01", "06:30:00", "day", False, "m4a", "iso", 1,
               "Jersey", 3, ("caretaker-02", "caretaker-01")),
    EntityPlan(3, "north", "B", "2026-05-02", "21:30:00", "night", True, None, "iso", 0,
               "Jersey", 3, ("caretaker-01",)),
    EntityPlan(4, "south", "C", "2026-05-01", "07:00:00", "day", True, "wav", None, 0,
               "Brown Swiss", 5, ("caretaker-03",)),
    EntityPlan(5, "south", "C", "2026-05-02", "21:45:00", "night", False, "m4a", "seconds", 1,
               "Brown Swiss", 5, ("caretaker-01", "caretaker-03")),
)


def draw_clock(
    rng: np.random.Generator, *, start_s: tuple[float, float], drift_ppm: float = 0.0,
    max_error_ms: int = 2000,
) -> PlannedClock:
    """A true start in ``start_s`` (entity seconds) and a nominal error up to ±max_error_ms."""
    start_ms = int(rng.integers(int(start_s[0] * 1000), int(start_s[1] * 1000) + 1))
    error_ms = int(rng.integers(-max_error_ms, max_error_ms + 1)) if max_error_ms else 0
    return PlannedClock(start_ms * NS_PER_MS, error_ms * NS_PER_MS, float(drift_ppm))


@dataclass
class AssetOut:
    """One generated asset: its manifest row and its ground truth."""

    path: str  # relative to the world folder
    modality: str
    entity_id: str | None
    device: str | None = None
    camera: str | None = None
    mic: str | None = None
    channel: str | None = None
    context: dict[str, str] = field(default_factory=dict)
    start_time: str | None = None
    subjects: list[str] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)

    def manifest_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"path": self.path, "modality": self.modality}
        for key in ("entity_id", "device", "camera", "mic", "channel", "start_time"):
            value = getattr(self, key)
            if value is not None:
                row[key] = value
        if self.context:
            row["context"] = dict(self.context)
        if self.subjects:
            row["subjects"] = list(self.subjects)
        row["jurisdiction"] = JURISDICTION
        return row
