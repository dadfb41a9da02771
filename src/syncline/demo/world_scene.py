"""What happens in a stall on the entity timeline: animal calls and door cycles, the sync cues.

Every recording of a stall-day observes one ``Scene``. The stall microphone hears each call and
each door swing (a creak while the panel turns, a thud when it slams); the cameras see each call
as a head jerk and body rock of the animal and each swing as the door panel turning; the
logger's door contact and light channel switch with the door; the barn server logs
``door_open`` when the panel leaves the frame and ``door_close`` when it slams. So every cue has
a known entity time, and each recording shows it at that time seen through its own clock.

Cue times are whole milliseconds on the entity timeline. Calls and door swings sit in the
audio-visual window (every microphone and cam1 clip covers it) and never overlap each other;
one cue-free ``quiet`` gap per scene is where recorder dropouts go. More door cycles happen
before and after the clips, inside the ten-minute sensor span. One stall-day is *sparse* (a
couple of cues only), so an aligner should abstain there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from syncline.demo.world_plan import ENTITIES, NS_PER_MS, EntityPlan, rng_for

AV_WINDOW_MS = (2300, 35700)  # calls and in-clip door swings (every mic and cam1 covers it)
DOOR_SPAN_MS = (-112_000, 468_000)  # door cycles outside the clips (inside every sensor span)
QUIET_MS = 2600
SPARSE_ENTITY = 4  # stall-c-2026-05-01: two calls and one door cycle
MARGIN_MS = 350  # silence kept between two audible cues
THUD_MS = 250  # how long a slam is heard
DOOR_MAX_ANGLE = np.deg2rad(80.0)
CALL_JERK_S = 0.02  # a call's head jerk is complete this soon after its onset


@dataclass(frozen=True)
class Call:
    kind: str  # call | distress
    t0_ms: int
    t1_ms: int
    f0_hz: float
    level: float  # peak amplitude on a stall microphone (float PCM)


@dataclass(frozen=True)
class DoorCycle:
    """Open swing ``[open_ms, opened_ms)``, held open, close swing ``[closing_ms, slam_ms)``."""

    open_ms: int  # panel leaves the frame: creak starts, contact opens, door_open logged
    opened_ms: int
    closing_ms: int
    slam_ms: int  # panel hits the frame: thud, contact closes, door_close logged
    actor: str
    creak_hz: float


@dataclass(frozen=True)
class Scene:
    entity_id: str
    calls: tuple[Call, ...]
    doors: tuple[DoorCycle, ...]
    quiet_ms: tuple[int, int]
    sparse: bool

    def cues(self) -> list[dict[str, Any]]:
        """Every audio-visual cue, sorted: ``onset_ms`` is where sound and motion both start;
        ``audible_ms``/``motion_ms`` are the spans heard and seen."""
        out: list[dict[str, Any]] = [
            {"kind": c.kind, "onset_ms": c.t0_ms, "audible_ms": (c.t0_ms, c.t1_ms),
             "motion_ms": (c.t0_ms, c.t1_ms)} for c in self.calls]
        for d in self.doors:
            if not AV_WINDOW_MS[0] <= d.open_ms < AV_WINDOW_MS[1]:
                continue
            out.append({"kind": "door_open", "onset_ms": d.open_ms,
                        "audible_ms": (d.open_ms, d.opened_ms), "motion_ms": (d.open_ms, d.opened_ms)})
            out.append({"kind": "door_close", "onset_ms": d.closing_ms,
                        "audible_ms": (d.closing_ms, d.slam_ms + THUD_MS),
                        "motion_ms": (d.closing_ms, d.slam_ms)})
        return sorted(out, key=lambda c: int(c["onset_ms"]))

    def door_events(self) -> list[tuple[int, str, str]]:
        """(entity ms, door_open|door_close, actor) as the contact and the event log see them."""
        out = [(d.open_ms, "door_open", d.actor) for d in self.doors]
        out += [(d.slam_ms, "door_close", d.actor) for d in self.doors]
        return sorted(out)

    def truth(self) -> dict[str, Any]:
        def ns(span: tuple[int, int]) -> list[int]:
            return [span[0] * NS_PER_MS, span[1] * NS_PER_MS]

        return {
            "sparse": self.sparse,
            "quiet_entity_ns": ns(self.quiet_ms),
            "cues": [{"kind": c["kind"], "onset_ns": c["onset_ms"] * NS_PER_MS,
                      "audible_entity_ns": ns(c["audible_ms"]), "motion_entity_ns": ns(c["motion_ms"])}
                     for c in self.cues()],
            "door_cycles": [{"open_ns": d.open_ms * NS_PER_MS, "opened_ns": d.opened_ms * NS_PER_MS,
                             "closing_ns": d.closing_ms * NS_PER_MS, "slam_ns": d.slam_ms * NS_PER_MS,
                             "actor": d.actor} for d in self.doors],
        }


def _free(busy: list[tuple[int, int]], t0: int, t1: int) -> bool:
    return all(t1 <= b0 or t0 >= b1 for b0, b1 in busy)


def _door(rng: np.random.Generator, open_ms: int, hold: tuple[int, int], actor: str) -> DoorCycle:
    opened = open_ms + int(rng.integers(600, 901))
    closing = opened + int(rng.integers(hold[0], hold[1] + 1))
    return DoorCycle(open_ms, opened, closing, closing + int(rng.integers(300, 401)), actor,
                     round(float(rng.uniform(480.0, 820.0)), 1))


def _audible(d: DoorCycle) -> list[tuple[int, int]]:
    return [(d.open_ms - MARGIN_MS, d.opened_ms + MARGIN_MS),
            (d.closing_ms - MARGIN_MS, d.slam_ms + THUD_MS + MARGIN_MS)]


def _call(rng: np.random.Generator, kind: str, t0: int, night: bool) -> Call:
    if kind == "distress":
        return Call(kind, t0, t0 + int(rng.integers(2500, 3301)),
                    round(float(rng.uniform(260.0, 320.0)), 1), 0.6)
    return Call(kind, t0, t0 + int(rng.integers(500, 1401)), round(float(rng.uniform(110.0, 180.0)), 1),
                round(float(rng.uniform(0.2, 0.3) if night else rng.uniform(0.22, 0.35)), 3))


TRIES = 10_000  # random placements before a seed is declared to leave no room


def _no_room(seed: int, entity: EntityPlan, what: str) -> ValueError:
    return ValueError(f"seed {seed}: no room for {what} in {entity.entity_id}'s scene; choose another seed")


@lru_cache(maxsize=16)
def plan_scene(seed: int, entity_index: int) -> Scene:
    """The stall-day's cues, drawn from ``rng_for(seed, "scene/<entity_id>")`` only."""
    entity: EntityPlan = ENTITIES[entity_index]
    rng = rng_for(seed, f"scene/{entity.entity_id}")
    sparse = entity.index == SPARSE_ENTITY
    night = entity.lighting == "night"
    people = entity.caretakers
    lo, hi = AV_WINDOW_MS

    doors: list[DoorCycle] = []
    n_av = 1 if sparse else 3
    seg = (hi - lo - 9000) // n_av
    for k in range(n_av):
        doors.append(_door(rng, lo + 500 + k * seg + int(rng.integers(0, seg - 6500)), (2000, 4500),
                           people[k % len(people)]))
    busy = [span for d in doors for span in _audible(d)]
    for _ in range(TRIES):
        q0 = int(rng.integers(8000, 30000))
        if _free(busy, q0 - MARGIN_MS, q0 + QUIET_MS + MARGIN_MS):
            break
    else:
        raise _no_room(seed, entity, "the quiet gap")
    quiet = (q0, q0 + QUIET_MS)
    busy.append((q0 - MARGIN_MS, q0 + QUIET_MS + MARGIN_MS))

    calls: list[Call] = []
    for _ in range(entity.distress_calls):
        for _ in range(TRIES):
            c = _call(rng, "distress", int(rng.integers(6000, 26000)), night)
            if _free(busy, c.t0_ms - MARGIN_MS, c.t1_ms + MARGIN_MS):
                break
        else:  # a crowded scene: the first free slot anywhere in the clips' window, scanning in 100 ms steps
            c = next((x for t in range(lo, hi - 1500, 100)
                      if _free(busy, (x := _call(rng, "distress", t, night)).t0_ms - MARGIN_MS, x.t1_ms + MARGIN_MS)),
                     None)  # type: ignore[assignment]
            if c is None:
                raise _no_room(seed, entity, "a distress call")
        calls.append(c)
        busy.append((c.t0_ms - MARGIN_MS, c.t1_ms + MARGIN_MS))
    if sparse:
        for _ in range(TRIES):
            if len(calls) >= 2:
                break
            c = _call(rng, "call", int(rng.integers(lo, hi - 1500)), night)
            if _free(busy, c.t0_ms - MARGIN_MS, c.t1_ms + MARGIN_MS):
                calls.append(c)
                busy.append((c.t0_ms - MARGIN_MS, c.t1_ms + MARGIN_MS))
        else:
            raise _no_room(seed, entity, "the sparse entity's calls")
    else:  # fill the free time with calls, a short breath apart
        t = lo
        while True:
            t += int(rng.integers(250, 1000))
            inside = [b1 for b0, b1 in busy if b0 <= t < b1]  # busy spans carry their margins
            if inside:
                t = max(inside)
                continue
            room = min([b0 for b0, _ in busy if b0 >= t] + [hi]) - t
            if room < 500:
                if t + room + MARGIN_MS >= hi:
                    break
                t += room
                continue
            c = _call(rng, "call", t, night)
            c = Call(c.kind, c.t0_ms, min(c.t1_ms, t + room), c.f0_hz, c.level)
            calls.append(c)
            t = c.t1_ms

    if not sparse:  # more cycles before and after the clips, seen by the logger and the log
        t = -3000 - int(rng.integers(15000, 30000))
        before: list[DoorCycle] = []
        while t > DOOR_SPAN_MS[0]:
            before.append(_door(rng, t, (3000, 14000), people[len(before) % len(people)]))
            t -= int(rng.integers(28000, 48000))
        doors += [d for d in before if d.slam_ms < -2000]
        t = hi + int(rng.integers(6000, 15000))
        while True:
            d = _door(rng, t, (3000, 14000), people[(len(doors) + 1) % len(people)])
            if d.slam_ms > DOOR_SPAN_MS[1]:
                break
            doors.append(d)
            t = d.slam_ms + int(rng.integers(18000, 40000))
    return Scene(entity.entity_id, tuple(sorted(calls, key=lambda c: c.t0_ms)),
                 tuple(sorted(doors, key=lambda d: d.open_ms)), quiet, sparse)


def raised_cosine(t: np.ndarray, t0: float, t1: float, attack: float, release: float) -> np.ndarray:
    """Raised-cosine fade in over ``attack`` and out over ``release``; 0 outside [t0, t1)."""
    up = np.clip((t - t0) / attack, 0.0, 1.0)
    down = np.clip((t1 - t) / release, 0.0, 1.0)
    e = np.minimum(up, down)
    return np.asarray(0.5 - 0.5 * np.cos(np.pi * e))


def door_opening(u: np.ndarray) -> np.ndarray:
    """Door fraction over an opening swing at ``u`` (0 at ``open``, 1 at ``opened``).

    The door is yanked open: the panel leaves the frame at full speed and slows to a stop, and
    the doorway it uncovers (``1 - cos(angle)``, the light let in) grows fastest at once rather
    than only once the panel has turned.
    """
    full = 1.0 - np.cos(DOOR_MAX_ANGLE)
    uncovered = 1.0 - (1.0 - np.clip(u, 0.0, 1.0)) ** 3
    return np.asarray(np.arccos(1.0 - uncovered * full) / DOOR_MAX_ANGLE)


def door_fraction(scene: Scene | None, t: np.ndarray) -> np.ndarray:
    """How far the door is open (0 shut, 1 fully open) at entity times ``t`` (seconds)."""
    phi = np.zeros(len(t))
    if scene is None:
        return phi
    for d in scene.doors:
        o, od, c, s = (x / 1000.0 for x in (d.open_ms, d.opened_ms, d.closing_ms, d.slam_ms))
        if t[-1] < o or t[0] >= s:
            continue
        u = np.clip((t - o) / (od - o), 0.0, 1.0)
        rising = door_opening(u)
        v = np.clip((t - c) / (s - c), 0.0, 1.0)
        falling = 1.0 - v  # pushed shut: swings at once at full speed and stops dead on the frame
        phi = np.where((t >= o) & (t < s), np.minimum(rising, falling), phi)
    return phi


def call_motion(scene: Scene | None, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(head lift 0..~1.4, body rock -1..1) of the calling animal at entity times ``t`` (s).

    A call starts with a jerk: the head snaps up and the body jolts within ``CALL_JERK_S`` of the
    call's onset (the animal draws breath as the sound starts), then the body sways slowly back
    and the head bobs a little while the call lasts, and the head sinks back slowly as it ends.
    The onset is the largest, most sudden change of the call, as with a real animal.
    """
    lift, rock = np.zeros(len(t)), np.zeros(len(t))
    if scene is None:
        return lift, rock
    for c in scene.calls:
        t0, t1 = c.t0_ms / 1000.0, c.t1_ms / 1000.0
        if t[-1] < t0 or t[0] >= t1:
            continue
        release = min(0.3, 0.4 * (t1 - t0))
        env = raised_cosine(t, t0, t1, CALL_JERK_S, release)
        tau = np.maximum(t - t0, 0.0)
        gain = 1.4 if c.kind == "distress" else 1.0
        lift += gain * env * (0.8 + 0.2 * np.exp(-tau / 0.6) + 0.1 * np.sin(2.0 * np.pi * 2.2 * tau))
        rock += env * (0.8 * np.exp(-tau / 0.5) + 0.1 * np.sin(2.0 * np.pi * 3.1 * tau))
    return lift, rock
