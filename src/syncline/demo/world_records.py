"""The farm's records: a per-stall-day event log (JSON Lines) and the stall metadata table.

The event log is written by the barn server, whose clock is right (clock error 0): each line
is ``{"t": ISO 8601 UTC, "entity_id", "type", "state", "actor"}`` with ``actor`` a caretaker
pseudonym. A stall-day with a distress call gets a ``vet_called`` event after it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from syncline.demo.world_plan import (
    ENTITIES,
    NS_PER_MS,
    AssetOut,
    EntityPlan,
    PlannedClock,
    iso_from_ns,
    rng_for,
)

EVENT_TYPES = ("door_open", "feed", "water_refill", "door_close", "vet_called")
METADATA_COLUMNS = ("entity_id", "barn", "stall", "day", "breed", "animal_count")


def make_events(root: Path, seed: int, entity: EntityPlan) -> AssetOut:
    rel = f"data/events/{entity.entity_id}.jsonl"
    rng = rng_for(seed, rel)
    first, last = entity.caretakers[0], entity.caretakers[-1]
    door = int(rng.integers(2000, 6000))
    plan: list[tuple[int, str, str, str]] = [
        (door, "door_open", "open", first),
        (door + int(rng.integers(2000, 4000)), "feed", "done", first),
        (int(rng.integers(14000, 20000)), "water_refill", "done", last),
        (int(rng.integers(24000, 28000)), "door_close", "closed", first),
    ]
    if entity.distress_calls:
        plan.append((int(rng.integers(36500, 37800)), "vet_called", "requested", first))
    plan.sort()
    events = [
        {"t": iso_from_ns(entity.start_ns + ms * NS_PER_MS), "entity_id": entity.entity_id,
         "type": kind, "state": state, "actor": actor}
        for ms, kind, state, actor in plan
    ]
    (root / rel).write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    clock = PlannedClock(0)
    truth: dict[str, Any] = {
        "entity_id": entity.entity_id, "modality": "events", "clock": clock.truth(),
        "events": [{"entity_ns": ms * NS_PER_MS, "type": kind, "state": state, "actor": actor}
                   for ms, kind, state, actor in plan],
    }
    return AssetOut(
        path=rel, modality="events", entity_id=entity.entity_id, device="barn-server",
        context={"location": entity.location}, start_time=entity.start_time,
        subjects=sorted({p[3] for p in plan}), truth=truth,
    )


def make_metadata(root: Path) -> AssetOut:
    rel = "data/metadata/stalls.csv"
    with (root / rel).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(METADATA_COLUMNS)
        for e in ENTITIES:
            w.writerow([e.entity_id, e.barn, e.stall, e.day, e.breed, e.animal_count])
    return AssetOut(
        path=rel, modality="metadata", entity_id=None,
        truth={"modality": "metadata", "key": "entity_id", "columns": list(METADATA_COLUMNS),
               "rows": len(ENTITIES)},
    )
