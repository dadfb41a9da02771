"""Everything of one subject in a project: what ``syncline consent withdraw`` removes or flags.

A subject's *assets* are the files that list them (``assets.subject_ids``). Their *needles* are
the pseudonym (as a whole token) and every ID of those assets (asset ID, source sha256, the
scrubbed copy's sha256). A catalog row belongs to the footprint when any of its text or
list-of-text columns mentions a needle — provenance lists, ID columns and free JSON alike, so a
derived row that names its source asset only inside ``details_json`` is found too — or when
``lineage`` records it as derived from a row that does. Files: the managed copies and their
sidecars in ``media/``, every file under ``exports/`` and ``reports/`` whose bytes contain
a needle, and every stored segment index (``represent.index``) with a row formed from one of
the subject's files or that cannot be read (dropped whole, to be rebuilt from what remains; a
crash's half-built or swapped-out index folders are removed by every purge). Runs that produced a
removed row are flagged (their results used the subject's data), not deleted. Source files
outside the project are listed, never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from syncline.catalog import query as Q
from syncline.catalog.schema import TABLES
from syncline.govern.scan import UndecodableFile, readable_blocks
from syncline.project import Project

KEEP_TABLES = ("withdrawn",)  # tombstones hold keyed hashes only
SCANNED_FOLDERS = ("exports", "reports")


class GovernError(ValueError):
    """A governance request that cannot be carried out; the message says why and what to do."""


@dataclass
class Footprint:
    label: str  # the subject's pseudonym, or what selected the assets (never stored)
    assets: list[dict[str, Any]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # whole-token needles (the pseudonym)
    rows: dict[str, list[str]] = field(default_factory=dict)  # table -> keys
    media_files: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # exports and reports that mention the subject
    indexes: list[str] = field(default_factory=list)  # stored segment indexes listing the subject's files
    source_files: list[str] = field(default_factory=list)  # outside the project: listed, not touched
    runs_flagged: list[str] = field(default_factory=list)

    @property
    def needles(self) -> tuple[list[str], list[str]]:
        """(hex tokens, whole words) that identify the subject's data."""
        tokens = sorted({str(a[k]) for a in self.assets for k in ("asset_id", "sha256", "managed_sha256") if a.get(k)})
        return tokens, list(self.words)

    def row_count(self) -> int:
        return sum(len(v) for v in self.rows.values())

    def to_json(self, root: Path) -> dict[str, Any]:
        return {
            "assets": [{k: a[k] for k in ("asset_id", "modality", "entity_id")} for a in self.assets],
            "rows": {t: len(k) for t, k in sorted(self.rows.items()) if k},
            "row_ids": {t: sorted(k) for t, k in sorted(self.rows.items()) if k},
            "media_files": [p.relative_to(root).as_posix() for p in self.media_files],
            "files": [p.relative_to(root).as_posix() for p in self.files],
            "indexes": self.indexes,
            "source_files_outside_project": self.source_files,
            "runs_flagged": self.runs_flagged,
        }


def _project_files(root: Path, folder: str) -> Iterator[Path]:
    base = root / folder
    if base.is_dir():
        yield from sorted(p for p in base.rglob("*") if p.is_file())


def files_mentioning(paths: Iterator[Path], tokens: list[str], words: list[str],
                     chunk: int = 1 << 22) -> list[Path]:
    """The files whose bytes — or decoded text, for Parquet and gzip (``govern.scan``) — contain a
    token, or a word as a whole token; a file that cannot be decoded counts (it cannot be cleared)."""
    rx = re.compile(Q.mention_pattern(tokens, words, engine="python").encode("utf-8"))
    overlap = max([len(t.encode()) for t in tokens + words] + [1]) + 8
    hits = []
    for path in paths:
        tail = b""
        try:
            for block in readable_blocks(path, chunk):
                if rx.search(tail + block):
                    hits.append(path)
                    break
                tail = block[-overlap:]
        except UndecodableFile:
            hits.append(path)
    return hits


def find(project: Project, subject_id: str) -> Footprint:
    """The subject's footprint; raises ``GovernError`` for a subject the project never had."""
    with project.catalog().connect() as con:
        assets = Q.subject_assets(con, subject_id)
    fp = collect(project, assets, words=[subject_id], label=subject_id)
    if not fp.assets and not fp.rows:
        raise GovernError(f"no subject {subject_id!r} in this project: no asset lists it and no row mentions it "
                          "(check the pseudonym; `syncline consent list` shows the subjects)")
    return fp


def collect(project: Project, assets: list[dict[str, Any]], *, words: list[str], label: str) -> Footprint:
    """Everything of ``assets`` (rows from ``Q.subject_assets``-like queries) and of ``words``.

    An asset row that only *mentions* a needle (an event log naming the subject as an actor)
    joins the footprint's assets, so that its copy is removed and its content tombstoned too —
    otherwise the next ingest would bring it back; the search then runs again with its IDs."""
    cat = project.catalog()
    fp = Footprint(label, assets=list(assets), words=list(words))
    with cat.connect() as con:
        for _ in range(10):
            tokens, words = fp.needles
            fp.rows = _rows(con, Q.mention_pattern(tokens, words)) if tokens or words else {}
            extra = sorted(set(fp.rows.get("assets", [])) - {a["asset_id"] for a in fp.assets})
            if not extra:
                break
            fp.assets += Q.assets_by_ids(con, extra)
        removed_runs = set(fp.rows.get("runs", []))
        run_ids: set[str] = set()
        for t, keys in fp.rows.items():
            if t != "runs" and "run_id" in TABLES[t].schema.names and keys:
                run_ids |= set(Q.run_ids_of(con, t, keys))
    fp.runs_flagged = sorted(run_ids - removed_runs)
    tokens, words = fp.needles
    for a in fp.assets:
        if a.get("managed_path"):
            copy = project.media_dir / str(a["managed_path"])
            fp.media_files += [p for p in (copy, copy.with_name(copy.name + ".json")) if p.exists()]
        fp.source_files += [str(p) for p in [a.get("source_path"), *(a.get("duplicate_paths") or [])] if p]
    for folder in SCANNED_FOLDERS:
        fp.files += files_mentioning(_project_files(project.root, folder), tokens, words)
    fp.indexes = _indexes_listing(cat, {str(a["asset_id"]) for a in fp.assets})
    return fp


def _indexes_listing(cat: Any, asset_ids: set[str]) -> list[str]:
    """The stored segment indexes with a row formed from one of ``asset_ids``."""
    import pyarrow.compute as pc

    out = []
    for name in cat.indexes():
        try:
            listed = pc.list_flatten(cat.index_rows(name, columns=["asset_ids"]).column("asset_ids"))
        except Exception:  # half-deleted by a crash, or not an index: unreadable, so it goes too
            out.append(name)
            continue
        if asset_ids and pc.any(pc.is_in(listed, value_set=pa.array(sorted(asset_ids)))).as_py():
            out.append(name)
    return out


def _rows(con: Any, pattern: str) -> dict[str, list[str]]:
    """Rows that mention the pattern, then — to any depth — rows derived from them (``lineage``)
    or referring to them by key (a grade of a removed label, an edge touching a removed row)."""
    rows: dict[str, list[str]] = {}
    for table in TABLES:
        if table not in KEEP_TABLES:
            keys = Q.rows_mentioning(con, table, pattern)
            if keys:
                rows[table] = keys
    frontier = {t: list(k) for t, k in rows.items()}
    while frontier:
        found = Q.lineage_children(con, frontier)
        removed = sorted({k for keys in frontier.values() for k in keys})
        for table in TABLES:
            if table not in KEEP_TABLES:
                refs = Q.rows_referencing(con, table, removed)
                if refs:
                    found.setdefault(table, []).extend(refs)
        frontier = {}
        for t, keys in found.items():
            new = sorted(set(keys) - set(rows.get(t, [])))
            if new:
                rows.setdefault(t, []).extend(new)
                frontier[t] = new
    return rows
