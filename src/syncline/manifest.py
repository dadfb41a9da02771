"""The ingest manifest: which entity each file belongs to, its capture context, its subjects.

A manifest is YAML or JSON (``.yaml``/``.yml``/``.json``) or a CSV with one row per asset.
Paths are relative to the manifest's folder. Everything but ``assets[].path`` is optional::

    version: 1
    entities:
      - entity_id: stall-a-2026-05-01          # stable, user-given
        start_time: "2026-05-01T06:00:00Z"     # wall clock of t=0 on the entity timeline
        attrs: {barn: north, stall: A}
    subjects:
      - subject_id: caretaker-01               # a pseudonym, never a name
        consent: {status: granted, scope: [voice, training], granted_at: "2026-04-01", jurisdiction: EU,
                  source_document: form-2026-017, retention_days: 730}
    assets:
      - path: video/stall-a_cam1.mp4
        entity_id: stall-a-2026-05-01
        device: "Axis M1065"                   # capture context
        camera: cam1
        mic: null
        channel: null
        context: {lighting: day}               # any other capture-condition keys
        start_time: "2026-05-01T06:00:00.250Z" # nominal wall-clock start of this file
        subjects: [caretaker-01]
        jurisdiction: EU

CSV manifests have the columns ``path, entity_id, device, camera, mic, channel, start_time,
subjects`` (``;``-separated), ``jurisdiction`` and any ``context.KEY`` columns.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ManifestError(ValueError):
    """An unusable manifest; the message names the file, the field and what to do."""


def parse_utc_ns(value: str | datetime) -> int:
    """ISO 8601 (naive means UTC) to integer nanoseconds since the Unix epoch."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    whole = int(dt.replace(microsecond=0).timestamp())
    return whole * 1_000_000_000 + dt.microsecond * 1_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsentSpec(_Strict):
    status: Literal["granted", "withdrawn", "pending"] = "granted"
    scope: list[str] = Field(default_factory=list)  # collection, annotation, training, evaluation, publication, ...
    granted_at: str | None = None
    withdrawn_at: str | None = None
    jurisdiction: str | None = None
    source_document: str | None = None  # where the consent is recorded (a form ID, a file name)
    retention_days: int | None = Field(default=None, ge=1)  # keep this subject's files at most this long


class SubjectSpec(_Strict):
    subject_id: str = Field(min_length=1)
    consent: ConsentSpec = Field(default_factory=ConsentSpec)


class EntitySpec(_Strict):
    entity_id: str = Field(min_length=1)
    start_time: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("start_time")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            parse_utc_ns(v)
        return v


class AssetSpec(_Strict):
    path: str = Field(min_length=1)
    entity_id: str | None = None
    modality: str | None = None
    device: str | None = None
    camera: str | None = None
    mic: str | None = None
    channel: str | None = None
    context: dict[str, str] = Field(default_factory=dict)
    start_time: str | None = None
    subjects: list[str] = Field(default_factory=list)
    jurisdiction: str | None = None

    @field_validator("start_time")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            parse_utc_ns(v)
        return v


class Manifest(_Strict):
    version: int = 1
    entities: list[EntitySpec] = Field(default_factory=list)
    subjects: list[SubjectSpec] = Field(default_factory=list)
    assets: list[AssetSpec] = Field(default_factory=list)

    def by_resolved_path(self, root: Path) -> dict[str, AssetSpec]:
        """Asset rows keyed by their resolved absolute path (manifest paths are relative to ``root``)."""
        return {str((root / a.path).resolve()): a for a in self.assets}


def _csv_manifest(path: Path) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            asset: dict[str, Any] = {"context": {}}
            for key, value in row.items():
                if value in (None, ""):
                    continue
                if key.startswith("context."):
                    asset["context"][key.removeprefix("context.")] = value
                elif key == "subjects":
                    asset["subjects"] = [s.strip() for s in value.split(";") if s.strip()]
                else:
                    asset[key] = value
            rows.append(asset)
    return {"assets": rows}


def load_manifest(path: Path) -> Manifest:
    """Read and validate a manifest; errors name the file and the offending field."""
    try:
        if path.suffix.lower() == ".csv":
            raw: Any = _csv_manifest(path)
        elif path.suffix.lower() == ".json":
            raw = json.loads(path.read_text(encoding="utf-8"))
        else:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, json.JSONDecodeError, csv.Error) as e:
        raise ManifestError(f"{path}: cannot read manifest: {e}") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{path}: a manifest is a mapping with entities/subjects/assets")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"{path}: field {loc}: {err['msg']} (got {err.get('input')!r})")
        raise ManifestError("\n".join(lines)) from None
    known_subjects = {s.subject_id for s in manifest.subjects}
    for i, a in enumerate(manifest.assets):
        unknown = [s for s in a.subjects if s not in known_subjects]
        if unknown and manifest.subjects:
            raise ManifestError(
                f"{path}: field assets.{i}.subjects: unknown subject(s) {unknown}; "
                "declare them under subjects first"
            )
    return manifest
