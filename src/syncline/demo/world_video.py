"""Stall camera clips: a barn pen with an animal and a door, by day or under infrared at night.

Frames are rendered from *entity* time (so a drifting camera really shows the scene at the
drifted instants); a frame stamped at local time ``t`` is exposed over ``[t, t + 1/fps]`` and
shows the scene at the middle of its exposure. The animal shuffles slowly; each call of the scene (``world_scene``) is a
head jerk and body rock from the call's onset to its end, and each door swing turns the door
panel in the back wall, uncovering the bright yard behind it (large motion). Under the
infrared light at night the animal's coat shows bright against the darker pen. Then capture
defects are planted on frame ranges: black (feed lost), frozen (repeated frame) and blurred
(box blur). Rendering is vectorised over chunks of frames.

Which clip gets which defect is either the fixed table ``PLANTED_DEFECTS`` (the default world,
which tests pin exactly) or drawn per clip from planting rates (``generate_world(rates=...)``),
so an audit can be scored on a world nobody tuned it on. Drawn plantings use their own
generator (``rng_for(seed, "planting/<path>")``): the rendered scene is the same either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syncline.demo.world_encode import encode_h264
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
from syncline.demo.world_scene import DOOR_MAX_ANGLE, Scene, call_motion, door_fraction, plan_scene
from syncline.timebase import NS_PER_S


@dataclass(frozen=True)
class CameraSpec:
    camera: str
    device: str
    view: str  # wide | close
    width: int
    height: int
    fps: int
    seconds: int
    start_s: tuple[float, float]  # range of the true start on the entity timeline
    door: tuple[float, float, float, float]  # doorway x0, x1, y0, y1 (fractions of the frame)


CAMERAS = {
    "cam1": CameraSpec("cam1", "FarmCam W200", "wide", 320, 240, 8, 30, (0.2, 1.5),
                       (0.66, 0.84, 0.08, 0.47)),
    "cam2": CameraSpec("cam2", "FarmCam Z50", "close", 256, 192, 10, 24, (1.0, 3.0),
                       (0.03, 0.22, 0.0, 0.34)),
}
DEFECT_SECONDS = {"black": 1.5, "frozen": 3.0, "blurred": 2.0}
PLANTED_DEFECTS: dict[tuple[int, str], tuple[str, ...]] = {
    (0, "cam1"): ("black", "blurred"),
    (1, "cam2"): ("frozen",),
    (3, "cam1"): ("black",),
    (4, "cam1"): ("frozen", "blurred"),
    (5, "cam1"): ("blurred",),
}
DEFECT_KINDS = ("black", "frozen", "blurred")
DRAWN_LENGTH = (0.5, 1.5)  # drawn defects last this range of times DEFECT_SECONDS
BLUR_RADIUS = 5
VIDEO_DRIFTS_PPM = (0.0, 0.0, -35.0, 45.0, 60.0)
_CHUNK = 48
MID_EXPOSURE = 0.5  # a frame stamped at t is exposed over [t, t + 1/fps]: it shows its middle
_BODY = np.array([96.0, 62.0, 40.0], dtype=np.float32)
IR_COAT = 70.0  # grey levels the animal's coat stands out under the infrared light at night
_PATCH = np.array([232.0, 230.0, 222.0], dtype=np.float32)
_DOOR = np.array([84.0, 56.0, 34.0], dtype=np.float32)
_YARD = {"day": np.array([226.0, 232.0, 240.0], dtype=np.float32),  # daylight
         "night": np.array([205.0, 200.0, 170.0], dtype=np.float32)}  # the floodlit yard
NOISE_STD = {"day": 2.5, "night": 8.0}


def _background(spec: CameraSpec, rng: np.random.Generator) -> np.ndarray:
    """A static pen: wooden wall with grain, posts and a rail, a straw floor. (H, W, 3) float."""
    h, w = spec.height, spec.width
    y = (np.arange(h, dtype=np.float32) / h)[:, None]
    x = (np.arange(w, dtype=np.float32) / w)[None, :]
    horizon = 0.42 if spec.view == "wide" else 0.3
    grain = 0.85 + 0.15 * np.sin(x * 90.0 + 4.0 * np.sin(y * 11.0))
    wall = np.array([128.0, 94.0, 62.0], dtype=np.float32) * grain[..., None]
    speckle = rng.normal(0.0, 1.0, (h // 8 + 1, w // 8 + 1)).astype(np.float32)
    speckle = np.repeat(np.repeat(speckle, 8, axis=0), 8, axis=1)[:h, :w]
    floor = np.array([206.0, 176.0, 104.0], dtype=np.float32) * (0.75 + 0.25 * y + 0.04 * speckle)[..., None]
    img = np.where((y < horizon)[..., None], wall, floor)
    n_posts = 6 if spec.view == "wide" else 3
    post_w = 1.0 / (7.0 * n_posts)
    posts = ((x * n_posts) % 1.0) < post_w * n_posts
    rail = np.abs(y - horizon * 0.55) < 0.025
    img = np.where((posts | rail)[..., None] & (y < horizon + 0.1)[..., None],
                   np.array([70.0, 50.0, 35.0], dtype=np.float32), img)
    return np.asarray(img, dtype=np.float32)


def _motion(t: np.ndarray, phase: float, view: str) -> tuple[np.ndarray, np.ndarray]:
    """Animal centre (fractions of width/height) at entity time t: a slow shuffle, no turns."""
    amp = 0.2 if view == "wide" else 0.12
    cx = 0.5 + amp * np.sin(2.0 * np.pi * t / 41.0 + phase)
    cy = (0.7 if view == "wide" else 0.62) + 0.03 * np.sin(2.0 * np.pi * t / 29.0 + 2.0 * phase)
    return cx, cy


def _draw_door(img: np.ndarray, spec: CameraSpec, lighting: str, phi: np.ndarray) -> None:
    """The door panel, hinged on its left edge, turned by ``phi`` (0 shut .. 1 open), in place."""
    h, w = spec.height, spec.width
    x0, x1, y0, y1 = (int(round(f * n)) for f, n in zip(spec.door, (w, w, h, h), strict=True))
    xx = np.arange(x1 - x0, dtype=np.float32)[None, None, :]
    theta = (phi * DOOR_MAX_ANGLE).astype(np.float32)
    pw = (x1 - x0) * np.cos(theta)[:, None, None] + 1e-3
    u = xx / pw  # where along the (foreshortened) panel each column is
    panel = u < 1.0
    plank = ((u * 5.0) % 1.0) < 0.1
    shade = (1.0 - 0.35 * np.sin(theta))[:, None, None, None]
    yy = np.arange(y1 - y0, dtype=np.float32)[None, :, None] / max(y1 - y0, 1)
    yard = _YARD[lighting] * (0.9 + 0.1 * yy)[..., None]
    col = np.where(plank[..., None], _DOOR * 0.6, _DOOR) * shade
    region = np.where(panel[..., None], col, yard)
    img[:, y0:y1, x0:x1] = np.broadcast_to(region, (len(phi), y1 - y0, x1 - x0, 3))


def render_frames(spec: CameraSpec, lighting: str, t_entity_s: np.ndarray,
                  rng: np.random.Generator, scene: Scene | None = None,
                  boxes: np.ndarray | None = None) -> np.ndarray:
    """(N, H, W, 3) uint8 frames of the pen at the given entity times (seconds); with a scene,
    the animal moves with its calls and the door swings with its door cycles. ``boxes``, an
    (N, 4) array, receives the animal's exact pixel box per frame (x0, y0, x1, y1 as fractions
    of the frame, the end exclusive): the truth a locator is scored on."""
    h, w, n = spec.height, spec.width, len(t_entity_s)
    bg = _background(spec, rng)
    yy = np.arange(h, dtype=np.float32)[None, :, None]
    xx = np.arange(w, dtype=np.float32)[None, None, :]
    a = w * (0.16 if spec.view == "wide" else 0.3)
    b = a * 0.55
    night = lighting == "night"
    noise = rng.normal(0.0, NOISE_STD[lighting], (8, h, w)).astype(np.float32)
    vignette = 1.0 - 0.45 * (((yy[0] / h - 0.5) ** 2) + ((xx[0] / w - 0.5) ** 2))
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    phase = float(rng.uniform(0.0, 2.0 * np.pi))
    facing = 1.0 if rng.random() < 0.5 else -1.0
    lift_all, rock_all = call_motion(scene, np.asarray(t_entity_s, dtype=np.float64))
    phi_all = door_fraction(scene, np.asarray(t_entity_s, dtype=np.float64))
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for s in range(0, n, _CHUNK):
        t = t_entity_s[s:s + _CHUNK]
        m = len(t)
        lift, rock = lift_all[s:s + m], rock_all[s:s + m]
        fx, fy = _motion(t, phase, spec.view)
        cx = (fx * w + rock * 0.06 * w).astype(np.float32)[:, None, None]
        cy = (fy * h + np.abs(rock) * 0.04 * b).astype(np.float32)[:, None, None]
        hx = (cx[:, 0, 0] + facing * a * (0.95 + 0.18 * lift)).astype(np.float32)[:, None, None]
        hy = (cy[:, 0, 0] - b * (0.35 + 0.8 * lift)).astype(np.float32)[:, None, None]
        top = int(max(np.floor(float((hy - 0.45 * b).min())) - 1, 0))
        bottom = int(min(np.ceil(float((cy + b).max())) + 1, h))
        yb = yy[:, top:bottom]  # only the rows the animal can reach
        body = ((xx - cx) / a) ** 2 + ((yb - cy) / b) ** 2 < 1.0
        head = ((xx - hx) / (0.32 * a)) ** 2 + ((yb - hy) / (0.45 * b)) ** 2 < 1.0
        patch = body & (((xx - cx + facing * 0.25 * a) / (0.35 * a)) ** 2
                        + ((yb - cy + 0.1 * b) / (0.5 * b)) ** 2 < 1.0)
        img: np.ndarray = np.broadcast_to(bg, (m, h, w, 3)).copy()
        _draw_door(img, spec, lighting, phi_all[s:s + m])
        band = img[:, top:bottom]
        band[body | head] = _BODY
        if boxes is not None:
            animal = body | head
            cols, rows = animal.any(axis=1), animal.any(axis=2)
            boxes[s:s + m, 0] = cols.argmax(axis=1) / w
            boxes[s:s + m, 2] = (w - cols[:, ::-1].argmax(axis=1)) / w
            boxes[s:s + m, 1] = (top + rows.argmax(axis=1)) / h
            boxes[s:s + m, 3] = (top + rows.shape[1] - rows[:, ::-1].argmax(axis=1)) / h
        band[patch] = _PATCH
        if night:
            grey = (img @ luma) * 0.42 + 30.0
            grey *= vignette
            coat = grey[:, top:bottom]  # a view: the coat reflects the IR light
            coat[body | head] += IR_COAT
            img = np.repeat(grey[..., None], 3, axis=3) * np.array([0.97, 1.0, 0.97], dtype=np.float32)
        img += noise[np.arange(s, s + m) % len(noise)][..., None]
        out[s:s + m] = np.clip(img, 0.0, 255.0).astype(np.uint8)
    return out


def box_blur(frames: np.ndarray, radius: int) -> np.ndarray:
    """A separable box blur of (N, H, W, C) frames via cumulative sums (no per-pixel loops)."""
    x: np.ndarray = frames.astype(np.float32)
    k = 2 * radius + 1
    for axis in (1, 2):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius + 1, radius)
        c = np.cumsum(np.pad(x, pad, mode="edge"), axis=axis)
        n = x.shape[axis]
        x = (np.take(c, np.arange(k, k + n), axis=axis) - np.take(c, np.arange(0, n), axis=axis)) / k
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _apply(frames: np.ndarray, kind: str, i0: int, i1: int) -> None:
    """Damage frames ``[i0, i1)`` in place: feed lost, picture repeated, or lens out of focus."""
    if kind == "black":
        frames[i0:i1] = 0
    elif kind == "frozen":
        frames[i0:i1] = frames[i0 - 1]
    else:
        frames[i0:i1] = box_blur(frames[i0:i1], radius=BLUR_RADIUS)


def _plant(frames: np.ndarray, kinds: tuple[str, ...], fps: int,
           rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """Put each defect in its own part of the clip; returns (kind, first, end) frame ranges."""
    n = len(frames)
    seg = n // max(len(kinds), 1)
    planted = []
    for j, kind in enumerate(kinds):
        length = int(round(DEFECT_SECONDS[kind] * fps))
        lo, hi = j * seg + fps, (j + 1) * seg - length - fps
        i0 = int(rng.integers(lo, hi + 1))
        i1 = i0 + length
        _apply(frames, kind, i0, i1)
        planted.append((kind, i0, i1))
    return planted


def _plant_drawn(frames: np.ndarray, rates: Mapping[str, float], fps: int,
                 rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """Each kind with its rate, in a shuffled order, lasting 0.5-1.5x ``DEFECT_SECONDS``.

    Every kind's coin is tossed whatever the others give, so one rate does not shift the draws
    of another. The clip is cut into one part per planted defect and each sits inside its part
    at least a second from the edges: defects never overlap or touch, and a frozen span always
    repeats a live frame.
    """
    kinds = [k for k, u in zip(DEFECT_KINDS, rng.random(len(DEFECT_KINDS)), strict=True) if u < rates[k]]
    order = [kinds[i] for i in rng.permutation(len(kinds))]
    n = len(frames)
    seg = n // max(len(order), 1)
    planted = []
    for j, kind in enumerate(order):
        length = max(1, int(round(float(rng.uniform(*DRAWN_LENGTH)) * DEFECT_SECONDS[kind] * fps)))
        lo, hi = j * seg + fps, (j + 1) * seg - length - fps
        if hi < lo:
            raise ValueError(f"a {kind} defect of {length} frames does not fit a {seg}-frame part of the clip")
        i0 = int(rng.integers(lo, hi + 1))
        _apply(frames, kind, i0, i0 + length)
        planted.append((kind, i0, i0 + length))
    return sorted(planted, key=lambda p: p[1])


def _shown_boxes(boxes: np.ndarray, planted: list[tuple[str, int, int]], fps: int) -> list[list[float] | None]:
    """Per second of the clip, the animal's box (x0, y0, x1, y1, fractions) on the frame nearest
    the middle of the second (the frame the per-second encoders see), as the clip shows it: none
    while the feed is black, the repeated frame's while it is frozen."""
    shown: list[list[float] | None] = [[round(float(v), 4) for v in b] for b in boxes]
    for kind, i0, i1 in planted:
        for i in range(i0, min(i1, len(shown))):
            shown[i] = None if kind == "black" else shown[i0 - 1] if kind == "frozen" else shown[i]
    return [shown[i] for i in range(fps // 2, len(shown), fps)]


def _visible_cues(scene: Scene, clock: PlannedClock, duration_ns: int, fps: int) -> list[dict[str, object]]:
    """The scene's cues whose motion lies wholly inside the clip, with the frames that show
    them: frames ``[i0, i1)`` are those whose instant (mid-exposure) falls in the motion span."""
    out: list[dict[str, object]] = []
    for c in scene.cues():
        m0, m1 = (ms * NS_PER_MS for ms in c["motion_ms"])
        l0, l1 = clock.to_local(m0), clock.to_local(m1)
        if l0 < 0 or l1 > duration_ns:
            continue
        half = NS_PER_S // (2 * fps)  # frame i shows the instant i / fps + half a frame
        i0, i1 = -(-(l0 - half) * fps // NS_PER_S), -(-(l1 - half) * fps // NS_PER_S)
        out.append({"kind": c["kind"], "onset_ns": m0, "frames": [i0, i1],
                    "entity_ns": [m0, m1], "local_ns": [l0, l1]})
    return out


def make_video(root: Path, seed: int, entity: EntityPlan, camera: str,
               rates: Mapping[str, float] | None = None) -> AssetOut:
    """One camera clip; defects from ``PLANTED_DEFECTS``, or drawn with ``rates`` when given."""
    spec = CAMERAS[camera]
    rel = f"data/video/{entity.entity_id}_{camera}.mp4"
    rng = rng_for(seed, rel)
    drift = float(rng.choice(VIDEO_DRIFTS_PPM))
    clock: PlannedClock = draw_clock(rng, start_s=spec.start_s, drift_ppm=drift, max_error_ms=5000)
    n = spec.fps * spec.seconds
    frame_ns = NS_PER_S // spec.fps
    t_entity = clock.entity_seconds((np.arange(n, dtype=np.float64) + MID_EXPOSURE) / spec.fps)
    scene = plan_scene(seed, entity.index)
    boxes = np.zeros((n, 4))
    frames = render_frames(spec, entity.lighting, t_entity, rng, scene, boxes=boxes)
    if rates is None:
        planted = _plant(frames, PLANTED_DEFECTS.get((entity.index, camera), ()), spec.fps, rng)
    else:
        planted = _plant_drawn(frames, rates, spec.fps, rng_for(seed, f"planting/{rel}"))
    encode_h264(frames, spec.fps, root / rel, crf=31 if entity.lighting == "night" else 27)
    defects = [
        {"kind": kind, "frames": [i0, i1], **span_truth(clock, i0 * frame_ns, i1 * frame_ns)}
        for kind, i0, i1 in planted
    ]
    truth = {
        "entity_id": entity.entity_id,
        "modality": "video",
        "camera": camera,
        "view": spec.view,
        "lighting": entity.lighting,
        "clock": clock.truth(),
        "video": {
            "codec": "h264", "container": "mp4", "width": spec.width, "height": spec.height,
            "fps": spec.fps, "frame_count": n, "duration_ns": n * frame_ns, "has_audio": False,
        },
        "defects": defects,
        "cues": _visible_cues(scene, clock, n * frame_ns, spec.fps),
        "animal_boxes": _shown_boxes(boxes, planted, spec.fps),
    }
    return AssetOut(
        path=rel, modality="video", entity_id=entity.entity_id, device=spec.device,
        camera=camera, context={"lighting": entity.lighting, "location": entity.location,
                                "view": spec.view},
        start_time=iso_from_ns(entity.start_ns + clock.nominal_offset_ns), truth=truth,
    )
