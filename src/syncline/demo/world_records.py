"""The farm's records: a per-stall-day event log (JSON Lines) and the stall metadata table.

The event log is written by the barn server, whose clock is right (clock error 0, no drift):
each line is ``{"t": ISO 8601 UTC, "entity_id", "type", "state", "actor"}`` with ``actor`` a
caretaker pseudonym. The door contact logs every ``door_open``/``door_close`` of the scene
(``world_scene``), also those before and after the clips; caretakers log ``feed`` and
``water_refill``; a stall-day with a distress call gets a ``vet_called`` event after it. The
log's local time is relative to its first line, as ``syncline.media.events`` reads it.
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
from syncline.demo.world_scene import plan_scene

EVENT_TYPES = ("door_open", "feed", "water_refill", "door_close", "vet_called")
METADATA_COLUMNS = ("entity_id", "barn", "stall", "day", "breed", "animal_count")
_STATE = {"door_open": "open", "door_close": "closed"}


def make_events(root: Path, seed: int, entity: EntityPlan) -> AssetOut:
    rel = f"data/events/{entity.entity_id}.jsonl"
    rng = rng_for(seed, rel)
    scene = plan_scene(seed, entity.index)
    first, last = entity.caretakers[0], entity.caretakers[-1]
    plan: list[tuple[int, str, str, str]] = [(ms, kind, _STATE[kind], actor)
                                             for ms, kind, actor in scene.door_events()]
    door = next(ms for ms, kind, _ in scene.door_events() if kind == "door_open" and ms > 0)
    plan.append((door + int(rng.integers(2000, 4000)), "feed", "done", first))
    plan.append((int(rng.integers(14000, 20000)), "water_refill", "done", last))
    if entity.distress_calls:
        plan.append((int(rng.integers(36500, 37800)), "vet_called", "requested", first))
    plan.sort()
    events = [
        {"t": iso_from_ns(entity.start_ns + ms * NS_PER_MS), "entity_id": entity.entity_id,
         "type": kind, "state": state, "actor": actor}
        for ms, kind, state, actor in plan
    ]
    (root / rel).write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    clock = PlannedClock(plan[0][0] * NS_PER_MS)
    truth: dict[str, Any] = {
        "entity_id": entity.entity_id, "modality": "events", "clock": clock.truth(),
        "events": [{"entity_ns": ms * NS_PER_MS, "local_ns": clock.to_local(ms * NS_PER_MS),
                    "type": kind, "state": state, "actor": actor}
                   for ms, kind, state, actor in plan],
    }
    return AssetOut(
        path=rel, modality="events", entity_id=entity.entity_id, device="barn-server",
        context={"location": entity.location}, start_time=iso_from_ns(entity.start_ns + plan[0][0] * NS_PER_MS),
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
