"""``syncline consent withdraw``: remove everything of a subject, for real, and say what it was.

Order (each step safe to repeat, so a killed withdrawal finishes on the next run):

1. *Tombstones* — keyed hashes (``govern.keys``) of the pseudonym and of every content hash of
   the subject's files go into ``withdrawn``: from now on ingest refuses those files and that
   subject, and the next run can recognise what is left.
2. *Files* — managed copies and sidecars in ``media/``; exports and reports that mention the
   subject. Files go before rows, so a crash leaves rows that still point at them.
3. *Rows* — every row of the footprint (``govern.footprint``), derived tables first and the
   subject's assets, subject and consent rows last; deletions materialised by compaction.
4. *Versions* — every table's old versions, data files, transaction files and manifests
   removed (zero retention): in Lance a delete alone leaves the bytes in older versions. Runs
   pinned to older versions can no longer be replayed; that is what erasure means.
5. *Flags and log* — runs that produced removed rows are marked ``invalidated`` (their results
   used the subject's data: retrain or re-run them); the audit log gets one entry with the
   subject's keyed hash and the counts, never the pseudonym.

The coverage report is rebuilt afterwards, since it counted the subject's files.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncline.catalog import Catalog
from syncline.catalog import query as Q
from syncline.catalog.schema import TABLES
from syncline.govern.footprint import Footprint, GovernError, find
from syncline.govern.keys import keyed_hash, project_key
from syncline.ids import stable_id
from syncline.project import Project

LAST = ("assets", "subjects", "consent")  # deleted after everything derived from them
CHUNK = 2000


@dataclass
class WithdrawReport:
    subject_hash: str
    dry_run: bool
    footprint: Footprint | None
    finished_earlier: bool = False
    tables_cleaned: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_json(self, root: Path) -> dict[str, Any]:
        out: dict[str, Any] = {"subject_hash": self.subject_hash, "dry_run": self.dry_run,
                               "finished_earlier": self.finished_earlier, "elapsed_s": self.elapsed_s}
        if self.footprint is not None:
            out |= self.footprint.to_json(root)
        return out


def _quote(keys: list[str]) -> str:
    return ", ".join("'" + k.replace("'", "''") + "'" for k in keys)


def _delete_rows(cat: Catalog, rows: dict[str, list[str]]) -> None:
    order = [t for t in rows if t not in LAST] + [t for t in LAST if t in rows]
    for table in order:
        key = TABLES[table].key
        keys = rows[table]
        for i in range(0, len(keys), CHUNK):  # by row ID: the committed predicate must not name the rows
            cat.delete_by_row_id(table, f"{key} IN ({_quote(keys[i:i + CHUNK])})")
        cat.compact(table)


def _redact_entities(cat: Catalog, keys: list[str], pattern: str) -> list[str]:
    """Entities are not anyone's data: drop the attributes and metadata fields that mention the
    subject instead of the entity (which every stream of it hangs on). Returns the keys that
    could not be redacted (the entity ID itself names the subject) and must go."""
    import re

    rx = re.compile(pattern)
    rows = cat.read("entities", where=f"entity_id IN ({_quote(keys)})").to_pylist()
    fixed, doomed = [], []
    for r in rows:
        if rx.search(str(r["entity_id"])):
            doomed.append(str(r["entity_id"]))
            continue
        for col in ("attrs_json", "metadata_json"):
            data = json.loads(r.get(col) or "null")
            if isinstance(data, dict):
                r[col] = json.dumps({k: v for k, v in data.items()
                                     if not rx.search(k) and not rx.search(json.dumps(v))}, sort_keys=True)
            elif r.get(col) and rx.search(str(r[col])):
                r[col] = None
        fixed.append(r)
    cat.upsert("entities", fixed)
    return doomed


def _remove_files(paths: list[Path], root: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
        parent = p.parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def _tombstoned(cat: Catalog, subject_hash: str) -> set[str]:
    rows = cat.read("withdrawn", columns=["hash"], where=f"subject_hash = '{subject_hash}'")
    return {str(h) for h in rows.column("hash").to_pylist()}


def _leftover_media(project: Project, key: bytes, hashes: set[str]) -> list[Path]:
    """Managed copies (named by content hash) whose keyed hash is tombstoned."""
    if not project.media_dir.is_dir():
        return []
    out = []
    for p in project.media_dir.rglob("*"):
        stem = p.name.split(".", 1)[0]
        if p.is_file() and keyed_hash(key, stem) in hashes:
            out.append(p)
    return sorted(out)


def _cleanup_all(cat: Catalog) -> list[str]:
    names = []
    for table in TABLES:
        if len(cat.versions(table)) > 1:
            cat.cleanup(table)
            names.append(table)
    return names


def _flag_runs(cat: Catalog, run_ids: list[str], group_hash: str, action: str) -> None:
    if not run_ids:
        return
    runs = cat.read("runs", where=f"run_id IN ({_quote(run_ids)})").to_pylist()
    for r in runs:
        r["status"] = "invalidated"
        config = json.loads(r.get("config_json") or "{}")
        config["invalidated_by"] = {"action": action, "group_hash": group_hash}
        r["config_json"] = json.dumps(config, sort_keys=True)
    cat.upsert("runs", runs)


def _rebuild_reports(project: Project) -> None:
    from syncline.inventory import build_inventory

    build_inventory(project)


def withdraw(project: Project, subject_id: str, *, dry_run: bool = False) -> WithdrawReport:
    """Find (and unless ``dry_run``, purge) everything of ``subject_id``."""
    started = time.monotonic()
    cat = project.catalog()
    key = project_key(project.root, must_exist=cat.count("withdrawn") > 0)
    subject_hash = keyed_hash(key, subject_id)
    if not dry_run:
        finish_pending(project)
    try:
        fp = find(project, subject_id)
    except GovernError:
        if subject_hash not in _tombstoned(cat, subject_hash):
            raise
        # withdrawn before (perhaps killed half way): finish what the first run left
        report = WithdrawReport(subject_hash, dry_run, None, finished_earlier=True)
        if not dry_run:
            _remove_files(_leftover_media(project, key, _tombstoned(cat, subject_hash)), project.root)
            report.tables_cleaned = _cleanup_all(cat)
        report.elapsed_s = round(time.monotonic() - started, 3)
        return report
    report = WithdrawReport(subject_hash, dry_run, fp)
    if not dry_run:
        report.tables_cleaned = purge(project, fp, group_hash=subject_hash, action="consent.withdraw")
    report.elapsed_s = round(time.monotonic() - started, 3)
    return report


def purge(project: Project, fp: Footprint, *, group_hash: str, action: str) -> list[str]:
    """Steps 1-5 of the module docstring for one footprint; returns the tables cleaned.
    ``group_hash`` ties the tombstones together (a subject's keyed hash, or a retention run's).
    A ``<action>.started`` audit entry goes first and names the runs to flag, so a run killed
    part way is finished by the next call (``finish_pending``)."""
    with project.catalog().index_lock():  # no index build reads the subject's vectors meanwhile
        return _purge(project, fp, group_hash=group_hash, action=action)


def _purge(project: Project, fp: Footprint, *, group_hash: str, action: str) -> list[str]:
    cat = project.catalog()
    key = project_key(project.root, must_exist=cat.count("withdrawn") > 0)
    now = time.time_ns()
    tokens, words = fp.needles
    tokens = sorted(set(tokens) | {t[:32] for t in tokens})  # verify looks at 32-digit windows
    details = {"purge_id": stable_id(action, group_hash, now), "group_hash": group_hash,
               "subject_hash": group_hash if words else None, "assets": len(fp.assets),
               "rows": {t: len(k) for t, k in sorted(fp.rows.items())}, "media_files": len(fp.media_files),
               "files": len(fp.files), "indexes": fp.indexes, "runs_flagged": fp.runs_flagged}
    _log(cat, f"{action}.started", group_hash, details)
    cat.upsert("withdrawn", [{"hash": keyed_hash(key, w), "kind": "subject", "subject_hash": group_hash,
                              "at_utc_ns": now, "action": action} for w in words]
               + [{"hash": keyed_hash(key, t), "kind": "content", "subject_hash": group_hash, "at_utc_ns": now,
                   "action": action} for t in tokens])
    _remove_files(fp.media_files + fp.files, project.root)
    rows = dict(fp.rows)
    if rows.get("entities"):
        doomed = _redact_entities(cat, rows.pop("entities"), Q.mention_pattern(tokens, words, engine="python"))
        cat.compact("entities")  # the redacted rows' old bytes go with the rewrite
        if doomed:
            rows["entities"] = doomed
    _delete_rows(cat, rows)
    return _finish(project, action, group_hash, details)


def _log(cat: Catalog, action: str, group_hash: str, details: dict[str, Any]) -> None:
    now = time.time_ns()
    cat.upsert("audit_log", [{"log_id": stable_id(action, group_hash, now), "at_utc_ns": now,
                              "actor": os.environ.get("USER", "unknown"), "action": action,
                              "details_json": json.dumps(details, sort_keys=True)}])


def _finish(project: Project, action: str, group_hash: str, details: dict[str, Any]) -> list[str]:
    """Steps 4-5 (idempotent): drop the segment indexes, flag runs, drop old versions, rebuild the
    report, log the end."""
    cat = project.catalog()
    for name in details.get("indexes") or []:  # derived from the subject's files: rebuilt from what remains
        cat.drop_index(name)
    cat.drop_leftovers()  # a crashed build's copy may hold the subject's vectors and is listed nowhere
    _flag_runs(cat, list(details.get("runs_flagged") or []), group_hash, action)
    cleaned = _cleanup_all(cat)
    _rebuild_reports(project)
    _log(cat, action, group_hash, details)
    return cleaned


def finish_pending(project: Project) -> list[str]:
    """Finish every purge whose ``.started`` entry has no end entry (a run killed part way);
    returns the group hashes finished."""
    cat = project.catalog()
    log = cat.read("audit_log", columns=["action", "details_json"]).to_pylist()
    ended = {json.loads(r["details_json"] or "{}").get("purge_id") for r in log
             if not str(r["action"]).endswith(".started")}
    done = []
    for r in log:
        if not str(r["action"]).endswith(".started"):
            continue
        action = str(r["action"]).removesuffix(".started")
        details = json.loads(r["details_json"] or "{}")
        if details.get("purge_id") and details["purge_id"] not in ended:
            _remove_files(_leftover_media(project, project_key(project.root, must_exist=True),
                                          _tombstoned(cat, str(details["group_hash"]))), project.root)
            with cat.index_lock():
                _finish(project, action, str(details["group_hash"]), details | {"resumed": True})
            done.append(str(details["group_hash"]))
    return done
