"""Stall loggers: ten minutes at 10 Hz of temperature, humidity, door contact and light.

A logger writes either absolute ISO 8601 times from its own (offset, drifting) clock, column
``time``, or seconds since its first row, column ``t[s]``; row ``i`` is at local ``i / 10`` s.
Its clock runs off by ``SENSOR_DRIFTS_PPM`` (about +150 ppm: some 90 ms over the ten minutes),
so matching its door transients against the exact event log measures drift as well as lag.

Channels: ``door[0/1]`` is the door contact (1 from the moment the panel leaves the frame until
it slams); ``lux[lx]`` follows how far the door is open (daylight, or the floodlit yard at
night); the temperature dips while the door is open. Glitches: a spike (one absurd reading), a
dropout (rows missing, away from any door transition) and a stuck humidity value.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from syncline.demo.world_plan import (
    NS_PER_MS,
    AssetOut,
    EntityPlan,
    draw_clock,
    iso_from_ns,
    rng_for,
    span_truth,
)
from syncline.demo.world_scene import door_fraction, plan_scene
from syncline.timebase import NS_PER_S

RATE_HZ = 10
ROW_NS = NS_PER_S // RATE_HZ
ROWS = 600 * RATE_HZ
SENSOR_DEVICE = "THS-10 logger"
SENSOR_DRIFTS_PPM = (150.0, 135.0, 165.0, 142.0, 150.0, 158.0)  # by entity index
SPIKE_C = 85.0
TEMP_COL, HUM_COL, DOOR_COL, LUX_COL = "temperature[degC]", "humidity[%]", "door[0/1]", "lux[lx]"
LUX = {"day": (140.0, 650.0, 3.0), "night": (8.0, 90.0, 0.8)}  # base, fully open, noise


def _temperature(t: np.ndarray, base: float, doors: list[tuple[float, float]], cold: float) -> np.ndarray:
    """Entity-time temperature: a slow wave, a dip while the door is open, recovery after."""
    temp = base + 0.6 * np.sin(2 * np.pi * t / 2400.0)
    for o, s in doors:
        open_part = (t >= o) & (t < s)
        dip_at_slam = cold * (1.0 - np.exp(-(s - o) / 25.0))
        temp = temp - np.where(open_part, cold * (1.0 - np.exp(-(t - o) / 25.0)), 0.0)
        temp = temp - np.where(t >= s, dip_at_slam * np.exp(-(t - s) / 60.0), 0.0)
    return np.asarray(temp)


def make_sensor(root: Path, seed: int, entity: EntityPlan) -> AssetOut:
    rel = f"data/sensors/{entity.entity_id}_ths.csv"
    rng = rng_for(seed, rel)
    clock = draw_clock(rng, start_s=(-122.0, -118.0), drift_ppm=SENSOR_DRIFTS_PPM[entity.index],
                       max_error_ms=5000)
    scene = plan_scene(seed, entity.index)
    k = np.arange(ROWS)
    t = clock.entity_seconds(k / RATE_HZ)
    day = entity.lighting == "day"
    cycles = [(d.open_ms / 1000.0, d.slam_ms / 1000.0) for d in scene.doors]
    temp = _temperature(t, 19.5 if day else 13.0, cycles, 0.35 if day else 0.6)
    temp = temp + rng.normal(0, 0.03, ROWS)
    hum = 68.0 + 4.0 * np.sin(2 * np.pi * k / 3000.0 + rng.uniform(0, 6.3)) + rng.normal(0, 0.3, ROWS)
    base, full, noise = LUX[entity.lighting]
    lux = base + full * door_fraction(scene, t) + rng.normal(0.0, noise, ROWS)
    # each row's exact entity instant (as Clock.to_entity), so contact flips and truth agree
    local = k.astype(np.int64) * ROW_NS
    row_entity_ns = clock.true_offset_ns + local + np.round(local * (clock.drift_ppm * 1e-6)).astype(np.int64)
    door = np.zeros(ROWS, dtype=np.int64)
    for d in scene.doors:
        door[(row_entity_ns >= d.open_ms * NS_PER_MS) & (row_entity_ns < d.slam_ms * NS_PER_MS)] = 1
    temp, hum = temp.round(2), hum.round(1)
    lux = np.maximum(lux, 0.0).round(1)

    # door transitions: the first row whose instant is at or after the event
    events = [(ms, kind) for ms, kind, _ in scene.door_events()]
    event_rows = np.searchsorted(row_entity_ns, np.array([ms * NS_PER_MS for ms, _ in events]))
    spike = int(rng.integers(20 * RATE_HZ, 40 * RATE_HZ))
    temp[spike] = SPIKE_C
    while True:
        drop0 = int(rng.integers(200 * RATE_HZ, 500 * RATE_HZ))
        drop1 = drop0 + int(rng.integers(5 * RATE_HZ, 9 * RATE_HZ))
        if not np.any((event_rows >= drop0 - 2 * RATE_HZ) & (event_rows < drop1 + 2 * RATE_HZ)):
            break
    stuck0 = int(rng.integers(60 * RATE_HZ, 150 * RATE_HZ))
    stuck1 = stuck0 + int(rng.integers(8 * RATE_HZ, 13 * RATE_HZ))
    hum[stuck0:stuck1] = hum[stuck0]
    keep = [i for i in range(ROWS) if not drop0 <= i < drop1]

    iso = entity.sensor_time == "iso"
    nominal0 = entity.start_ns + clock.nominal_offset_ns
    with (root / rel).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time" if iso else "t[s]", TEMP_COL, HUM_COL, DOOR_COL, LUX_COL])
        for i in keep:
            stamp = iso_from_ns(nominal0 + i * ROW_NS) if iso else f"{i / RATE_HZ:.1f}"
            w.writerow([stamp, f"{temp[i]:.2f}", f"{hum[i]:.1f}", int(door[i]), f"{lux[i]:.1f}"])

    def row_span(i0: int, i1: int) -> dict[str, Any]:
        return {"rows": [i0, i1], **span_truth(clock, i0 * ROW_NS, i1 * ROW_NS)}

    truth = {
        "entity_id": entity.entity_id,
        "modality": "sensor",
        "clock": clock.truth(),
        "sensor": {
            "rate_hz": RATE_HZ, "time_format": "iso8601" if iso else "seconds",
            "time_column": "time" if iso else "t[s]", "columns": [TEMP_COL, HUM_COL, DOOR_COL, LUX_COL],
            "expected_rows": ROWS, "rows": len(keep), "duration_ns": ROWS * ROW_NS,
            "note": f"row i is at local i/{RATE_HZ} s; 'rows' ranges are indices before the dropout",
        },
        "glitches": {
            "spikes": [{"column": TEMP_COL, "value": SPIKE_C, **row_span(spike, spike + 1)}],
            "dropouts": [row_span(drop0, drop1)],
            "stuck": [{"column": HUM_COL, "value": float(hum[stuck0]), **row_span(stuck0, stuck1)}],
        },
        "door_events": [
            {"type": kind, "entity_ns": ms * NS_PER_MS, "local_ns": clock.to_local(ms * NS_PER_MS),
             "row": int(row)}
            for (ms, kind), row in zip(events, event_rows, strict=True) if 0 <= row < ROWS
        ],
    }
    return AssetOut(
        path=rel, modality="sensor", entity_id=entity.entity_id, device=SENSOR_DEVICE,
        context={"lighting": entity.lighting, "location": entity.location},
        start_time=iso_from_ns(nominal0), truth=truth,
    )
