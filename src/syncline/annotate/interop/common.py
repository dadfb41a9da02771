"""What every label format's import and export shares: the labels to export with their targets,
the media they were drawn on, the time base each tool counts in, and one way to report.

Time bases: syncline stores times on the entity timeline (nanoseconds, after clock
corrections). A labelling tool counts in *player time*: seconds (or frames) from the first
frame or sample the player shows. For an asset with clock ``c`` and first presentation time
``start_ns``, ``entity = c.to_entity(start_ns + player)`` and back — so a label drawn at 3.0 s in
a microphone file that runs 2.5 s late lands at 0.5 s on the entity timeline, next to the video
it belongs with.

Imports convert every record to a label (or a refusal that names the record: task, annotation,
region), then write the labels through ``write_labels`` — the same checks (schema, qualification,
target, value, span) and the same single commit as any other write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from syncline.align.segment import clock_of
from syncline.annotate.labels import write_labels
from syncline.annotate.schema import SCHEMA_FILE, LabelSchema, load_schema
from syncline.catalog import query as Q
from syncline.project import Project
from syncline.timebase import Clock

NS = 1_000_000_000
JSON_TYPES = ("multi_label", "box", "polygon", "time_span")  # stored as JSON text


@dataclass(frozen=True)
class Media:
    """An asset as a labelling tool sees it."""

    asset_id: str
    entity_id: str
    name: str  # file name, as tools refer to media
    modality: str
    width: int | None
    height: int | None
    fps: float | None
    start_ns: int
    duration_ns: int | None
    clock: Clock

    def to_entity(self, player_ns: int) -> int:
        return self.clock.to_entity(local_ns=self.start_ns + player_ns)

    def to_player(self, entity_ns: int) -> int:
        return self.clock.to_local(entity_ns=entity_ns) - self.start_ns

    def fits(self, player_ns: int) -> bool:
        """Is a player time inside the file (its end included)?"""
        return 0 <= player_ns and (self.duration_ns is None or player_ns <= self.duration_ns)


def media(project: Project) -> dict[str, Media]:
    """Every asset of the project as ``Media``, by asset ID."""
    with project.catalog().connect() as con:
        rows = Q.media_rows(con)
    return {r["asset_id"]: Media(
        r["asset_id"], r["entity_id"], PurePath(str(r["source_path"] or r["asset_id"]).replace("\\", "/")).name,
        r["modality"], r["width"], r["height"], r["fps"], int(r["start_ns"] or 0), r["duration_ns"],
        clock_of(r),
    ) for r in rows}


def by_name(items: dict[str, Media]) -> dict[str, list[Media]]:
    """Media by file name (a name two files share maps to both: the caller must refuse it)."""
    out: dict[str, list[Media]] = {}
    for m in items.values():
        out.setdefault(m.name, []).append(m)
    return out


def resolve(ref: str, items: dict[str, Media], names: dict[str, list[Media]]) -> Media:
    """The asset a tool's media reference (an asset ID, a URL or a path ending in a file name)
    points at, or ValueError saying why none or several."""
    if ref in items:
        return items[ref]
    name = PurePath(str(ref).split("?")[0].replace("\\", "/")).name
    found = names.get(name, [])
    if not found:
        raise ValueError(f"media {ref!r}: no asset named {name!r} in the catalog")
    if len(found) > 1:
        raise ValueError(f"media {ref!r}: {len(found)} assets are named {name!r}; refer to it by asset ID")
    return found[0]


def export_rows(project: Project, fields: list[str] | None = None) -> list[dict[str, Any]]:
    """Current labels (one per field, target, annotator and instance) with the target's entity,
    ``value`` decoded from its stored text (JSON for lists and shapes; by the schema's type)."""
    types = {name: spec.type for name, spec in schema_of(project).fields.items()}
    with project.catalog().connect() as con:
        rows = Q.labels_with_targets(con, fields)
    for r in rows:
        if types.get(r["field"]) in JSON_TYPES:
            r["value"] = json.loads(r["value"])
        elif types.get(r["field"]) == "number":
            r["value"] = float(r["value"])
    return rows


def schema_of(project: Project) -> LabelSchema:
    return load_schema(project.root / SCHEMA_FILE)


@dataclass
class Imported:
    """What an import wrote, and each refused record named as the format names it."""

    written: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, why)

    def to_json(self) -> dict[str, Any]:
        return {"written": self.written, "refused": [{"record": w, "reason": r} for w, r in self.refused]}


def write_converted(project: Project, items: list[tuple[str, dict[str, Any]]], bad: list[tuple[str, str]],
                    schema: LabelSchema | None = None) -> Imported:
    """Write converted labels in one commit; refusals of the writer are named by their record."""
    res = write_labels(project, [lab for _, lab in items], schema=schema)
    refused = bad + [(items[r.index][0], r.reason) for r in res.refused]
    return Imported(res.written, refused)
