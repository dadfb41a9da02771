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
from collections.abc import Mapping
from dataclasses import dataclass, field
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
GLITCH_KINDS = ("spike", "stuck", "gap")
SPIKE_VALUES = {TEMP_COL: (85.0, -40.0), HUM_COL: (0.0, 100.0), LUX_COL: (65535.0,)}  # drawn spikes
DRAWN_STUCK_S, DRAWN_DROPOUT_S = (4, 16), (2, 14)
KEEP_CLEAR_S = 2  # drawn glitches stay this far from door transitions and from each other
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


@dataclass
class Glitches:
    """Planted glitches in row indices (before the dropout): (column, value, row), [r0, r1)."""

    spikes: list[tuple[str, float, int]] = field(default_factory=list)
    dropouts: list[tuple[int, int]] = field(default_factory=list)
    stuck: list[tuple[str, int, int]] = field(default_factory=list)


def _table_glitches(rng: np.random.Generator, event_rows: np.ndarray) -> Glitches:
    """The default world's: a temperature spike, a dropout away from door transitions, stuck humidity."""
    spike = int(rng.integers(20 * RATE_HZ, 40 * RATE_HZ))
    while True:
        drop0 = int(rng.integers(200 * RATE_HZ, 500 * RATE_HZ))
        drop1 = drop0 + int(rng.integers(5 * RATE_HZ, 9 * RATE_HZ))
        if not np.any((event_rows >= drop0 - 2 * RATE_HZ) & (event_rows < drop1 + 2 * RATE_HZ)):
            break
    stuck0 = int(rng.integers(60 * RATE_HZ, 150 * RATE_HZ))
    stuck1 = stuck0 + int(rng.integers(8 * RATE_HZ, 13 * RATE_HZ))
    return Glitches([(TEMP_COL, SPIKE_C, spike)], [(drop0, drop1)], [(HUM_COL, stuck0, stuck1)])


def _drawn_glitches(rng: np.random.Generator, event_rows: np.ndarray, rates: Mapping[str, float]) -> Glitches:
    """Each glitch with its rate (all three coins tossed first, so rates do not shift each other's
    draws), placed where it is clear of door transitions and of the glitches placed before it."""
    want = {k: bool(u < rates[k]) for k, u in zip(GLITCH_KINDS, rng.random(len(GLITCH_KINDS)), strict=True)}
    clear = KEEP_CLEAR_S * RATE_HZ
    busy = [(int(r) - clear, int(r) + clear) for r in event_rows]

    def place(length: int) -> int:
        while True:
            r0 = int(rng.integers(10 * RATE_HZ, ROWS - 10 * RATE_HZ - length))
            if all(r0 + length <= b0 or r0 >= b1 for b0, b1 in busy):
                busy.append((r0 - clear, r0 + length + clear))
                return r0

    out = Glitches()
    columns = list(SPIKE_VALUES)
    if want["gap"]:
        length = int(rng.integers(DRAWN_DROPOUT_S[0] * RATE_HZ, DRAWN_DROPOUT_S[1] * RATE_HZ + 1))
        r0 = place(length)
        out.dropouts.append((r0, r0 + length))
    if want["stuck"]:
        column = columns[int(rng.integers(len(columns)))]
        length = int(rng.integers(DRAWN_STUCK_S[0] * RATE_HZ, DRAWN_STUCK_S[1] * RATE_HZ + 1))
        r0 = place(length)
        out.stuck.append((column, r0, r0 + length))
    if want["spike"]:
        column = columns[int(rng.integers(len(columns)))]
        values = SPIKE_VALUES[column]
        out.spikes.append((column, values[int(rng.integers(len(values)))], place(1)))
    return out


def make_sensor(root: Path, seed: int, entity: EntityPlan, rates: Mapping[str, float] | None = None) -> AssetOut:
    """One logger's CSV; glitches one of each (the default world), or drawn with ``rates`` when given."""
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
    g = _table_glitches(rng, event_rows) if rates is None else \
        _drawn_glitches(rng_for(seed, f"planting/{rel}"), event_rows, rates)
    values = {TEMP_COL: temp, HUM_COL: hum, LUX_COL: lux}
    for column, value, row in g.spikes:
        values[column][row] = value
    stuck_values = []
    for column, r0, r1 in g.stuck:
        values[column][r0:r1] = values[column][r0]
        stuck_values.append(float(values[column][r0]))
    dropped = np.zeros(ROWS, dtype=bool)
    for r0, r1 in g.dropouts:
        dropped[r0:r1] = True
    keep = [i for i in range(ROWS) if not dropped[i]]

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
            "spikes": [{"column": c, "value": v, **row_span(r, r + 1)} for c, v, r in g.spikes],
            "dropouts": [row_span(r0, r1) for r0, r1 in g.dropouts],
            "stuck": [{"column": c, "value": v, **row_span(r0, r1)}
                      for (c, r0, r1), v in zip(g.stuck, stuck_values, strict=True)],
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
