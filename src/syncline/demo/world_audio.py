"""Stall microphone recordings: animal calls, rare distress calls, fans and rain.

Calls and weather happen on the *entity* timeline; the recorder samples them through its own
drifting clock, so the signal is computed from each sample's entity time (an exact resampling
by ``drift_ppm``). Recorder faults (silent dropouts, clipped spans) happen in local time.
Calls are placed in 4-second slots so that no two calls overlap and none touches a dropout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from syncline.demo.world_encode import encode_aac, to_int16, write_wav
from syncline.demo.world_plan import (
    NS_PER_MS,
    AssetOut,
    EntityPlan,
    PlannedClock,
    draw_clock,
    iso_from_ns,
    rng_for,
    span_truth,
)
from syncline.timebase import NS_PER_S

SAMPLE_RATE = 16_000
SECONDS = 36
SLOT_S = 4.0
MIC_DEVICE = "BarnMic M1"
MIC_DRIFTS_PPM = (80.0, -50.0, 120.0, 30.0, 80.0)
PLANTED_FAULTS: dict[int, tuple[str, ...]] = {
    0: ("clipped",), 1: ("clipped", "silent"), 4: ("silent",), 5: ("silent",),
}
CLIP_GAIN = 6.0


def _envelope(t: np.ndarray, t0: float, t1: float, attack: float, release: float) -> np.ndarray:
    """Raised-cosine fade in over ``attack`` and out over ``release``; 0 outside [t0, t1)."""
    up = np.clip((t - t0) / attack, 0.0, 1.0)
    down = np.clip((t1 - t) / release, 0.0, 1.0)
    e = np.minimum(up, down)
    return np.asarray(0.5 - 0.5 * np.cos(np.pi * e))


def _call(t: np.ndarray, dt: float, t0: float, t1: float, *, f0: float, rise: float,
          vib_rate: float, vib_depth: float, level: float) -> np.ndarray:
    """A harmonic call with vibrato; pitch rises by ``rise`` (fraction) over the call."""
    u = (t - t0) / (t1 - t0)
    contour = 1.0 + rise * u if rise > 0 else 1.0 + 0.15 * np.sin(np.pi * u)
    f = f0 * contour * (1.0 + vib_depth * np.sin(2.0 * np.pi * vib_rate * (t - t0)))
    phase = 2.0 * np.pi * np.cumsum(f) * dt
    k = np.arange(1, 7, dtype=np.float64)[:, None]
    sig = np.sum(k ** -1.3 * np.sin(k * phase[None, :]), axis=0)
    sig *= _envelope(t, t0, t1, 0.08, 0.2)
    return np.asarray(sig / max(float(np.max(np.abs(sig))), 1e-9) * level)


def _lowpass_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    spec = np.fft.rfft(rng.normal(0.0, 1.0, n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spec *= 1.0 / (1.0 + (freqs / cutoff_hz) ** 4)
    x = np.fft.irfft(spec, n)
    return np.asarray(x / float(np.std(x)))


def _plan_scene(rng: np.random.Generator, entity: EntityPlan, clock: PlannedClock,
                faults: tuple[str, ...]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Calls in entity ms as dicts, and which slot each local fault occupies."""
    first = clock.true_offset_ns // NS_PER_MS + 1000
    n_slots = int((SECONDS - 2) // SLOT_S)
    slots = [first + int(i * SLOT_S * 1000) for i in range(n_slots)]
    order = [int(i) for i in rng.permutation(n_slots)]
    fault_slot = {kind: order.pop() for kind in faults if kind == "silent"}
    calls: list[dict[str, Any]] = []
    for _ in range(entity.distress_calls):
        s = slots[order.pop()]
        t0 = s + int(rng.integers(150, 500))
        calls.append({"class": "distress", "t0_ms": t0, "t1_ms": t0 + int(rng.integers(2500, 3300)),
                      "f0_hz": round(float(rng.uniform(260.0, 320.0)), 1)})
    for i in order:
        if rng.random() < 0.2:
            continue
        t0 = slots[i] + int(rng.integers(200, 1500))
        calls.append({"class": "call", "t0_ms": t0, "t1_ms": t0 + int(rng.integers(800, 1700)),
                      "f0_hz": round(float(rng.uniform(110.0, 180.0)), 1)})
    calls.sort(key=lambda c: int(c["t0_ms"]))
    if "clipped" in faults:
        normal = [c for c in calls if c["class"] == "call"]
        normal[int(rng.integers(len(normal)))]["clipped"] = True
    return calls, {k: slots[v] for k, v in fault_slot.items()}


def make_mic_audio(root: Path, seed: int, entity: EntityPlan) -> AssetOut:
    fmt = entity.mic_format or "wav"
    rel = f"data/audio/{entity.entity_id}_mic1.{fmt}"
    rng = rng_for(seed, rel)
    clock = draw_clock(rng, start_s=(0.0, 2.0), drift_ppm=MIC_DRIFTS_PPM[entity.index % 5])
    faults = PLANTED_FAULTS.get(entity.index, ())
    calls, fault_slot = _plan_scene(rng, entity, clock, faults)
    n = SAMPLE_RATE * SECONDS
    t = clock.entity_seconds(np.arange(n, dtype=np.float64) / SAMPLE_RATE)
    dt = (1.0 + clock.drift_ppm * 1e-6) / SAMPLE_RATE
    t_first, t_last = float(t[0]), float(t[-1])
    x = np.zeros(n)

    background: list[dict[str, Any]] = []
    fan_span = (t_first, t_last + dt) if entity.index % 2 == 0 else (
        t_first + float(rng.uniform(3.0, 8.0)), t_first + float(rng.uniform(20.0, 30.0)))
    fan = 0.03 * _lowpass_noise(rng, n, 250.0) + 0.02 * np.sin(2 * np.pi * 50.0 * t) \
        + 0.01 * np.sin(2 * np.pi * 100.0 * t)
    x += fan * _envelope(t, fan_span[0], fan_span[1], 0.5, 0.5)
    background.append({"class": "fan", "t0_s": fan_span[0], "t1_s": fan_span[1]})
    for _ in range(int(rng.integers(0, 3))):
        r0 = t_first + float(rng.uniform(2.0, SECONDS - 8.0))
        r1 = r0 + float(rng.uniform(3.0, 6.0))
        x += 0.05 * rng.normal(0.0, 1.0, n) * _envelope(t, r0, r1, 0.7, 0.7)
        background.append({"class": "rain", "t0_s": r0, "t1_s": r1})

    for c in calls:
        t0, t1 = c["t0_ms"] / 1000.0, c["t1_ms"] / 1000.0
        idx = np.flatnonzero((t >= t0) & (t < t1))
        distress = c["class"] == "distress"
        x[idx] += _call(t[idx], dt, t0, t1, f0=c["f0_hz"], rise=0.7 if distress else 0.0,
                        vib_rate=6.0 if distress else 4.5, vib_depth=0.05 if distress else 0.02,
                        level=0.6 if distress else float(rng.uniform(0.22, 0.35)))

    fault_truth: dict[str, list[dict[str, Any]]] = {"silent": [], "clipped": []}
    for c in calls:
        if c.get("clipped"):
            l0 = clock.to_local(c["t0_ms"] * NS_PER_MS) // NS_PER_MS * NS_PER_MS - 100 * NS_PER_MS
            l1 = clock.to_local(c["t1_ms"] * NS_PER_MS) // NS_PER_MS * NS_PER_MS + 100 * NS_PER_MS
            a, b = l0 * SAMPLE_RATE // NS_PER_S, l1 * SAMPLE_RATE // NS_PER_S
            x[a:b] *= CLIP_GAIN
            fault_truth["clipped"].append({"samples": [a, b], "gain": CLIP_GAIN, **span_truth(clock, l0, l1)})
    if "silent" in fault_slot:
        l0 = (clock.to_local(fault_slot["silent"] * NS_PER_MS) // NS_PER_MS + 800) * NS_PER_MS
        l1 = l0 + 1500 * NS_PER_MS
        a, b = l0 * SAMPLE_RATE // NS_PER_S, l1 * SAMPLE_RATE // NS_PER_S
        x[a:b] = 0.0
        fault_truth["silent"].append({"samples": [a, b], **span_truth(clock, l0, l1)})

    pcm = to_int16(x)
    if fmt == "m4a":
        encode_aac(pcm, SAMPLE_RATE, root / rel)
    else:
        write_wav(pcm, SAMPLE_RATE, root / rel)

    def on_entity(t0_ns: int, t1_ns: int) -> dict[str, list[int]]:
        return {"entity_ns": [t0_ns, t1_ns], "local_ns": [clock.to_local(t0_ns), clock.to_local(t1_ns)]}

    truth = {
        "entity_id": entity.entity_id,
        "modality": "audio",
        "kind": "stall_microphone",
        "lighting": entity.lighting,
        "clock": clock.truth(),
        "audio": {
            "codec": "aac" if fmt == "m4a" else "pcm_s16le", "container": fmt,
            "sample_rate": SAMPLE_RATE, "channels": 1, "n_samples": n,
            "duration_ns": n * NS_PER_S // SAMPLE_RATE,
        },
        "calls": [
            {"class": c["class"], "f0_hz": c["f0_hz"], "clipped": bool(c.get("clipped", False)),
             **on_entity(c["t0_ms"] * NS_PER_MS, c["t1_ms"] * NS_PER_MS)}
            for c in calls
        ],
        "background": [
            {"class": b["class"], **on_entity(int(round(b["t0_s"] * 1e9)), int(round(b["t1_s"] * 1e9)))}
            for b in background
        ],
        "faults": fault_truth,
    }
    return AssetOut(
        path=rel, modality="audio", entity_id=entity.entity_id, device=MIC_DEVICE, mic="mic1",
        channel="mono", context={"lighting": entity.lighting, "location": entity.location},
        start_time=iso_from_ns(entity.start_ns + clock.nominal_offset_ns), truth=truth,
    )
