"""``syncline consent verify``: prove that nothing of a subject is left in the project.

Two independent looks, both over everything the project holds:

* a **byte scan** of every file under the project folder (catalog data files, transaction
  files and manifests included, media, exports, reports) for the pseudonym as a substring
  (UTF-8 and UTF-16; columnar files store strings back to back, so no word boundaries), for
  any extra needle the caller names (a name, a phone number, a canary),
  and for every 32-digit hex token whose keyed hash is one of the subject's tombstones —
  an asset ID or content hash of a withdrawn file, recognised without being stored;
* a **read of every retained version** of every table: the same needles in the decoded bytes
  of every text and list-of-text column (what a byte scan could miss if a format compressed
  them).

Before a withdrawal, verify finds the subject (the test of the test); after, it must find 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from syncline.catalog.schema import TABLES
from syncline.govern.keys import KEY_FILE, keyed_hash, project_key
from syncline.project import Project

_HEX = re.compile(rb"[0-9a-f]{32,}")
_CHUNK = 1 << 22


@dataclass
class VerifyReport:
    subject_hash: str
    files_scanned: int = 0
    bytes_scanned: int = 0
    versions_read: int = 0
    hits: list[str] = field(default_factory=list)  # "where: what" lines, never the needle itself

    @property
    def clean(self) -> bool:
        return not self.hits

    def to_json(self) -> dict[str, Any]:
        return {"subject_hash": self.subject_hash, "clean": self.clean, "files_scanned": self.files_scanned,
                "bytes_scanned": self.bytes_scanned, "versions_read": self.versions_read, "hits": self.hits}


def _word_patterns(words: list[str]) -> list[tuple[str, re.Pattern[bytes]]]:
    out = []
    for i, w in enumerate(words):
        label = "the pseudonym" if i == 0 else f"needle {i}"
        for enc in ("utf-8", "utf-16-le"):  # a plain substring: columnar files store strings back to back
            out.append((f"{label} ({enc})", re.compile(re.escape(w.encode(enc)))))
    return out


def _windows(run: bytes) -> set[bytes]:
    """32-digit windows of a run of hex digits, aligned to its start and to its end: a columnar
    file stores IDs back to back, so one run holds many of them (a 64-digit hash is caught by
    its first half, which is tombstoned too)."""
    n = len(run)
    return {run[i:i + 32] for i in range(0, n - 31, 32)} | {run[j - 32:j] for j in range(n, 31, -32)}


def _hex_hits(data: bytes, key: bytes, tombstones: set[str], seen: dict[bytes, bool]) -> int:
    if not tombstones:
        return 0
    n = 0
    for m in _HEX.finditer(data):
        for t in _windows(m.group()):
            hit = seen.get(t)
            if hit is None:
                hit = seen[t] = keyed_hash(key, t.decode("ascii")) in tombstones
            n += hit
    return n


def _scan_files(project: Project, report: VerifyReport, words: list[tuple[str, re.Pattern[bytes]]], key: bytes,
                tombstones: set[str]) -> None:
    seen: dict[bytes, bool] = {}
    overlap = 160
    for path in sorted(p for p in project.root.rglob("*") if p.is_file() and p.name != KEY_FILE):
        report.files_scanned += 1
        found: set[str] = set()
        n_hex = 0
        tail = b""
        with open(path, "rb") as f:
            while block := f.read(_CHUNK):
                data = tail + block
                report.bytes_scanned += len(block)
                found |= {label for label, rx in words if rx.search(data)}
                n_hex += _hex_hits(data, key, tombstones, seen)
                tail = block[-overlap:]
        rel = path.relative_to(project.root).as_posix()
        report.hits += [f"{rel}: {label}" for label in sorted(found)]
        if n_hex:
            report.hits.append(f"{rel}: {n_hex} ID(s) of withdrawn files")


def _value_bytes(table: pa.Table) -> list[bytes]:
    """The raw UTF-8 bytes of every text and list-of-text column (Arrow's data buffers: no
    Python string per value)."""
    out = []
    for f, col in zip(table.schema, table.columns, strict=True):
        for chunk in col.chunks:
            arr = chunk
            if pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
                arr = chunk.values
            elif not pa.types.is_string(f.type):
                continue
            data = arr.buffers()[2]
            if data is not None and data.size:
                out.append(data.to_pybytes())
    return out


def _read_versions(project: Project, report: VerifyReport, words: list[tuple[str, re.Pattern[bytes]]],
                   key: bytes, tombstones: set[str]) -> None:
    cat = project.catalog()
    seen: dict[bytes, bool] = {}  # keyed hashes computed once per distinct ID across all versions
    for table in TABLES:
        for version in cat.versions(table):
            report.versions_read += 1
            found: set[str] = set()
            n_hex = 0
            for data in _value_bytes(cat.read(table, version=version)):
                found |= {label for label, rx in words if rx.search(data)}
                n_hex += _hex_hits(data, key, tombstones, seen)
            if found or n_hex:
                report.hits.append(f"table {table} version {version}: {', '.join(sorted(found)) or 'no needle'}; "
                                   f"{n_hex} withdrawn ID(s)")


def verify(project: Project, subject_id: str, *, needles: list[str] | None = None) -> VerifyReport:
    key = project_key(project.root)
    subject_hash = keyed_hash(key, subject_id)
    cat = project.catalog()
    rows = cat.read("withdrawn", columns=["hash"], where=f"subject_hash = '{subject_hash}'")
    tombstones = {str(h) for h in rows.column("hash").to_pylist()} - {subject_hash}
    words = [subject_id, *(needles or [])]
    report = VerifyReport(subject_hash)
    patterns = _word_patterns(words)
    _scan_files(project, report, patterns, key, tombstones)
    _read_versions(project, report, patterns, key, tombstones)
    return report
