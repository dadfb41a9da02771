"""Temperature/humidity loggers: 1 Hz CSVs with unit headers and planted glitches.

A logger writes either absolute ISO 8601 times from its own (offset) clock, column ``time``,
or seconds since its first row, column ``t[s]``. Glitches: a spike (one absurd
reading), a dropout (rows missing) and a stuck humidity value (the same reading repeated).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from syncline.demo.world_plan import (
    AssetOut,
    EntityPlan,
    draw_clock,
    iso_from_ns,
    rng_for,
    span_truth,
)
from syncline.timebase import NS_PER_S

ROWS = 90
SENSOR_DEVICE = "THS-10 logger"
SPIKE_C = 85.0
TEMP_COL, HUM_COL = "temperature[degC]", "humidity[%]"


def make_sensor(root: Path, seed: int, entity: EntityPlan) -> AssetOut:
    rel = f"data/sensors/{entity.entity_id}_ths.csv"
    rng = rng_for(seed, rel)
    clock = draw_clock(rng, start_s=(-22.0, -18.0))
    k = np.arange(ROWS, dtype=np.float64)
    base_t = 19.5 if entity.lighting == "day" else 13.0
    temp = base_t + 0.6 * np.sin(2 * np.pi * k / 240.0 + rng.uniform(0, 6.3)) + rng.normal(0, 0.05, ROWS)
    hum = 68.0 + 4.0 * np.sin(2 * np.pi * k / 300.0 + rng.uniform(0, 6.3)) + rng.normal(0, 0.3, ROWS)
    temp, hum = np.round(temp, 2), np.round(hum, 1)

    spike = int(rng.integers(22, 32))
    temp[spike] = SPIKE_C
    drop0 = int(rng.integers(38, 48))
    drop1 = drop0 + int(rng.integers(5, 9))
    stuck0 = int(rng.integers(58, 68))
    stuck1 = stuck0 + int(rng.integers(8, 13))
    hum[stuck0:stuck1] = hum[stuck0]
    keep = [i for i in range(ROWS) if not drop0 <= i < drop1]

    iso = entity.sensor_time == "iso"
    nominal0 = entity.start_ns + clock.nominal_offset_ns
    path = root / rel
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time" if iso else "t[s]", TEMP_COL, HUM_COL])
        for i in keep:
            stamp = iso_from_ns(nominal0 + i * NS_PER_S) if iso else f"{i:.1f}"
            w.writerow([stamp, f"{temp[i]:.2f}", f"{hum[i]:.1f}"])

    def row_span(i0: int, i1: int) -> dict[str, Any]:
        return {"rows": [i0, i1], **span_truth(clock, i0 * NS_PER_S, i1 * NS_PER_S)}

    truth = {
        "entity_id": entity.entity_id,
        "modality": "sensor",
        "clock": clock.truth(),
        "sensor": {
            "rate_hz": 1, "time_format": "iso8601" if iso else "seconds",
            "time_column": "time" if iso else "t[s]", "columns": [TEMP_COL, HUM_COL],
            "expected_rows": ROWS, "rows": len(keep), "duration_ns": ROWS * NS_PER_S,
            "note": "row i is at local i s; 'rows' ranges are indices before the dropout",
        },
        "glitches": {
            "spikes": [{"column": TEMP_COL, "value": SPIKE_C, **row_span(spike, spike + 1)}],
            "dropouts": [row_span(drop0, drop1)],
            "stuck": [{"column": HUM_COL, "value": float(hum[stuck0]), **row_span(stuck0, stuck1)}],
        },
    }
    return AssetOut(
        path=rel, modality="sensor", entity_id=entity.entity_id, device=SENSOR_DEVICE,
        context={"lighting": entity.lighting, "location": entity.location},
        start_time=iso_from_ns(nominal0), truth=truth,
    )
