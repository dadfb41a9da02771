"""Sensor input noise: flatlines (a stuck reading), spikes, gaps and time going backwards.

Per numeric column, in columns and windows (NumPy), never row by row:

* *stuck*: a column that normally changes from row to row (most steps non-zero — not a
  door switch or a counter) holds exactly the same value for ≥ 3 s;
* *spike*: a reading more than 10 robust deviations (1.4826 · MAD of the residual) from the
  median of its 11-row neighbourhood, on such a continuous column;
* *gap*: a step in time over 2.5 × the median step (rows missing);
* *time backwards*: a step below zero (ingest refuses such files; tables written otherwise may
  still hold them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

from syncline.audit.spans import runs

STUCK_S, SPIKE_Z, GAP_STEPS, CONTINUOUS = 3.0, 10.0, 2.5, 0.5
HALF = 5  # rows each side of a spike's neighbourhood


@dataclass(frozen=True)
class SensorDefect:
    kind: str          # stuck | spike | gap | time_backwards
    column: str | None
    rows: tuple[int, int]
    local_ns: tuple[int, int]  # a reading lasts one sampling step
    value: float | None = None


def _continuous(x: NDArray[np.float64]) -> bool:
    steps = np.diff(x[np.isfinite(x)])
    return len(steps) > 10 and float((steps != 0).mean()) >= CONTINUOUS


def _spikes(x: NDArray[np.float64]) -> NDArray[np.bool_]:
    if len(x) < 2 * HALF + 1:
        return np.zeros(len(x), bool)
    padded = np.pad(x, HALF, mode="edge")
    med = np.median(sliding_window_view(padded, 2 * HALF + 1), axis=1)
    resid = x - med
    scale = 1.4826 * float(np.median(np.abs(resid[np.isfinite(resid)]))) if np.isfinite(resid).any() else 0.0
    if scale == 0:
        return np.zeros(len(x), bool)
    return np.asarray(np.abs(resid) > SPIKE_Z * scale)


def sensor_defects(table: pa.Table) -> list[SensorDefect]:
    """Defects of a sensor table (``t_ns`` + numeric columns, as ``media.sensor.read_sensor``)."""
    t = table.column("t_ns").to_numpy().astype(np.int64)
    out: list[SensorDefect] = []
    if len(t) < 3:
        return out
    dt = np.diff(t)
    step = float(np.median(dt[dt > 0])) if (dt > 0).any() else 0.0
    for i in np.flatnonzero(dt < 0):
        a, b = sorted((int(t[i]), int(t[i + 1])))
        out.append(SensorDefect("time_backwards", None, (int(i), int(i) + 2), (a, b)))
    if step > 0:
        for i in np.flatnonzero(dt > GAP_STEPS * step):
            out.append(SensorDefect("gap", None, (int(i), int(i) + 2), (int(t[i]), int(t[i + 1]))))
    min_rows = max(10, int(np.ceil(STUCK_S * 1e9 / step))) if step > 0 else 10
    for name in table.column_names:
        if name == "t_ns" or not pa.types.is_floating(table.schema.field(name).type) and \
                not pa.types.is_integer(table.schema.field(name).type):
            continue
        x = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        if not _continuous(x):
            continue
        same = np.concatenate([[False], np.diff(x) == 0])
        for i0, i1 in runs(same, min_rows - 1):
            a = i0 - 1  # the first row of the flat run is the one before the first zero step
            out.append(SensorDefect("stuck", name, (a, i1), (int(t[a]), int(t[i1 - 1]) + int(step)), float(x[a])))
        for i0, i1 in runs(_spikes(x), 1):
            out.append(SensorDefect("spike", name, (i0, i1), (int(t[i0]), int(t[i1 - 1]) + int(step)), float(x[i0])))
    return out
