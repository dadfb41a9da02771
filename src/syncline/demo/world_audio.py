"""Stall microphone recordings: the scene's calls and door sounds, fans and rain.

Calls, door swings (a creak while the panel turns, a thud when it slams) and weather happen on
the *entity* timeline (``world_scene``); the recorder samples them through its own drifting
clock, so the signal is computed from each sample's entity time (an exact resampling by
``drift_ppm``). Recorder faults (silent dropouts, clipped spans) happen in local time; a
dropout sits in the scene's cue-free quiet gap. Night recordings carry more broadband noise.

Which microphone gets which fault is the fixed table ``PLANTED_FAULTS`` (the default world) or
drawn per file from planting rates (``generate_world(rates=...)``) with its own generator, so
the recorded scene is the same either way. A drawn dropout lasts 0.75-2.25 s somewhere in the
quiet gap (so no call or door sound the truth lists goes unheard); a drawn clipped call is
driven 1.2-2.4x past full scale (a gain that merely made a quiet call louder would not clip,
and the truth would then claim a defect that is not in the file).

One file is mis-attached: the recorder filed under ``stall-a-2026-05-02`` really recorded
``stall-a-2026-05-01`` (a spare recorder's card copied into the wrong day's folder). Its
content is the other stall-day's scene on that day's timeline; its manifest row claims the
wrong entity, with a start time that looks plausible for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from syncline.demo.world_encode import encode_aac, to_int16, write_wav
from syncline.demo.world_plan import (
    ENTITIES,
    NS_PER_MS,
    AssetOut,
    EntityPlan,
    PlannedClock,
    draw_clock,
    iso_from_ns,
    rng_for,
    span_truth,
)
from syncline.demo.world_scene import (
    AV_WINDOW_MS,
    QUIET_MS,
    THUD_MS,
    Call,
    DoorCycle,
    Scene,
    plan_scene,
    raised_cosine,
)
from syncline.timebase import NS_PER_S

SAMPLE_RATE = 16_000
SECONDS = 36
MIC_DEVICE = "BarnMic M1"
MIC_DRIFTS_PPM = (-60.0, -48.0, -72.0, -55.0, -64.0, -58.0)  # by entity index
MISATTACHED_MIC = {1: 0}  # claimed entity index -> the entity whose scene it really recorded
NIGHT_NOISE, DAY_NOISE = 0.03, 0.004
PLANTED_FAULTS: dict[int, tuple[str, ...]] = {
    0: ("clipped",), 1: ("clipped", "silent"), 4: ("silent",), 5: ("silent",),
}
CLIP_GAIN = 6.0
FAULT_KINDS = ("silent", "clipped")
DRAWN_SILENT_MS = (750, 2250)  # 0.5-1.5x the default table's 1.5 s dropout
DRAWN_OVERDRIVE = (1.2, 2.4)  # a drawn clipped call's peak, in multiples of full scale
CLIP_PAD_MS = 100  # a clipped span starts and ends this far outside its call
CALL_ATTACK_S = 0.025  # a call starts as the animal jerks its head: within a few tens of ms


def _lowpass_noise(rng: np.random.Generator, n: int, cutoff_hz: float) -> np.ndarray:
    spec = np.fft.rfft(rng.normal(0.0, 1.0, n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spec *= 1.0 / (1.0 + (freqs / cutoff_hz) ** 4)
    x = np.fft.irfft(spec, n)
    return np.asarray(x / float(np.std(x)))




def _harmonic_call(t: np.ndarray, dt: float, c: Call) -> np.ndarray:
    """A harmonic call with vibrato; a distress call's pitch rises by 70 % over the call."""
    t0, t1 = c.t0_ms / 1000.0, c.t1_ms / 1000.0
    distress = c.kind == "distress"
    u = (t - t0) / (t1 - t0)
    contour = 1.0 + 0.7 * u if distress else 1.0 + 0.15 * np.sin(np.pi * u)
    vib_rate, vib_depth = (6.0, 0.05) if distress else (4.5, 0.02)
    f = c.f0_hz * contour * (1.0 + vib_depth * np.sin(2.0 * np.pi * vib_rate * (t - t0)))
    phase = 2.0 * np.pi * np.cumsum(f) * dt
    k = np.arange(1, 7, dtype=np.float64)[:, None]
    sig = np.sum(k ** -1.3 * np.sin(k * phase[None, :]), axis=0)
    sig *= raised_cosine(t, t0, t1, CALL_ATTACK_S, 0.2)
    return np.asarray(sig / max(float(np.max(np.abs(sig))), 1e-9) * c.level)


def _creak(t: np.ndarray, dt: float, t0: float, t1: float, f0: float) -> np.ndarray:
    """A hinge creak: a rough harmonic tone with stick-slip bursts, sharp onset."""
    tau = t - t0
    f = f0 * (1.0 + 0.18 * np.sin(2.0 * np.pi * 1.7 * tau) + 0.3 * tau / (t1 - t0))
    phase = 2.0 * np.pi * np.cumsum(f) * dt
    k = np.arange(1, 6, dtype=np.float64)[:, None]
    sig = np.sum(k ** -1.1 * np.sin(k * phase[None, :]), axis=0)
    sig *= 0.55 + 0.45 * np.sin(2.0 * np.pi * 28.0 * tau) ** 2
    sig *= raised_cosine(t, t0, t1, 0.012, 0.05)
    return np.asarray(0.2 * sig / max(float(np.max(np.abs(sig))), 1e-9))


def _thud(t: np.ndarray, t0: float, rng: np.random.Generator) -> np.ndarray:
    """The panel hitting the frame: a decaying low knock plus a short broadband click."""
    tau = np.maximum(t - t0, 0.0)
    knock = np.exp(-tau / 0.06) * (np.sin(2.0 * np.pi * 80.0 * tau) + 0.6 * np.sin(2.0 * np.pi * 131.0 * tau))
    click = 0.8 * rng.normal(0.0, 1.0, len(t)) * np.exp(-tau / 0.012)
    sig = (knock + click) * np.clip(tau / 0.002, 0.0, 1.0)
    return np.asarray(0.5 * sig / max(float(np.max(np.abs(sig))), 1e-9))


def _add(x: np.ndarray, t: np.ndarray, t0: float, t1: float, make: Any) -> None:
    idx = np.flatnonzero((t >= t0) & (t < t1))
    if len(idx):
        x[idx] += make(t[idx])


def _door_sounds(x: np.ndarray, t: np.ndarray, dt: float, doors: list[DoorCycle],
                 rng: np.random.Generator) -> list[dict[str, Any]]:
    """Creaks over both swings and a thud at each slam; returns their entity-ms spans."""
    out: list[dict[str, Any]] = []
    for d in doors:
        f0 = d.creak_hz
        spans = [("creak", "door_open", d.open_ms, d.opened_ms, f0),
                 ("creak", "door_close", d.closing_ms, d.slam_ms, f0 * 1.12),
                 ("thud", "door_close", d.slam_ms, d.slam_ms + THUD_MS, 0.0)]
        for kind, event, a_ms, b_ms, f in spans:
            a, b = a_ms / 1000.0, b_ms / 1000.0
            if kind == "creak":
                _add(x, t, a, b, lambda tt, a=a, b=b, f=f: _creak(tt, dt, a, b, f))
            else:
                _add(x, t, a, b, lambda tt, a=a: _thud(tt, a, rng))
            out.append({"kind": kind, "event": event, "t0_ms": a_ms, "t1_ms": b_ms})
    return out


def _samples(local_ns: int) -> int:
    return local_ns * SAMPLE_RATE // NS_PER_S


def _call_span(clock: PlannedClock, c: Call) -> tuple[int, int]:
    """Call ``c`` in local whole milliseconds, padded by ``CLIP_PAD_MS`` each side."""
    pad = CLIP_PAD_MS * NS_PER_MS
    return (clock.to_local(c.t0_ms * NS_PER_MS) // NS_PER_MS * NS_PER_MS - pad,
            clock.to_local(c.t1_ms * NS_PER_MS) // NS_PER_MS * NS_PER_MS + pad)


def _clip(x: np.ndarray, clock: PlannedClock, l0: int, l1: int, gain: float) -> dict[str, Any]:
    """Amplify local span ``[l0, l1)`` by ``gain`` in place (to_int16 then clips); its truth."""
    a, b = _samples(l0), _samples(l1)
    x[a:b] *= gain
    return {"samples": [a, b], "gain": gain, **span_truth(clock, l0, l1)}


def _silence(x: np.ndarray, clock: PlannedClock, l0: int, l1: int) -> dict[str, Any]:
    """Zero local span ``[l0, l1)`` in place (the recorder lost its input); returns its truth."""
    a, b = _samples(l0), _samples(l1)
    x[a:b] = 0.0
    return {"samples": [a, b], **span_truth(clock, l0, l1)}


def _plant_table(x: np.ndarray, clock: PlannedClock, scene: Scene, calls: list[Call], faults: tuple[str, ...],
                 rng: np.random.Generator) -> tuple[Call | None, dict[str, list[dict[str, Any]]]]:
    """The default world's faults: a normal call clipped at ``CLIP_GAIN``, a 1.5 s dropout."""
    out: dict[str, list[dict[str, Any]]] = {"silent": [], "clipped": []}
    clipped: Call | None = None
    if "clipped" in faults:
        normal = [c for c in calls if c.kind == "call"]
        clipped = normal[int(rng.integers(len(normal)))]
        out["clipped"].append(_clip(x, clock, *_call_span(clock, clipped), CLIP_GAIN))
    if "silent" in faults:
        l0 = (clock.to_local(scene.quiet_ms[0] * NS_PER_MS) // NS_PER_MS + 500) * NS_PER_MS
        out["silent"].append(_silence(x, clock, l0, l0 + 1500 * NS_PER_MS))
    return clipped, out


def _plant_drawn(x: np.ndarray, clock: PlannedClock, scene: Scene, calls: list[Call], rates: Mapping[str, float],
                 rng: np.random.Generator) -> tuple[Call | None, dict[str, list[dict[str, Any]]]]:
    """Each fault with its rate: a random normal call overdriven, a dropout in the quiet gap.

    Both coins are tossed first, so one rate does not shift the other's draws. A file without a
    normal call gets no clipped span (distress calls are what the task is about: never damaged).
    """
    want = {k: bool(u < rates[k]) for k, u in zip(FAULT_KINDS, rng.random(len(FAULT_KINDS)), strict=True)}
    out: dict[str, list[dict[str, Any]]] = {"silent": [], "clipped": []}
    clipped: Call | None = None
    normal = [c for c in calls if c.kind == "call"]
    if want["clipped"] and normal:
        clipped = normal[int(rng.integers(len(normal)))]
        gain = round(float(rng.uniform(*DRAWN_OVERDRIVE)) / clipped.level, 2)
        l0, l1 = _call_span(clock, clipped)
        out["clipped"].append(_clip(x, clock, max(l0, 0), min(l1, SECONDS * NS_PER_S), gain))
    if want["silent"]:
        length_ms = int(rng.integers(DRAWN_SILENT_MS[0], DRAWN_SILENT_MS[1] + 1))
        q0 = clock.to_local(scene.quiet_ms[0] * NS_PER_MS) // NS_PER_MS + 1  # whole ms inside the gap
        start_ms = q0 + int(rng.integers(0, QUIET_MS - 2 - length_ms + 1))
        out["silent"].append(_silence(x, clock, start_ms * NS_PER_MS, (start_ms + length_ms) * NS_PER_MS))
    return clipped, out


def make_mic_audio(root: Path, seed: int, entity: EntityPlan, rates: Mapping[str, float] | None = None) -> AssetOut:
    """One stall microphone file; faults from ``PLANTED_FAULTS``, or drawn with ``rates`` when given."""
    fmt = entity.mic_format or "wav"
    rel = f"data/audio/{entity.entity_id}_mic1.{fmt}"
    rng = rng_for(seed, rel)
    heard: EntityPlan = ENTITIES[MISATTACHED_MIC.get(entity.index, entity.index)]
    scene = plan_scene(seed, heard.index)
    clock = draw_clock(rng, start_s=(0.0, 2.0), drift_ppm=MIC_DRIFTS_PPM[entity.index],
                       max_error_ms=5000)
    n = SAMPLE_RATE * SECONDS
    t = clock.entity_seconds(np.arange(n, dtype=np.float64) / SAMPLE_RATE)
    dt = (1.0 + clock.drift_ppm * 1e-6) / SAMPLE_RATE
    t_first, t_last = float(t[0]), float(t[-1])
    x = np.zeros(n)
    night = heard.lighting == "night"

    background: list[dict[str, Any]] = []
    fan_span = (t_first, t_last + dt) if entity.index % 2 == 0 else (
        t_first + float(rng.uniform(3.0, 8.0)), t_first + float(rng.uniform(20.0, 30.0)))
    fan = 0.03 * _lowpass_noise(rng, n, 250.0) + 0.02 * np.sin(2 * np.pi * 50.0 * t) \
        + 0.01 * np.sin(2 * np.pi * 100.0 * t)
    x += (1.6 if night else 1.0) * fan * raised_cosine(t, fan_span[0], fan_span[1], 0.5, 0.5)
    background.append({"class": "fan", "t0_s": fan_span[0], "t1_s": fan_span[1]})
    for _ in range(int(rng.integers(0, 3))):
        r0 = t_first + float(rng.uniform(2.0, SECONDS - 8.0))
        r1 = r0 + float(rng.uniform(3.0, 6.0))
        x += 0.05 * rng.normal(0.0, 1.0, n) * raised_cosine(t, r0, r1, 0.7, 0.7)
        background.append({"class": "rain", "t0_s": r0, "t1_s": r1})
    x += (NIGHT_NOISE if night else DAY_NOISE) * rng.normal(0.0, 1.0, n)

    calls = [c for c in scene.calls if t_first <= c.t0_ms / 1000.0 and c.t1_ms / 1000.0 < t_last]
    for c in calls:
        _add(x, t, c.t0_ms / 1000.0, c.t1_ms / 1000.0, lambda tt, c=c: _harmonic_call(tt, dt, c))
    doors = [d for d in scene.doors if AV_WINDOW_MS[0] <= d.open_ms < AV_WINDOW_MS[1]]
    sounds = _door_sounds(x, t, dt, doors, rng)

    if rates is None:
        clipped_call, fault_truth = _plant_table(x, clock, scene, calls, PLANTED_FAULTS.get(entity.index, ()), rng)
    else:
        clipped_call, fault_truth = _plant_drawn(x, clock, scene, calls, rates, rng_for(seed, f"planting/{rel}"))

    pcm = to_int16(x)
    if fmt == "m4a":
        encode_aac(pcm, SAMPLE_RATE, root / rel)
    else:
        write_wav(pcm, SAMPLE_RATE, root / rel)
    return AssetOut(
        path=rel, modality="audio", entity_id=entity.entity_id, device=MIC_DEVICE, mic="mic1",
        channel="mono", context={"lighting": entity.lighting, "location": entity.location},
        start_time=iso_from_ns(entity.start_ns + clock.nominal_offset_ns),
        truth=_truth(entity, heard, clock, fmt, n, calls, clipped_call, background, sounds, fault_truth),
    )


def _truth(entity: EntityPlan, heard: EntityPlan, clock: PlannedClock, fmt: str, n: int,
           calls: list[Call], clipped: Call | None, background: list[dict[str, Any]],
           sounds: list[dict[str, Any]], faults: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    def on_entity(t0_ns: int, t1_ns: int) -> dict[str, list[int]]:
        return {"entity_ns": [t0_ns, t1_ns], "local_ns": [clock.to_local(t0_ns), clock.to_local(t1_ns)]}

    truth: dict[str, Any] = {
        "entity_id": entity.entity_id,
        "modality": "audio",
        "kind": "stall_microphone",
        "lighting": heard.lighting,
        "clock": clock.truth(),
        "audio": {
            "codec": "aac" if fmt == "m4a" else "pcm_s16le", "container": fmt,
            "sample_rate": SAMPLE_RATE, "channels": 1, "n_samples": n,
            "duration_ns": n * NS_PER_S // SAMPLE_RATE,
        },
        "calls": [
            {"class": c.kind, "f0_hz": c.f0_hz, "clipped": c is clipped,
             **on_entity(c.t0_ms * NS_PER_MS, c.t1_ms * NS_PER_MS)}
            for c in calls
        ],
        "door_sounds": [
            {"kind": s["kind"], "event": s["event"], **on_entity(s["t0_ms"] * NS_PER_MS, s["t1_ms"] * NS_PER_MS)}
            for s in sounds
        ],
        "background": [
            {"class": b["class"], **on_entity(int(round(b["t0_s"] * 1e9)), int(round(b["t1_s"] * 1e9)))}
            for b in background
        ],
        "faults": faults,
    }
    if heard.index != entity.index:
        truth["misattached"] = {"claimed_entity_id": entity.entity_id, "true_entity_id": heard.entity_id}
    return truth
