"""Event logs: a table with a time column and a type column (+ optional state and actor).

``read_events`` gives one schema whatever the source columns are called: ``t_ns`` (int64),
``type``, ``state``, ``actor`` (strings, null when absent) and ``payload_json`` (the other
columns of the row as a JSON object). Rows are sorted by time (stable): an event log may be
written out of order, unlike a sensor stream.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from syncline.media.decoding import display_name
from syncline.media.tables import (
    ACTOR_COLUMNS,
    STATE_COLUMNS,
    TIME_COLUMNS,
    TYPE_COLUMNS,
    find_column,
    json_rows,
    read_table,
    table_format,
    time_to_ns,
    timed_table_info,
    with_capture_time,
)
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("t_ns", pa.int64(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("state", pa.string()),
        pa.field("actor", pa.string()),
        pa.field("payload_json", pa.string()),
    ]
)


def _as_string(table: pa.Table, column: str | None) -> pa.Array:
    if column is None:
        return pa.nulls(table.num_rows, pa.string())
    return pc.cast(table.column(column), pa.string()).combine_chunks()


def _load(path: Path, fmt: str) -> tuple[pa.Table, int | None, str]:
    name = display_name(path)
    raw = read_table(path, fmt)
    cols = raw.column_names
    time_col = find_column(cols, TIME_COLUMNS)
    type_col = find_column(cols, TYPE_COLUMNS)
    if time_col is None or type_col is None:
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE,
            f"{name} needs a time column (t, time, timestamp, ts, t_s) and a type column "
            "(type, event, event_type, action); add them",
        )
    t_ns, absolute = time_to_ns(raw, time_col, name=name)
    types = _as_string(raw, type_col)
    if types.null_count:
        row = int(np.flatnonzero(types.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE, f"{name}: event type is empty at data row {row}"
        )
    state_col = find_column(cols, STATE_COLUMNS)
    actor_col = find_column(cols, ACTOR_COLUMNS)
    used = {time_col, type_col, state_col, actor_col}
    table = pa.Table.from_arrays(
        [
            pa.array(t_ns, pa.int64()),
            types,
            _as_string(raw, state_col),
            _as_string(raw, actor_col),
            json_rows(raw, [c for c in cols if c not in used]),
        ],
        schema=EVENTS_SCHEMA,
    )
    order = np.argsort(t_ns, kind="stable")
    return table.take(pa.array(order)), absolute, time_col


def read_events(path: Path, fmt: str | None = None) -> pa.Table:
    """Events as Arrow (``EVENTS_SCHEMA``), sorted by ``t_ns``."""
    path = Path(path)
    table, absolute, _ = _load(path, table_format(path, fmt))
    return with_capture_time(table, absolute)


def probe_events(path: Path, fmt: str) -> MediaInfo:
    path = Path(path)
    table, absolute, time_col = _load(path, fmt)
    if table.num_rows == 0:
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE, f"{display_name(path)} has a header but no events"
        )
    t = table.column("t_ns").to_numpy()
    counts = pc.value_counts(table.column("type").combine_chunks()).to_pylist()
    types = {c["values"]: int(c["counts"]) for c in counts}
    actors = sorted(set(filter(None, table.column("actor").to_pylist())))
    return timed_table_info(
        Modality.EVENTS,
        fmt,
        t,
        absolute,
        {
            "time_column": time_col,
            "event_types": dict(sorted(types.items())),
            "actors": actors[:100],
            "has_state": table.column("state").null_count < table.num_rows,
        },
    )
