"""Where the bytes live.

A project's catalog is a folder ``<project>/catalog/`` holding one Lance dataset per table of
``catalog.schema.TABLES`` (``entities.lance``, ``assets.lance``, ...). Each dataset is
columnar and versioned: every write (upsert, delete, compaction) commits a new version;
``read(..., version=N)`` and ``snapshot()`` pin readers and runs to exact versions.

* **Upsert by stable ID.** Writes go through Lance ``merge_insert`` on the table's key column
  (``TableSpec.key``), so writing the same row twice is a no-op change, never a duplicate, and
  a batch is atomic: a crash leaves either the whole batch or none of it.
* **Schema evolution.** When ``schema.py`` gains a column, opening the table adds it as an
  all-null column (a metadata-only change: existing data files are not rewritten).
* **Deletion and erasure.** ``delete`` writes a deletion vector: the rows disappear from the
  newest version but their bytes stay in older data files, transaction files and manifests.
  ``erase`` is the real thing: delete, compact with deletions materialised (rewrites the
  affected fragments without the rows), then remove every old version with zero retention.
* **Segment indexes** (``catalog/indexes/<name>.lance``) are derived, rebuildable datasets of
  stored segment vectors (``represent.index``): written whole to a side folder and swapped in,
  searched with Lance's nearest-neighbour scan, dropped whole (a withdrawal drops every index
  that lists the subject's files).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import lance
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from syncline.catalog.schema import TABLES, TableSpec, spec


@dataclass(frozen=True)
class WriteResult:
    table: str
    inserted: int
    updated: int
    deleted: int
    version: int


class Catalog:
    """A project's tables. Create with ``Catalog(root)``; every table exists once opened."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            self._ensure(spec(name))

    # ---------------------------------------------------------------- layout
    def path(self, name: str) -> Path:
        return self.root / f"{spec(name).name}.lance"

    def _ensure(self, ts: TableSpec) -> None:
        path = self.path(ts.name)
        if not (path / "_versions").exists():
            if path.exists():  # a half-created table from a killed first write: nothing to keep
                shutil.rmtree(path)
            lance.write_dataset(ts.schema.empty_table(), str(path), mode="create")
            return
        ds = lance.dataset(str(path))
        have = set(ds.schema.names)
        missing = [f for f in ts.schema if f.name not in have]
        if missing:
            ds.add_columns(missing)

    def dataset(self, name: str, *, version: int | None = None) -> lance.LanceDataset:
        return lance.dataset(str(self.path(name)), version=version)

    # ---------------------------------------------------------------- reads
    def read(
        self,
        name: str,
        *,
        columns: list[str] | None = None,
        where: str | None = None,
        version: int | None = None,
    ) -> pa.Table:
        return self.dataset(name, version=version).to_table(columns=columns, filter=where)

    def count(self, name: str, *, where: str | None = None) -> int:
        return int(self.dataset(name).count_rows(filter=where))

    def version(self, name: str) -> int:
        return int(self.dataset(name).version)

    def versions(self, name: str) -> list[int]:
        return [int(v["version"]) for v in self.dataset(name).versions()]

    def snapshot(self) -> dict[str, int]:
        """The current version of every table: what a run pins itself to."""
        return {name: self.version(name) for name in TABLES}

    def sql(self, query: str, *, versions: dict[str, int] | None = None) -> pa.Table:
        """DuckDB SQL over the tables (each table is a view of its name), as an Arrow table."""
        from syncline.catalog.query import connect

        with connect(self, versions=versions) as con:
            return con.sql(query).to_arrow_table()

    def connect(self, *, versions: dict[str, int] | None = None,
                tables: tuple[str, ...] | None = None) -> duckdb.DuckDBPyConnection:
        from syncline.catalog.query import connect

        return connect(self, versions=versions, tables=tables)

    # ---------------------------------------------------------------- writes
    def conform(self, name: str, rows: pa.Table | list[dict[str, Any]]) -> pa.Table:
        """Rows as a table of exactly the table's schema (missing columns null, types cast)."""
        schema = self.dataset(name).schema
        if isinstance(rows, list):
            unknown = {k for r in rows for k in r} - set(schema.names)
            if unknown:
                raise ValueError(f"table {name}: unknown column(s) {sorted(unknown)}")
            return pa.Table.from_pylist(rows, schema=schema)
        unknown = set(rows.column_names) - set(schema.names)
        if unknown:
            raise ValueError(f"table {name}: unknown column(s) {sorted(unknown)}")
        cols = [
            rows.column(f.name).cast(f.type) if f.name in rows.column_names
            else pa.nulls(rows.num_rows, f.type)
            for f in schema
        ]
        return pa.Table.from_arrays(cols, schema=schema)

    def _dedupe_last(self, table: pa.Table, key: str) -> pa.Table:
        if pc.count_distinct(table.column(key), mode="all").as_py() == table.num_rows:  # the usual case, in C
            return table
        keys = table.column(key).to_pylist()
        last = {k: i for i, k in enumerate(keys)}
        if len(last) == len(keys):
            return table
        return table.take(sorted(last.values()))

    def upsert(self, name: str, rows: pa.Table | list[dict[str, Any]]) -> WriteResult:
        """Insert new keys, replace rows whose key exists. One atomic commit."""
        return self._merge(name, rows, update=True)

    def insert_missing(self, name: str, rows: pa.Table | list[dict[str, Any]]) -> WriteResult:
        """Insert only rows whose key is new; existing rows are left untouched."""
        return self._merge(name, rows, update=False)

    def _merge(self, name: str, rows: pa.Table | list[dict[str, Any]], *, update: bool) -> WriteResult:
        key = spec(name).key
        table = self._dedupe_last(self.conform(name, rows), key)
        ds = self.dataset(name)
        if table.num_rows == 0:
            return WriteResult(name, 0, 0, 0, int(ds.version))
        builder = ds.merge_insert(key)
        if update:
            builder = builder.when_matched_update_all()
        stats = builder.when_not_matched_insert_all().execute(table)
        return WriteResult(
            name,
            int(stats.get("num_inserted_rows", 0)),
            int(stats.get("num_updated_rows", 0)),
            int(stats.get("num_deleted_rows", 0)),
            self.version(name),
        )

    def append(self, name: str, rows: pa.Table | list[dict[str, Any]]) -> WriteResult:
        """Add rows whose keys the caller knows are new (a fresh run's traces): one commit, no
        scan of the existing keys. Keys repeated inside ``rows`` keep their last row."""
        table = self._dedupe_last(self.conform(name, rows), spec(name).key)
        if table.num_rows == 0:
            return WriteResult(name, 0, 0, 0, self.version(name))
        lance.write_dataset(table, str(self.path(name)), mode="append")
        return WriteResult(name, table.num_rows, 0, 0, self.version(name))

    def delete(self, name: str, where: str) -> int:
        """Soft delete (deletion vector). The bytes remain in old versions; see ``erase``."""
        ds = self.dataset(name)
        before = int(ds.count_rows())
        ds.delete(where)
        return before - self.count(name)

    def delete_by_row_id(self, name: str, where: str, *, chunk: int = 5000) -> int:
        """Delete the rows matching ``where`` by their row IDs: the predicate a delete commits is
        kept in the version's transaction file and manifest (the newest survives any cleanup), so
        an erasure must not name what it erases."""
        ds = self.dataset(name)
        ids = ds.to_table(columns=[], filter=where, with_row_id=True).column("_rowid").to_pylist()
        for i in range(0, len(ids), chunk):
            self.dataset(name).delete(f"_rowid IN ({', '.join(str(int(r)) for r in ids[i:i + chunk])})")
        return len(ids)

    def compact(self, name: str) -> None:
        """Rewrite data files without deleted rows; then rebuild the indexes, which compaction
        only remaps: a vector index keeps the deleted rows' vectors until it is optimised."""
        self.dataset(name).optimize.compact_files(
            materialize_deletions=True, materialize_deletions_threshold=0.0
        )
        ds = self.dataset(name)
        if ds.describe_indices():
            ds.optimize.optimize_indices()

    def erase(self, name: str, where: str) -> int:
        """Delete rows and every trace of their bytes: delete by row ID (the predicate is not
        recorded), materialise, then drop all old versions."""
        n = self.delete_by_row_id(name, where)
        self.compact(name)
        self.cleanup(name)
        return n

    def cleanup(self, name: str, *, keep: timedelta = timedelta(0)) -> None:
        """Remove versions older than ``keep`` (zero: only the newest survives)."""
        self.dataset(name).cleanup_old_versions(older_than=keep, delete_unverified=True)

    def table_versions_json(self) -> str:
        return json.dumps(self.snapshot(), sort_keys=True)

    # ---------------------------------------------------------------- segment indexes
    def index_path(self, name: str) -> Path:
        return self.root / "indexes" / f"{name}.lance"

    def indexes(self) -> list[str]:
        folder = self.root / "indexes"
        return sorted(p.name[: -len(".lance")] for p in folder.glob("*.lance")) if folder.is_dir() else []

    def write_index(self, name: str, table: pa.Table, *, ann_partitions: int | None = None,
                    sub_vectors: int | None = None) -> Path:
        """Write an index whole beside the old one (a folder of this process's own), then swap;
        a crash leaves the old one, or a leftover that ``drop_leftovers`` removes. With
        ``ann_partitions`` an IVF_PQ index (cosine) is trained too."""
        path = self.index_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        building = path.with_name(f"{name}.building-{os.getpid()}-{time.time_ns()}")
        try:
            ds = lance.write_dataset(table, str(building))
            if ann_partitions:
                ds.create_index("vector", index_type="IVF_PQ", metric="cosine", num_partitions=ann_partitions,
                                num_sub_vectors=sub_vectors)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        old = path.with_name(f"{name}.old-{time.time_ns()}")
        if path.exists():
            path.rename(old)
        building.rename(path)
        shutil.rmtree(old, ignore_errors=True)
        return path

    def index_schema(self, name: str) -> pa.Schema:
        return lance.dataset(str(self.index_path(name))).schema

    def index_rows(self, name: str, *, columns: list[str] | None = None, where: str | None = None) -> pa.Table:
        return lance.dataset(str(self.index_path(name))).to_table(columns=columns, filter=where)

    def index_count(self, name: str, *, where: str | None = None) -> int:
        return int(lance.dataset(str(self.index_path(name))).count_rows(filter=where))

    def index_nearest(self, name: str, q: np.ndarray, k: int, *, where: str | None = None, exact: bool = True,
                      nprobes: int = 32, refine: int = 10) -> pa.Table:
        """The ``k`` rows nearest ``q`` (cosine), nearest first, with ``_distance``. ``exact``
        scans every vector; otherwise the IVF_PQ index is probed (``nprobes`` partitions) and
        ``refine`` x k candidates are re-ranked on the full vectors."""
        ds = lance.dataset(str(self.index_path(name)))
        nearest: dict[str, Any] = {"column": "vector", "q": np.asarray(q, np.float32), "k": k, "metric": "cosine"}
        if exact:
            nearest["use_index"] = False
        else:
            nearest |= {"nprobes": nprobes, "refine_factor": refine}
        cols = ["segment_id", "entity_id", "t0_ns", "t1_ns", "_distance"]
        return ds.to_table(columns=cols, nearest=nearest, filter=where, prefilter=where is not None)

    def drop_index(self, name: str) -> None:
        """Remove an index and any half-built or swapped-out copy of it."""
        folder = self.root / "indexes"
        for p in [self.index_path(name), *folder.glob(f"{name}.building-*"), *folder.glob(f"{name}.old-*")]:
            _remove(p)

    def drop_leftovers(self) -> list[str]:
        """Remove every half-built or swapped-out index folder (a crash's leftovers: they may hold
        anyone's vectors, and no search reads them); returns their names."""
        folder = self.root / "indexes"
        gone = [*folder.glob("*.building-*"), *folder.glob("*.old-*")] if folder.is_dir() else []
        for p in gone:
            _remove(p)
        return sorted(p.name for p in gone)

    @contextmanager
    def index_lock(self) -> Iterator[None]:
        """Exclusive across processes: an index build (read, then write) and a purge (footprint to
        the end) never interleave, so a build cannot swap in vectors of a subject just erased."""
        import fcntl

        folder = self.root / "indexes"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
