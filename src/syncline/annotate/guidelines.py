"""Annotation guidelines with versions: pilot, freeze, and what a change after the freeze means.

``guidelines.md`` in the project, together with the label schema, *is* a version (``g-`` and a
hash of both). ``pilot`` registers the current version and picks a small slice for experts to
label first — round-robin over the capture conditions of the segments' source files (lighting,
weather, camera, device), so the pilot sees the night and the rain, not fifty sunny mornings.
``freeze`` fixes it: from then on every label carries that version, and a change to the text or
the schema is refused at label time until it is frozen as a new version — which supersedes the
old one and flags every label made under it for review (a finding per label). ``diff`` shows
what changed since the frozen version.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from syncline.annotate.schema import SCHEMA_FILE, load_schema
from syncline.catalog import query as Q
from syncline.ids import stable_id
from syncline.project import Project

GUIDE_FILE = "guidelines.md"


class GuidelineError(ValueError):
    """A guideline step that cannot be done; the message says why and what to run."""


@dataclass(frozen=True)
class Current:
    version: str
    text: str
    schema_hash: str


def current(project: Project) -> Current:
    path = project.root / GUIDE_FILE
    if not path.is_file():
        raise GuidelineError(f"no {GUIDE_FILE} in {project.root}: write the guidelines first")
    text = path.read_text(encoding="utf-8")
    schema_hash = load_schema(project.root / SCHEMA_FILE).content_hash()
    digest = hashlib.sha256((schema_hash + "\0" + text).encode()).hexdigest()[:12]
    return Current(f"g-{digest}", text, schema_hash)


def _rows(project: Project) -> dict[str, dict[str, Any]]:
    return {r["version"]: r for r in project.catalog().read("guidelines").to_pylist()}


def frozen_version(project: Project) -> dict[str, Any] | None:
    return next((r for r in _rows(project).values() if r["status"] == "frozen"), None)


def pilot(project: Project, n: int = 20) -> list[str]:
    """Register the current version as a pilot and choose up to ``n`` segments covering the
    capture conditions round-robin; returns the segment IDs (also stored with the version)."""
    cur = current(project)
    with project.catalog().connect() as con:
        cands = Q.pilot_candidates(con)
    groups: dict[str, list[str]] = {}
    for sid, sig in cands:
        groups.setdefault(sig, []).append(sid)
    chosen: list[str] = []
    while len(chosen) < n and any(groups.values()):
        for sig in sorted(groups):
            if groups[sig] and len(chosen) < n:
                chosen.append(groups[sig].pop(len(groups[sig]) // 2))  # the middle one: not the edge of a file
    row = _rows(project).get(cur.version)
    if row is not None and row["status"] != "pilot":
        raise GuidelineError(f"version {cur.version} is already {row['status']}; edit {GUIDE_FILE} to pilot a new one")
    project.catalog().upsert("guidelines", [{
        "version": cur.version, "status": "pilot", "schema_hash": cur.schema_hash, "text": cur.text,
        "created_utc_ns": time.time_ns(), "pilot_target_ids": chosen}])
    return chosen


def freeze(project: Project) -> tuple[str, int]:
    """Freeze the current version (it must have been piloted); supersede the previous frozen one
    and flag its labels for review. Returns (version, labels flagged)."""
    cur = current(project)
    rows = _rows(project)
    if cur.version not in rows:
        raise GuidelineError(f"version {cur.version} was never piloted: run `syncline guidelines pilot` first")
    if rows[cur.version]["status"] == "frozen":
        return cur.version, 0
    cat = project.catalog()
    old = [r for r in rows.values() if r["status"] == "frozen"]
    now = time.time_ns()
    cat.upsert("guidelines", [r | {"status": "superseded"} for r in old]
               + [rows[cur.version] | {"status": "frozen", "frozen_utc_ns": now}])
    flagged = 0
    for r in old:
        labels = cat.read("labels", where=f"guideline_version = '{r['version']}'").to_pylist()
        cat.upsert("findings", [{
            "finding_id": stable_id("guideline", cur.version, lab["label_id"]), "check": "annotate.guideline_changed",
            "severity": "warning", "target_type": "label", "target_id": lab["label_id"], "entity_id": None,
            "message": f"label made under guideline {r['version']}, superseded by {cur.version}: review it",
            "details_json": json.dumps({"old": r["version"], "new": cur.version}), "run_id": None,
            "asset_ids": lab["asset_ids"], "subject_ids": lab["subject_ids"]} for lab in labels])
        flagged += len(labels)
    return cur.version, flagged


def diff(project: Project) -> str:
    """A unified diff from the frozen version's text to the current ``guidelines.md``."""
    base = frozen_version(project)
    cur = current(project)
    old = base["text"] if base else ""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), cur.text.splitlines(keepends=True),
                                        fromfile=base["version"] if base else "(nothing frozen)",
                                        tofile=cur.version))


def label_version(project: Project) -> str | None:
    """The guideline version new labels carry: the frozen one (refusing a changed text or schema
    after the freeze), the pilot during a pilot, or None without guidelines."""
    if not (project.root / GUIDE_FILE).is_file():
        return None
    cur = current(project)
    base = frozen_version(project)
    if base is not None and base["version"] != cur.version:
        raise GuidelineError(f"{GUIDE_FILE} or {SCHEMA_FILE} changed after guideline {base['version']} was frozen; "
                             f"pilot the new version ({cur.version}: `syncline guidelines pilot`), then "
                             f"`syncline guidelines freeze` it (labels of {base['version']} will be flagged for "
                             "review), or undo the change")
    return cur.version if base is not None or cur.version in _rows(project) else None
