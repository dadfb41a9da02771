"""Stable identifiers: the rules that make re-ingest and re-runs idempotent.

* ``asset_id``   = the first 32 hex digits of the sha256 of the file's original bytes. The same
  bytes ingested twice, from any path, are one asset.
* ``entity_id``  = user-given (manifest), else derived by ``entity_id_from_path``:
  1. a file named ``ENTITY__anything.ext`` belongs to ``ENTITY``;
  2. else a file inside a sub-folder of the ingest root belongs to that first sub-folder;
  3. else the file's stem is the entity.
* ``segment_id`` = 32 hex digits of sha256("entity|t0_ns|t1_ns|segmenter").
* other row IDs (events, quarantine, lineage) hash the fields that make the row what it is,
  so writing the same row twice is an upsert, never a duplicate.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

ID_HEX = 32
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Streamed sha256 of a file (constant memory; hashlib releases the GIL on large reads)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def asset_id_from_sha256(sha256_hex: str) -> str:
    return sha256_hex[:ID_HEX]


def stable_id(*parts: object) -> str:
    """A deterministic row ID from the parts that define the row."""
    text = "|".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_HEX]


def segment_id(*, entity_id: str, t0_ns: int, t1_ns: int, segmenter: str) -> str:
    return stable_id(entity_id, t0_ns, t1_ns, segmenter)


def entity_id_from_path(path: Path, root: Path) -> str:
    """The documented folder/filename convention (see the module docstring)."""
    name = path.name
    if "__" in name:
        prefix = name.split("__", 1)[0]
        if prefix:
            return prefix
    try:
        rel = path.relative_to(root)
    except ValueError:
        rel = Path(path.name)
    if len(rel.parts) > 1:
        return rel.parts[0]
    return path.stem
