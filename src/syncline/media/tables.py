"""Tabular files shared by the sensor, events and metadata readers.

A table is CSV, TSV, JSON Lines, a JSON array of objects, or Parquet. Column names may carry
a unit (``accel_x[m/s^2]`` or ``accel_x (m/s^2)``); ``split_unit`` separates it. Which kind of
table a file is follows from its columns alone (``classify``):

* a time column and a type/event/action column: events;
* a time column and numeric columns: sensor;
* an ``entity_id`` column and no time column: metadata.

Time columns hold numeric seconds (``t_ns`` holds integer nanoseconds) or ISO 8601 strings;
``time_to_ns`` turns either into integer nanoseconds, vectorised.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality

TIME_COLUMNS = ("t", "time", "timestamp", "ts", "t_s", "time_s", "t_ns")
TYPE_COLUMNS = ("type", "event", "event_type", "action")
STATE_COLUMNS = ("state", "status", "value")
ACTOR_COLUMNS = ("actor", "agent", "who", "user", "source")
ENTITY_COLUMN = "entity_id"
TABLE_FORMATS = ("csv", "tsv", "jsonl", "json", "parquet")

_UNIT_RE = re.compile(r"^\s*(?P<name>[^\[\(]*?)\s*(?:\[(?P<u1>[^\]]*)\]|\((?P<u2>[^\)]*)\))\s*$")
_MAX_JSON_BYTES = 256 * 1024 * 1024


def table_format(path: Path, fmt: str | None) -> str:
    """``fmt`` as given, or the table format detected from the file's content when None."""
    if fmt is None:
        from syncline.media.detect import detect  # detect imports this module

        fmt = detect(path)[1]
    return fmt


def with_capture_time(table: pa.Table, absolute: int | None) -> pa.Table:
    """``table`` with the absolute time of its first row (Unix ns), when there is one, in the
    schema metadata as ``b"capture_time_utc_ns"``."""
    if absolute is None:
        return table
    return table.replace_schema_metadata({b"capture_time_utc_ns": str(absolute).encode()})


def timed_table_info(
    modality: Modality, fmt: str, t_ns: np.ndarray, absolute: int | None, details: dict[str, Any]
) -> MediaInfo:
    """The probe of a time-indexed table from its ``t_ns`` (sorted, at least one row): start,
    duration and row count, the absolute start time if known, and ``details``. An event log's
    span ends 1 ns after its last event, so that half-open spans ``[start, start + duration)``
    hold every event."""
    return MediaInfo(
        modality=modality,
        format=fmt,
        duration_ns=int(t_ns[-1] - t_ns[0]) + (1 if str(modality) == "events" else 0),
        start_ns=int(t_ns[0]),
        n_items=len(t_ns),
        capture_time_utc_ns=absolute,
        details=details,
    )


def split_unit(column: str) -> tuple[str, str | None]:
    """``"accel_x [m/s^2]"`` -> ``("accel_x", "m/s^2")``; a name without a unit keeps None."""
    m = _UNIT_RE.match(column)
    if m is None or not m.group("name"):
        return column.strip(), None
    unit = m.group("u1") if m.group("u1") is not None else m.group("u2")
    return m.group("name"), (unit or "").strip() or None


def find_column(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    """The first column whose bare, lower-cased name is one of ``candidates`` (by priority)."""
    bare = {split_unit(c)[0].lower(): c for c in columns}
    for name in candidates:
        if name in bare:
            return bare[name]
    return None


def classify(columns: list[str], numeric: set[str]) -> Modality | None:
    """Sensor, events or metadata from column names (``numeric``: columns holding numbers)."""
    time_col = find_column(columns, TIME_COLUMNS)
    if time_col is not None:
        if find_column(columns, TYPE_COLUMNS) is not None:
            return Modality.EVENTS
        if any(c in numeric for c in columns if c != time_col):
            return Modality.SENSOR
        return None
    if find_column(columns, (ENTITY_COLUMN,)) is not None:
        return Modality.METADATA
    return None


def read_text(path: Path, *, limit: int | None = None) -> str:
    """Decode a text file (UTF-8, with or without BOM, or UTF-16 with BOM)."""
    with path.open("rb") as f:
        data = f.read() if limit is None else f.read(limit)
    return decode_text(data, partial=limit is not None)


def decode_text(data: bytes, *, partial: bool = False) -> str:
    """Decode bytes as text; raise UnicodeDecodeError when they are not text."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        if partial and len(data) % 2:
            data = data[:-1]
        return data.decode("utf-16")
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    decoder = codecs.getincrementaldecoder("utf-8")()
    text = decoder.decode(data, final=not partial)
    if "\x00" in text:
        raise UnicodeDecodeError("utf-8", data, 0, 1, "NUL byte in text")
    return text


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def read_table(path: Path, fmt: str) -> pa.Table:
    """Read a table file into Arrow; any parse failure is a one-line MALFORMED_TABLE error."""
    try:
        if fmt == "parquet":
            return pq.read_table(path)
        if fmt in ("csv", "tsv"):
            text = read_text(path)
            delimiter = "\t" if fmt == "tsv" else sniff_delimiter(text.split("\n", 1)[0])
            return pcsv.read_csv(
                io.BytesIO(text.encode("utf-8")),
                parse_options=pcsv.ParseOptions(delimiter=delimiter),
            )
        if fmt == "jsonl":
            return pjson.read_json(io.BytesIO(read_text(path).encode("utf-8")))
        if fmt == "json":
            if path.stat().st_size > _MAX_JSON_BYTES:
                raise MediaError(
                    MediaErrorKind.MALFORMED_TABLE,
                    f"{path.name} is a JSON array over 256 MB; convert it to JSON Lines or Parquet",
                )
            rows = json.loads(read_text(path))
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise MediaError(
                    MediaErrorKind.MALFORMED_TABLE,
                    f"{path.name} is JSON but not an array of objects; write one object per row",
                )
            return pa.Table.from_pylist(rows)
    except MediaError:
        raise
    except (pa.ArrowException, ValueError, OSError, TypeError) as exc:
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE,
            f"{path.name} cannot be parsed as {fmt.upper()} ({_first_line(exc)}); fix the row and re-ingest",
        ) from None
    raise MediaError(MediaErrorKind.UNSUPPORTED, f"{path.name}: table format {fmt!r} is not read")


def sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def is_numeric(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def time_to_ns(table: pa.Table, column: str, *, name: str) -> tuple[np.ndarray, int | None]:
    """Integer-nanosecond times of ``column`` and, for absolute (ISO 8601) times, the first one.

    Numeric values are seconds (``t_ns``: nanoseconds) on the asset's own clock and are
    returned as they are. ISO 8601 values are absolute: naive ones are taken as UTC; they are
    returned relative to the first row, whose absolute time is the second return value.
    """
    col = table.column(column)
    bad = _first_null(col)
    if bad is not None:
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE,
            f"{name}: time column '{column}' is empty at data row {bad + 1}; fill it or drop the row",
        )
    typ = col.type
    if is_numeric(typ):
        values = col.to_numpy().astype(np.float64 if not pa.types.is_integer(typ) else np.int64)
        if split_unit(column)[0].lower() == "t_ns":
            return values.astype(np.int64), None
        if not np.all(np.isfinite(values)):
            row = int(np.flatnonzero(~np.isfinite(values))[0])
            raise MediaError(
                MediaErrorKind.MALFORMED_TABLE,
                f"{name}: time column '{column}' is not finite at data row {row + 1}; fix the value",
            )
        return np.round(values.astype(np.float64) * 1e9).astype(np.int64), None
    if pa.types.is_timestamp(typ):
        ts = col.cast(pa.timestamp("ns", tz=typ.tz)) if typ.unit != "ns" else col
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
        ts = _parse_iso(col, column, name)
    else:
        raise MediaError(
            MediaErrorKind.MALFORMED_TABLE,
            f"{name}: time column '{column}' holds {typ}, not seconds or ISO 8601; convert it",
        )
    absolute = ts.cast(pa.int64()).to_numpy()
    first = int(absolute[0]) if len(absolute) else None
    return absolute - (first or 0), first


def _parse_iso(col: pa.ChunkedArray, column: str, name: str) -> pa.ChunkedArray:
    for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
        try:
            return col.cast(target)
        except pa.ArrowInvalid:
            continue
    values = col.to_pylist()  # error path only: find the row to name
    for i, v in enumerate(values):
        try:
            pa.array([v]).cast(pa.timestamp("ns", tz="UTC"))
        except pa.ArrowInvalid:
            try:
                pa.array([v]).cast(pa.timestamp("ns"))
            except pa.ArrowInvalid:
                raise MediaError(
                    MediaErrorKind.MALFORMED_TABLE,
                    f"{name}: time {v!r} at data row {i + 1} is neither seconds nor ISO 8601; fix it",
                ) from None
    raise MediaError(
        MediaErrorKind.MALFORMED_TABLE,
        f"{name}: time column '{column}' mixes ISO 8601 times with and without a zone; use one form",
    )


def _first_null(col: pa.ChunkedArray) -> int | None:
    if col.null_count == 0:
        return None
    idx = np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))
    return int(idx[0])


def check_monotonic(t_ns: np.ndarray, *, name: str, column: str, header_lines: int) -> None:
    """Raise NON_MONOTONIC_TIME naming the first row whose time goes backwards."""
    if len(t_ns) < 2:
        return
    back = np.flatnonzero(np.diff(t_ns) < 0)
    if len(back):
        row = int(back[0]) + 1  # 0-based index of the offending row
        line = f" (line {row + 1 + header_lines})" if header_lines else ""
        raise MediaError(
            MediaErrorKind.NON_MONOTONIC_TIME,
            f"{name}: time column '{column}' goes backwards at data row {row + 1}{line}: "
            f"{t_ns[row] / 1e9:.6f} s after {t_ns[row - 1] / 1e9:.6f} s; sort or fix the rows and re-ingest",
        )


def json_rows(table: pa.Table, columns: list[str]) -> pa.Array:
    """One JSON object string per row holding ``columns`` (``"{}"`` when there are none)."""
    if not columns:
        return pa.array(["{}"] * table.num_rows, pa.string())
    rows = table.select(columns).to_pylist()
    return pa.array([json.dumps(r, default=str, sort_keys=True) for r in rows], pa.string())


def header_lines(fmt: str) -> int:
    """How many lines precede the first data row (for naming lines in errors)."""
    return 1 if fmt in ("csv", "tsv") else 0


def numeric_columns(table: pa.Table) -> set[str]:
    return {f.name for f in table.schema if is_numeric(f.type)}
