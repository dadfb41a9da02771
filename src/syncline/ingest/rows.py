"""Turn probe results and manifest rows into catalog rows (pure functions, no I/O).

Clock at ingest (refined later by ``syncline align``): an asset's nominal wall-clock start is
the manifest's ``start_time``, else the capture time the file itself states (EXIF, container,
absolute sensor time). Its ``clock_offset_ns`` is that start minus the entity's origin; with no
nominal start the asset is assumed to start at the entity's t=0 (``clock_source='assumed'``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from syncline import __version__
from syncline.ids import stable_id
from syncline.manifest import AssetSpec, EntitySpec, Manifest, SubjectSpec, parse_utc_ns

INGEST_VERSION = f"syncline-{__version__}/ingest-1"

MEDIA_COLUMNS = (
    "modality", "format", "duration_ns", "start_ns", "codec", "width", "height", "fps",
    "frame_count", "sample_rate", "channels", "priming_samples", "n_items", "capture_time_utc_ns",
    "device",
)


def _json(value: Any) -> str | None:
    return json.dumps(value, sort_keys=True, default=str) if value else None


def asset_row(
    *,
    sha256: str,
    size: int,
    mtime_ns: int,
    source_path: str,
    duplicate_paths: list[str],
    entity_id: str,
    info: dict[str, Any],
    managed: dict[str, Any] | None,
    spec: AssetSpec | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {c: info.get(c) for c in MEDIA_COLUMNS}
    row.update(
        asset_id=sha256[:32], sha256=sha256, bytes=size, source_path=source_path,
        source_mtime_ns=mtime_ns, duplicate_paths=duplicate_paths or None, entity_id=entity_id,
        had_gps=bool(info.get("has_gps")), media_json=_json(info.get("details")),
        ingest_version=INGEST_VERSION,
    )
    if managed:
        row.update(managed_path=managed["managed_path"], managed_sha256=managed["managed_sha256"],
                   stripped=list(managed["stripped"]))
    nominal, clock_source = info.get("capture_time_utc_ns"), "container" if info.get("capture_time_utc_ns") else None
    if info.get("modality") == "image" and nominal:
        clock_source = "exif"
    if spec is not None:
        row.update(camera=spec.camera, mic=spec.mic, channel=spec.channel,
                   context_json=_json(spec.context), jurisdiction=spec.jurisdiction,
                   subject_ids=list(spec.subjects) or None)
        if spec.device:
            row["device"] = spec.device
        if spec.start_time:
            nominal, clock_source = parse_utc_ns(spec.start_time), "manifest"
    row.update(nominal_start_utc_ns=nominal, clock_source=clock_source or "assumed",
               clock_offset_ns=0, clock_drift_ppm=0.0)
    return row


# What a manifest says about an asset (and the clock it implies): on a re-ingest without a
# manifest entry, the catalog's values stand — a folder name never re-files a known asset.
IDENTITY_COLUMNS = ("entity_id", "camera", "mic", "channel", "device", "context_json", "jurisdiction", "subject_ids",
                    "nominal_start_utc_ns", "clock_source", "clock_offset_ns", "clock_drift_ppm")


def keep_identity(row: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """A known asset found again with no manifest entry for it keeps its entity, subjects,
    context and clock. Its first path stays first while the file is still there (a moved folder
    gives the path found now); the other paths it is known under — found now, or stored and
    still on disk — are its duplicates, each file once however it was spelled."""
    found = [row["source_path"], *(row.get("duplicate_paths") or [])]
    old = str(stored["source_path"])
    keep_old = Path(old).exists()
    first = old if keep_old else row["source_path"]
    seen = {Path(first).resolve()}
    dups = []
    for p in [*found, *(d for d in stored.get("duplicate_paths") or [] if Path(d).exists())]:
        if Path(p).resolve() not in seen:
            seen.add(Path(p).resolve())
            dups.append(p)
    return {**row, **{k: stored.get(k) for k in IDENTITY_COLUMNS}, "source_path": first,
            "source_mtime_ns": stored.get("source_mtime_ns") if keep_old else row["source_mtime_ns"],
            "duplicate_paths": sorted(dups) or None}


def verified_clock(row: dict[str, Any] | None) -> bool:
    """A clock that alignment checked against content (an anchor or an estimate): ingest's
    nominal clocks never overwrite it."""
    source = str((row or {}).get("clock_source") or "")
    return source == "anchor" or source.startswith("estimated:")


def keep_verified_clock(row: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """On re-ingest, carry over a clock that alignment verified instead of the nominal one; not
    across a move to another entity (it was measured against the old entity's other files)."""
    if stored is None or not verified_clock(stored) or stored.get("entity_id") != row.get("entity_id"):
        return row
    return {**row, **{k: stored[k] for k in ("clock_offset_ns", "clock_drift_ppm", "clock_source")}}


def with_clock(row: dict[str, Any], origin_utc_ns: int | None) -> dict[str, Any]:
    """Fill ``clock_offset_ns`` from the entity origin (see module docstring); a verified
    clock is left as it is."""
    if verified_clock(row):
        return row
    nominal = row.get("nominal_start_utc_ns")
    if nominal is not None and origin_utc_ns is not None:
        return {**row, "clock_offset_ns": int(nominal) - int(origin_utc_ns)}
    return {**row, "clock_offset_ns": 0, "clock_source": "assumed" if nominal is None else row["clock_source"]}


def entity_row(spec: EntitySpec) -> dict[str, Any]:
    return {
        "entity_id": spec.entity_id,
        "origin_utc_ns": parse_utc_ns(spec.start_time) if spec.start_time else None,
        "source": "manifest",
        "attrs_json": _json(spec.attrs),
    }


def subject_rows(manifest: Manifest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    subjects, consent = [], []
    for s in manifest.subjects:
        subjects.append({"subject_id": s.subject_id, "jurisdiction": s.consent.jurisdiction})
        consent.append(consent_row(s))
    return subjects, consent


def consent_row(s: SubjectSpec) -> dict[str, Any]:
    c = s.consent
    return {
        "consent_id": stable_id("consent", s.subject_id, "manifest"),
        "subject_id": s.subject_id, "status": c.status, "scope": list(c.scope) or None,
        "granted_at": c.granted_at, "withdrawn_at": c.withdrawn_at, "jurisdiction": c.jurisdiction,
        "source": "manifest", "source_document": c.source_document, "retention_days": c.retention_days,
    }


def event_rows(asset: dict[str, Any], events: list[dict[str, Any]], origin_utc_ns: int | None) -> list[dict[str, Any]]:
    """Events of one event-log asset on its entity's timeline.

    Times larger than 1e17 ns (after 1973) are wall-clock and are moved onto the entity
    timeline by the entity origin; smaller ones are asset-local and go through the clock.
    """
    out = []
    offset = int(asset.get("clock_offset_ns") or 0)
    for i, ev in enumerate(events):
        t = int(ev["t_ns"])
        t_entity = t - int(origin_utc_ns) if (t > 10**17 and origin_utc_ns is not None) else t + offset
        out.append({
            "event_id": stable_id(asset["asset_id"], i),
            "entity_id": asset["entity_id"], "t_ns": t_entity, "type": str(ev.get("type")),
            "state": ev.get("state"), "actor": ev.get("actor"), "payload_json": ev.get("payload_json"),
            "asset_ids": [asset["asset_id"]], "subject_ids": asset.get("subject_ids"),
        })
    return out
