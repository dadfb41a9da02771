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
import pyarrow.compute as pc

from syncline.catalog.schema import TABLES
from syncline.govern.keys import KEY_FILE, keyed_hash, project_key
from syncline.govern.scan import UndecodableFile, readable_blocks
from syncline.project import Project

_HEX = re.compile(rb"[0-9a-f]{32,}")
LONG_RUN = 4096  # hex digits; longer runs are columnar IDs stored back to back
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


def _windows(run: bytes) -> set[bytes]:
    """32-digit windows of a run of hex digits: at every offset for a run up to ``LONG_RUN``
    digits (an ID next to other hex-looking text), and for longer runs — a columnar file's IDs
    stored back to back — aligned to the run's start and to its end. A 64-digit hash is caught
    by its first half, which is tombstoned too. (Table values are also read one by one, at
    every offset, by ``_read_versions``.)"""
    n = len(run)
    if n <= LONG_RUN:
        return {run[i:i + 32] for i in range(n - 31)}
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


@dataclass(frozen=True)
class _Needle:
    label: str
    raw: bytes  # as it appears in files
    excuses: tuple[tuple[int, bytes], ...]  # (offset of the needle inside, other subject's pseudonym)

    def count(self, data: bytes) -> int:
        """Occurrences, less those that are part of another known subject's pseudonym
        (``p-1`` inside ``p-10``): files store strings back to back, so a byte scan cannot use
        word boundaries, but it can tell a longer known pseudonym apart."""
        n = 0
        start = data.find(self.raw)
        while start >= 0:
            if not any(data[start - k:start - k + len(o)] == o for k, o in self.excuses if start >= k):
                n += 1
            start = data.find(self.raw, start + 1)
        return n


def _needles(words: list[str], others: list[str]) -> list[_Needle]:
    out = []
    for i, w in enumerate(words):
        label = "the pseudonym" if i == 0 else f"needle {i}"
        for enc in ("utf-8", "utf-16-le"):
            raw = w.encode(enc)
            excuses = tuple((o.encode(enc).find(raw), o.encode(enc)) for o in others
                            if o != w and raw in o.encode(enc))
            out.append(_Needle(f"{label} ({enc})", raw, excuses))
    return out


def _scan_files(project: Project, report: VerifyReport, needles: list[_Needle], key: bytes,
                tombstones: set[str]) -> None:
    seen: dict[bytes, bool] = {}
    overlap = max([len(n.raw) + max([len(o) for _, o in n.excuses] + [0]) for n in needles] + [LONG_RUN]) + 64
    for path in sorted(p for p in project.root.rglob("*") if p.is_file() and p.name != KEY_FILE):
        report.files_scanned += 1
        found: set[str] = set()
        n_hex = 0
        tail = b""
        rel = path.relative_to(project.root).as_posix()
        try:
            for block in readable_blocks(path, _CHUNK):
                data = tail + block
                report.bytes_scanned += len(block)
                found |= {n.label for n in needles if n.count(data)}
                n_hex += _hex_hits(data, key, tombstones, seen)
                tail = block[-overlap:]
        except UndecodableFile as e:
            report.hits.append(f"{rel}: not verified: {e}")
        report.hits += [f"{rel}: {label}" for label in sorted(found)]
        if n_hex:
            report.hits.append(f"{rel}: {n_hex} ID(s) of withdrawn files")


def _distinct_values(table: pa.Table) -> list[str]:
    """Every distinct text value of the table's text and list-of-text columns."""
    out: set[str] = set()
    for f, col in zip(table.schema, table.columns, strict=True):
        if pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
            col = pc.list_flatten(col)
        elif not pa.types.is_string(f.type):
            continue
        out.update(v for v in pc.unique(col).to_pylist() if v)
    return sorted(out)


def _read_versions(project: Project, report: VerifyReport, words: list[str], key: bytes,
                   tombstones: set[str]) -> None:
    """Each retained version's values one by one: the needles as whole tokens (the footprint's
    rule, ``catalog.query.mention_pattern``), and hex tokens at every offset."""
    cat = project.catalog()
    word_rx = [re.compile(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])") for w in words]
    hex_rx = re.compile(r"[0-9a-f]{32,}")
    seen: dict[str, bool] = {}
    for table in TABLES:
        for version in cat.versions(table):
            report.versions_read += 1
            n_words = n_hex = 0
            for value in _distinct_values(cat.read(table, version=version)):
                n_words += sum(1 for rx in word_rx if rx.search(value))
                if tombstones:
                    for m in hex_rx.finditer(value):
                        tok = m.group()
                        for i in range(len(tok) - 31):
                            w = tok[i:i + 32]
                            hit = seen.get(w)
                            if hit is None:
                                hit = seen[w] = keyed_hash(key, w) in tombstones
                            n_hex += hit
            if n_words or n_hex:
                report.hits.append(f"table {table} version {version}: {n_words} value(s) with a needle, "
                                   f"{n_hex} withdrawn ID(s)")


def verify(project: Project, subject_id: str, *, needles: list[str] | None = None) -> VerifyReport:
    cat = project.catalog()
    key = project_key(project.root, must_exist=cat.count("withdrawn") > 0)
    subject_hash = keyed_hash(key, subject_id)
    rows = cat.read("withdrawn", columns=["hash"], where=f"subject_hash = '{subject_hash}'")
    tombstones = {str(h) for h in rows.column("hash").to_pylist()} - {subject_hash}
    others = [str(x) for x in cat.read("subjects", columns=["subject_id"]).column("subject_id").to_pylist()]
    words = [subject_id, *(needles or [])]
    report = VerifyReport(subject_hash)
    if subject_hash not in set(rows.column("hash").to_pylist()):
        report.hits.append(f"no withdrawal of {subject_id!r} is recorded in this project: nothing to prove "
                           "(check the pseudonym; before a withdrawal, the hits below show where the subject is)")
    _scan_files(project, report, _needles(words, others), key, tombstones)
    _read_versions(project, report, words, key, tombstones)
    return report
