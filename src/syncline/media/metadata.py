"""Metadata tables: one row per entity, keyed by ``entity_id`` (CSV, TSV, JSONL, JSON, Parquet).

The key must be present and unique: a missing or repeated ``entity_id`` is a MALFORMED_TABLE
error naming the row, because ingest joins these rows onto entities by that key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from syncline.media.decoding import display_name
from syncline.media.tables import ENTITY_COLUMN, find_column, read_table, table_format
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality


def read_metadata(path: Path, fmt: str | None = None) -> pa.Table:
    """The table as Arrow with ``entity_id`` (string) first, other columns as read."""
    path = Path(path)
    name = display_name(path)
    raw = read_table(path, table_format(path, fmt))
    key = find_column(raw.column_names, (ENTITY_COLUMN,))
    if key is None:
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE, f"{name} has no entity_id column; add one"
        )
    ids = pc.cast(raw.column(key), pa.string()).combine_chunks()
    empty = pc.or_kleene(ids.is_null(), pc.equal(pc.utf8_trim_whitespace(ids), ""))
    empty_np = empty.to_numpy(zero_copy_only=False)
    if empty_np.any():
        row = int(np.flatnonzero(empty_np)[0]) + 1
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE, f"{name}: entity_id is empty at data row {row}; fill it"
        )
    values = ids.to_numpy(zero_copy_only=False)
    _, first_idx, counts = np.unique(values, return_index=True, return_counts=True)
    if (counts > 1).any():
        dup_first = int(np.min(first_idx[counts > 1]))
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE,
            f"{name}: entity_id {values[dup_first]!r} appears on more than one row "
            f"(first at data row {dup_first + 1}); keep one row per entity",
        )
    rest = [c for c in raw.column_names if c != key]
    return pa.Table.from_arrays(
        [ids, *[raw.column(c) for c in rest]], names=[ENTITY_COLUMN, *rest]
    )


def probe_metadata(path: Path, fmt: str) -> MediaInfo:
    table = read_metadata(path, fmt)
    return MediaInfo(
        modality=Modality.METADATA,
        format=fmt,
        n_items=table.num_rows,
        details={"columns": table.column_names},
    )
