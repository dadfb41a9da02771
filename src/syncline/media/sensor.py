"""Sensor streams: a table with a time column and numeric value columns.

The time column is one of ``t, time, timestamp, ts, t_s, time_s`` (seconds, or ISO 8601
absolute times) or ``t_ns`` (integer nanoseconds). Units ride in the header as
``name[unit]`` or ``name (unit)`` and end up in the Arrow field metadata (``b"unit"``).
Time must never go backwards: the first row that does is named in a NON_MONOTONIC_TIME error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from syncline.media.decoding import display_name
from syncline.media.tables import (
    TIME_COLUMNS,
    check_monotonic,
    find_column,
    header_lines,
    read_table,
    split_unit,
    table_format,
    time_to_ns,
    timed_table_info,
    with_capture_time,
)
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality


def _load(path: Path, fmt: str) -> tuple[pa.Table, str, int | None]:
    """(table with int64 t_ns first, the original time column name, absolute start ns)."""
    name = display_name(path)
    raw = read_table(path, fmt)
    time_col = find_column(raw.column_names, TIME_COLUMNS)
    if time_col is None:
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE,
            f"{name} has no time column; name one t, time, timestamp, ts or t_s",
        )
    if raw.num_rows == 0:
        raise MediaError(MediaErrorKind.MALFORMED_TABLE, f"{name} has a header but no rows")
    t_ns, absolute = time_to_ns(raw, time_col, name=name)
    check_monotonic(t_ns, name=name, column=time_col, header_lines=header_lines(fmt))
    fields = [pa.field("t_ns", pa.int64(), nullable=False)]
    arrays: list[pa.ChunkedArray | pa.Array] = [pa.array(t_ns, pa.int64())]
    for col in raw.column_names:
        if col == time_col:
            continue
        bare, unit = split_unit(col)
        meta = {b"unit": unit.encode("utf-8")} if unit else None
        data = raw.column(col)
        fields.append(pa.field(bare, data.type, metadata=meta))
        arrays.append(data)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields)), time_col, absolute


def read_sensor(path: Path, fmt: str | None = None) -> pa.Table:
    """The stream as Arrow: ``t_ns`` (int64, asset-local) + value columns with unit metadata.

    ISO 8601 times become relative to the first row; its absolute time is in the schema
    metadata as ``b"capture_time_utc_ns"``.
    """
    path = Path(path)
    table, _, absolute = _load(path, table_format(path, fmt))
    return with_capture_time(table, absolute)


def probe_sensor(path: Path, fmt: str) -> MediaInfo:
    path = Path(path)
    table, time_col, absolute = _load(path, fmt)
    t = table.column("t_ns").to_numpy()
    diffs = np.diff(t)
    positive = diffs[diffs > 0]
    rate = float(1e9 / np.median(positive)) if len(positive) else None
    units: dict[str, Any] = {}
    for f in table.schema:
        if f.name == "t_ns":
            continue
        units[f.name] = f.metadata[b"unit"].decode() if f.metadata and b"unit" in f.metadata else None
    return timed_table_info(
        Modality.SENSOR,
        fmt,
        t,
        absolute,
        {
            "time_column": time_col,
            "time_kind": "iso8601" if absolute is not None else "seconds",
            "columns": units,
            "rate_hz": round(rate, 6) if rate else None,
            "duplicate_times": int(np.count_nonzero(diffs == 0)),
        },
    )
