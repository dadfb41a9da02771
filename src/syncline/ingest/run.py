"""The ingest run: discover → hash → probe/scrub in parallel → register in batches → finalise.

Memory stays flat in the number of files: only paths and hashes are held for the whole run;
media is streamed by the workers and catalog rows are written one batch at a time.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from syncline.catalog import Catalog
from syncline.catalog import query as Q
from syncline.govern.keys import Tombstones, keyed_hash
from syncline.ids import asset_id_from_sha256, entity_id_from_path, sha256_file, stable_id
from syncline.ingest import rows as R
from syncline.ingest.discover import Found, Rejected, discover
from syncline.ingest.finalize import PROJECT_ENTITY, finalize, register_manifest
from syncline.ingest.work import process_file
from syncline.manifest import AssetSpec, Manifest, load_manifest
from syncline.media.types import MediaErrorKind
from syncline.project import Project
from syncline.represent.embed import window_table

ProgressFn = Callable[[str, int, int], None]
"""progress(stage, done, total): called as work completes."""

@dataclass(frozen=True)
class QuarantinedFile:
    path: str
    kind: str
    reason: str


@dataclass
class IngestSummary:
    files_seen: int = 0
    new_assets: int = 0
    known_assets: int = 0
    duplicate_files: int = 0
    bytes_new: int = 0
    by_modality: dict[str, int] = field(default_factory=dict)
    quarantined: list[QuarantinedFile] = field(default_factory=list)
    entities: int = 0
    events: int = 0
    manifest_missing: list[str] = field(default_factory=list)  # listed in the manifest, not found
    moved: list[str] = field(default_factory=list)  # known files a manifest re-filed, and what that left behind
    elapsed_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _File:
    path: Path
    root: Path
    display: str
    size: int = 0
    mtime_ns: int = 0
    sha: str = ""


def _hash_all(files: list[_File], cat: Catalog, pool: Executor, progress: ProgressFn | None,
              bad: list[QuarantinedFile]) -> list[_File]:
    known = cat.read("assets", columns=["source_path", "bytes", "source_mtime_ns", "sha256"]).to_pylist()
    cache = {(r["source_path"], r["bytes"], r["source_mtime_ns"]): r["sha256"] for r in known}

    def one(f: _File) -> _File | QuarantinedFile:
        try:
            st = f.path.stat()
            f.size, f.mtime_ns = st.st_size, st.st_mtime_ns
            f.sha = cache.get((f.display, f.size, f.mtime_ns)) or sha256_file(f.path)
            return f
        except OSError as e:
            return QuarantinedFile(f.display, str(MediaErrorKind.UNREADABLE),
                                   f"cannot read: {e.strerror}; check the file and its permissions")

    out: list[_File] = []
    for i, r in enumerate(pool.map(one, files), 1):
        if isinstance(r, QuarantinedFile):
            bad.append(r)
        else:
            out.append(r)
        if progress:
            progress("hash", i, len(files))
    return out


def _stored_path(q: QuarantinedFile, withdrawn: Tombstones) -> str:
    """A refused withdrawn file is recorded without its name (it may name the person): the
    ingest output showed the path once; the catalog keeps a keyed hash of it."""
    if q.kind != "withdrawn" or withdrawn.key is None:
        return q.path
    return f"(withdrawn file {keyed_hash(withdrawn.key, q.path)[:16]})"


def _refuse_withdrawn(files: list[_File], by_path: dict[str, AssetSpec], withdrawn: Tombstones,
                      bad: list[QuarantinedFile]) -> list[_File]:
    """Files withdrawn by consent (by content) or naming a withdrawn subject are quarantined
    without their hash or the subject's pseudonym."""
    keep = []
    for f in files:
        spec = by_path.get(str(f.path.resolve()))
        why = withdrawn.why(f.sha) or withdrawn.why(asset_id_from_sha256(f.sha))
        if why is not None:
            what = ("a person in this file withdrew consent" if why == "consent.withdraw"
                    else "this file outlived its retention period and was purged")
            bad.append(QuarantinedFile(f.display, "withdrawn", f"{what}: not ingested (delete it at its source)"))
        elif spec is not None and any(withdrawn.has(s) for s in spec.subjects):
            bad.append(QuarantinedFile(f.display, "withdrawn", "the manifest names a subject who withdrew "
                                       "consent: not ingested"))
        else:
            keep.append(f)
    return keep


def _store_embeddings(cat: Catalog, done: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Vectors of the files kept as embeddings only, one row per window, with provenance; never
    overwriting a stored representation or vector (``syncline embed`` refuses a changed config)."""
    reps: dict[str, dict[str, Any]] = {}
    tables = []
    for asset, res in done:
        emb = res.get("embeddings")
        if not emb:
            continue
        rep = emb["representation"]
        reps[rep["representation_id"]] = rep
        tables.append(cat.conform("embeddings", window_table(asset["asset_id"], asset.get("subject_ids"),
                                                             rep["representation_id"], emb["t0_ns"], emb["t1_ns"],
                                                             np.asarray(emb["vectors"], np.float32))))
    if reps:
        cat.insert_missing("representations", list(reps.values()))
    if tables:
        cat.insert_missing("embeddings", pa.concat_tables(tables))


def _stored_as_result(row: dict[str, Any]) -> dict[str, Any]:
    info = {c: row.get(c) for c in R.MEDIA_COLUMNS}
    info["has_gps"] = row.get("had_gps")
    info["details"] = json.loads(row["media_json"]) if row.get("media_json") else {}
    out: dict[str, Any] = {"ok": True, "info": info}
    if row.get("managed_path"):
        out.update(managed_path=row["managed_path"], managed_sha256=row["managed_sha256"],
                   stripped=row.get("stripped") or [])
    return out


def _reusable(row: dict[str, Any], project: Project) -> bool:
    """A stored asset needs no new probe when this ingest version made it and its copy exists."""
    if row.get("ingest_version") != R.INGEST_VERSION:
        return False
    if not project.settings.copy_media:
        return True
    return bool(row.get("managed_path")) and (project.media_dir / row["managed_path"]).exists()


def _batches(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _asset_row(sha: str, group: list[_File], res: dict[str, Any], by_path: dict[str, AssetSpec],
               summary: IngestSummary, *, stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """The catalog row for one content hash (first path in sorted order), or a quarantine."""
    first = group[0]
    if not res["ok"]:
        summary.quarantined.extend(QuarantinedFile(f.display, res["kind"], res["reason"]) for f in group)
        return None
    spec = by_path.get(str(first.path.resolve()))
    if spec is not None and spec.entity_id:
        entity = spec.entity_id
    elif stored is not None:  # a manifest row that names no entity does not re-file a known file by its folder
        entity = str(stored["entity_id"])
    elif res["info"]["modality"] == "metadata":
        entity = PROJECT_ENTITY
    else:
        entity = entity_id_from_path(first.path, first.root)
    row = R.asset_row(
        sha256=sha, size=first.size, mtime_ns=first.mtime_ns, source_path=first.display,
        duplicate_paths=[f.display for f in group[1:]], entity_id=entity,
        info=res["info"], managed=res if "managed_path" in res else None, spec=spec)
    row = R.keep_verified_clock(row, stored) if stored is None or spec is not None else R.keep_identity(row, stored)
    if "embeddings" in res:  # no copy of the media: only its representation (``represent.builtin``)
        row["media_json"] = json.dumps({**json.loads(row.get("media_json") or "{}"), "embeddings_only": True,
                                        "representation": res["embeddings"]["representation"]["representation_id"]})
    modality = str(row["modality"])
    summary.by_modality[modality] = summary.by_modality.get(modality, 0) + 1
    if stored is not None:
        summary.known_assets += 1
    else:
        summary.new_assets += 1
        summary.bytes_new += first.size
    return row


def ingest(project: Project, paths: list[Path], *, manifest_path: Path | None = None,
           progress: ProgressFn | None = None) -> IngestSummary:
    """Ingest files and folders into the project's catalog. Safe to re-run and to interrupt."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:  # a typo in a path is not a file to quarantine: nothing is read or written
        raise ValueError(f"no such file or folder: {', '.join(missing)}; check the path")
    started = time.monotonic()
    cat = project.catalog()
    s = project.settings
    summary = IngestSummary()
    _sweep_temp_files(project.media_dir)
    manifest = load_manifest(manifest_path) if manifest_path else Manifest()
    manifest_root = manifest_path.parent if manifest_path else Path(".")
    gone = cat.read("withdrawn", columns=["hash", "action"])
    withdrawn = Tombstones.load(project.root, gone.column("hash").to_pylist(), gone.column("action").to_pylist())
    if withdrawn:  # a subject who withdrew consent is never registered again, nor named in attributes
        manifest = manifest.model_copy(update={
            "subjects": [s for s in manifest.subjects if not withdrawn.has(s.subject_id)],
            "entities": [e.model_copy(update={"attrs": withdrawn.scrub(e.attrs)}) for e in manifest.entities],
            "assets": [a.model_copy(update={"context": withdrawn.scrub(a.context)}) for a in manifest.assets]})
    by_path = manifest.by_resolved_path(manifest_root)
    register_manifest(cat, manifest)

    files: list[_File] = []
    skip = {manifest_path} if manifest_path else set()
    for item in discover(paths, skip=skip):
        if isinstance(item, Rejected):
            summary.quarantined.append(QuarantinedFile(item.display, str(item.kind), item.reason))
        else:
            assert isinstance(item, Found)
            files.append(_File(item.path, item.root, str(item.path)))
    summary.files_seen = len(files) + len(summary.quarantined)
    seen = {str(f.path.resolve()) for f in files}
    summary.manifest_missing = sorted(
        spec.path for key, spec in by_path.items() if key not in seen and not Path(key).is_symlink())

    with ThreadPoolExecutor(max_workers=s.workers) as threads:
        files = _hash_all(files, cat, threads, progress, summary.quarantined)
    if withdrawn:
        files = _refuse_withdrawn(files, by_path, withdrawn, summary.quarantined)

    groups: dict[str, list[_File]] = {}
    for f in files:
        groups.setdefault(f.sha, []).append(f)
    summary.duplicate_files = sum(len(g) - 1 for g in groups.values())
    shas = list(groups)

    pool: ProcessPoolExecutor | None = None
    done = 0
    ingested_paths: list[str] = []
    moves: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (the row now, the row before) of re-filed files
    try:
        for batch in _batches(shas, s.batch_size):
            ids = [asset_id_from_sha256(h) for h in batch]
            where = f"asset_id IN ({Q.sql_list(ids)})"
            stored = {r["asset_id"]: r for r in cat.read("assets", where=where).to_pylist()}
            results: dict[str, dict[str, Any]] = {}
            todo: list[str] = []
            for h in batch:
                row = stored.get(asset_id_from_sha256(h))
                if row is not None and _reusable(row, project):
                    results[h] = _stored_as_result(row)
                else:
                    todo.append(h)
            if todo:
                if pool is None:
                    spawn = multiprocessing.get_context("spawn")  # no fork of a process holding Lance threads
                    pool = ProcessPoolExecutor(max_workers=s.workers, mp_context=spawn)
                media = str(project.media_dir) if s.copy_media else None
                futures = {h: pool.submit(process_file, str(groups[h][0].path), h, media, s.strip_metadata,
                                          s.blur_faces, tuple(s.embeddings_only)) for h in todo}
                for h, fut in futures.items():
                    results[h] = fut.result()
                    done += 1
                    if progress:
                        progress("probe", done, len(shas))
            done += len(batch) - len(todo)
            rows = [_asset_row(h, groups[h], results[h], by_path, summary, stored=stored.get(asset_id_from_sha256(h)))
                    for h in batch]
            moves += [(r, stored[r["asset_id"]]) for r in rows if r is not None and r["asset_id"] in stored
                      and stored[r["asset_id"]]["entity_id"] != r["entity_id"]]
            cat.upsert("assets", [r for r in rows if r is not None])
            _store_embeddings(cat, [(r, results[h]) for h, r in zip(batch, rows, strict=True) if r is not None])
            ingested_paths.extend(f.display for h, r in zip(batch, rows, strict=True) if r for f in groups[h])
            if progress:
                progress("probe", done, len(shas))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    summary.events, refreshed, words_dropped = finalize(cat)
    if moves:
        with cat.connect(tables=("labels", "segments", "events", "assets", "splits", "clocks")) as con:
            moved_ids = [now["asset_id"] for now, _ in moves]
            behind = Q.labels_left_behind(con, moved_ids)
            in_splits = Q.assets_in_splits(con, moved_ids)
            set_against = Q.aligned_against(con, moved_ids)
        listing: dict[str, list[dict[str, Any]]] = {}
        for r in refreshed:
            for aid in r["gone"]:
                listing.setdefault(str(aid), []).append(r)
        summary.moved = [_move_note(now, was, listing.get(now["asset_id"], []), behind.get(now["asset_id"], []),
                                    now["asset_id"] in in_splits, len(set_against.get(now["asset_id"], [])),
                                    now["asset_id"] in words_dropped) for now, was in moves]
    elif refreshed or words_dropped:  # an earlier ingest that re-filed files was stopped before this step
        summary.moved = [f"an earlier ingest re-filed files and was stopped: {len(refreshed)} segment(s) no longer "
                         f"list them, and {len(words_dropped)} transcript(s) lost word timings fitted with them"]
    q = [{"quarantine_id": stable_id(b.path, b.kind), "path": _stored_path(b, withdrawn), "kind": b.kind,
          "reason": b.reason} for b in summary.quarantined]
    if ingested_paths and cat.count("quarantine"):
        for chunk in _batches(ingested_paths, 500):  # files fixed since an earlier run leave quarantine
            where = f"path IN ({Q.sql_list(chunk)})"
            if cat.count("quarantine", where=where):
                cat.delete("quarantine", where)
    cat.upsert("quarantine", q)
    summary.entities = cat.count("entities", where=f"entity_id != '{PROJECT_ENTITY}'")
    summary.elapsed_s = round(time.monotonic() - started, 3)
    cat.upsert("audit_log", [{
        "log_id": stable_id("ingest", time.time_ns(), os.getpid()), "at_utc_ns": time.time_ns(),
        "actor": os.environ.get("USER", "unknown"), "action": "ingest",
        "details_json": json.dumps({k: v for k, v in summary.to_json().items() if k not in ("quarantined", "moved")}
                                   | {"quarantined": len(summary.quarantined), "moved": len(summary.moved)}),
    }])
    return summary


def _move_note(now: dict[str, Any], was: dict[str, Any], listed: list[dict[str, Any]], labels: list[str],
               in_splits: bool, aligned_to_it: int, words_dropped: bool) -> str:
    """What re-filing one known file under another entity did, and what it left behind."""
    name, old, new = Path(str(now["source_path"])).name, str(was["entity_id"]), str(now["entity_id"])
    parts = [f"{name}: moved from {old} to {new}"]
    if now["modality"] == "events":
        parts.append("its events moved with it")
    if R.verified_clock(was):
        parts.append(f"its clock is nominal again (it was verified against {old}'s files): "
                     f"`syncline align` checks it against {new}'s")
    if aligned_to_it:
        parts.append(f"{aligned_to_it} file(s) had their clock set against it: `syncline align` checks them again")
    if listed:
        removed = sum(r["removed"] for r in listed)
        labelled = sum(1 for r in listed if not r["removed"] and not r["kept"])
        parts.append(f"{len(listed)} segment(s) of {old} no longer list it ({removed} left with no file were removed"
                     + (f"; {labelled} left with no file keeps the labels on it" if labelled == 1 else
                        f"; {labelled} left with no file keep the labels on them" if labelled else "")
                     + f"): `syncline segment` gives {new} segments over it")
    if words_dropped:
        parts.append(f"its refined word timings were removed: `syncline align` refines them against {new}'s audio")
    for ent in sorted(set(labels)):
        parts.append(f"{labels.count(ent)} label(s) made with it stay on {ent}: they describe what this file shows, "
                     f"now under {new}; label those moments on {new} and review the old ones")
    if in_splits:
        parts.append(f"splits made before count it with {old}: run `syncline split` again")
    return "; ".join(parts)


def _sweep_temp_files(media_dir: Path) -> None:
    """Remove managed-copy temp files a killed run left behind (one writer per project)."""
    if media_dir.exists():
        for tmp in media_dir.glob("*/.*.tmp"):
            tmp.unlink(missing_ok=True)


