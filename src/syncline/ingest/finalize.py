"""Whole-catalog steps of ingest that need every asset in place: register the manifest's
entities, subjects and consent; create entities found by convention; set entity origins and
asset clocks; load event logs into ``events`` (again, under its new entity, for a log a manifest
re-filed); refresh segments that list a re-filed file; load metadata rows into ``entities``.

Every step is an upsert computed from the catalog itself, so running it twice changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from syncline.catalog import Catalog
from syncline.catalog import query as Q
from syncline.ingest import rows as R
from syncline.manifest import Manifest

PROJECT_ENTITY = "_project"
"""Metadata tables describe many entities; their asset belongs to this reserved entity."""


def register_manifest(cat: Catalog, manifest: Manifest) -> None:
    if manifest.entities:
        cat.upsert("entities", [R.entity_row(e) for e in manifest.entities])
    subjects, consent = R.subject_rows(manifest)
    cat.upsert("subjects", subjects)
    cat.upsert("consent", consent)


def finalize(cat: Catalog) -> tuple[int, list[dict[str, Any]], list[str]]:
    """Run the whole-catalog steps; returns the number of events in the catalog, the segments
    refreshed because a file they listed was re-filed (``Q.segments_listing_foreign_assets``)
    and the transcripts whose word timings were dropped for the same reason."""
    with cat.connect() as con:
        new_entities = Q.entities_missing_a_row(con)
    cat.insert_missing("entities", [{"entity_id": e, "source": "convention"} for e in new_entities])
    _set_origins(cat)
    origin_of = {r["entity_id"]: r["origin_utc_ns"]
                 for r in cat.read("entities", columns=["entity_id", "origin_utc_ns"]).to_pylist()}
    _set_clocks(cat, origin_of)
    _load_events(cat, origin_of)
    refreshed = _refresh_segments(cat)
    dropped = _drop_refiled_words(cat)
    _load_metadata(cat)
    return cat.count("events"), refreshed, dropped


def _set_origins(cat: Catalog) -> None:
    """Entities with no manifest origin start at their earliest asset's nominal start."""
    with cat.connect() as con:
        origins = Q.origins_from_assets(con)
    if origins:
        ents = {r["entity_id"]: r for r in cat.read("entities").to_pylist() if r["entity_id"] in origins}
        cat.upsert("entities", [{**ents[e], "origin_utc_ns": t} for e, t in origins.items()])


def _set_clocks(cat: Catalog, origin_of: dict[str, int | None]) -> None:
    changed = []
    for row in cat.read("assets").to_pylist():
        fixed = R.with_clock(row, origin_of.get(row["entity_id"]))
        if fixed["clock_offset_ns"] != row["clock_offset_ns"] or fixed["clock_source"] != row["clock_source"]:
            changed.append(fixed)
    cat.upsert("assets", changed)


def _load_events(cat: Catalog, origin_of: dict[str, int | None]) -> None:
    from syncline.media.events import read_events

    with cat.connect() as con:
        pending = Q.event_assets_to_load(con)
    for aid in pending:  # a re-filed log's events move with it: same IDs, its entity, its clock
        asset = cat.read("assets", where=f"asset_id = '{aid}'").to_pylist()[0]
        events = read_events(Path(asset["source_path"])).to_pylist()
        cat.upsert("events", R.event_rows(asset, events, origin_of.get(asset["entity_id"])))


def _refresh_segments(cat: Catalog) -> list[dict[str, Any]]:
    """Segments that list a file a manifest has since re-filed under another entity stop listing
    it. One left with no file is removed, unless labels or a scenario target it: those are
    people's choices, never dropped by ingest (``ingest`` reports the labels left behind). The
    segment's subjects stay as they were (more, never fewer, for a withdrawal to find). Rows of
    earlier runs that name a removed segment stay: they are the history those runs read."""
    with cat.connect(tables=("segments", "assets", "labels", "scenarios")) as con:
        stale = Q.segments_listing_foreign_assets(con)
    if not stale:
        return []
    stale = [r | {"removed": not r["kept"] and not r["labels"]} for r in stale]
    keep = {r["segment_id"]: list(r["kept"]) for r in stale if not r["removed"]}
    if keep:
        rows = cat.read("segments", where=f"segment_id IN ({Q.sql_list(keep)})").to_pylist()
        cat.upsert("segments", [{**r, "asset_ids": keep[r["segment_id"]] or None} for r in rows])  # subjects kept
    empty = [r["segment_id"] for r in stale if r["removed"]]
    for i in range(0, len(empty), 500):
        cat.delete("segments", f"segment_id IN ({Q.sql_list(empty[i:i + 500])})")
    return stale


def _drop_refiled_words(cat: Catalog) -> list[str]:
    """Word timings forced-aligned under an entity that their transcript, or the audio they were
    fitted to, has since left are removed (``syncline align`` refines them again); returns the
    transcripts whose words went."""
    with cat.connect(tables=("words", "assets")) as con:
        stale = Q.words_of_refiled_transcripts(con)
    for i in range(0, len(stale), 500):
        cat.delete("words", f"asset_id IN ({Q.sql_list(stale[i:i + 500])})")
    return stale


def _load_metadata(cat: Catalog) -> None:
    from syncline.media.metadata import read_metadata

    metadata_assets = cat.read("assets", where="modality = 'metadata'").to_pylist()
    entities = {r["entity_id"]: r for r in cat.read("entities").to_pylist()}
    updates = []
    for asset in sorted(metadata_assets, key=lambda a: a["asset_id"]):
        for rec in read_metadata(Path(asset["source_path"])).to_pylist():
            ent = entities.get(str(rec.get("entity_id")))
            if ent is None:
                continue
            meta = json.dumps(rec, sort_keys=True, default=str)
            if ent.get("metadata_json") != meta:
                ent.update(metadata_json=meta, metadata_asset_id=asset["asset_id"])
                updates.append(ent)
    cat.upsert("entities", updates)
