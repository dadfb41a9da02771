"""Stall camera clips: a barn pen with a moving animal, by day or under infrared at night.

Frames are rendered from *entity* time (so a drifting camera really shows the scene at the
drifted instants), then capture defects are planted on frame ranges: black (feed lost), frozen
(repeated frame) and blurred (box blur). Rendering is vectorised over chunks of frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from syncline.demo.world_encode import encode_h264
from syncline.demo.world_plan import (
    AssetOut,
    EntityPlan,
    PlannedClock,
    draw_clock,
    iso_from_ns,
    rng_for,
    span_truth,
)
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


CAMERAS = {
    "cam1": CameraSpec("cam1", "FarmCam W200", "wide", 320, 240, 8, 30, (0.2, 1.5)),
    "cam2": CameraSpec("cam2", "FarmCam Z50", "close", 256, 192, 10, 24, (1.0, 3.0)),
}
DEFECT_SECONDS = {"black": 1.5, "frozen": 3.0, "blurred": 2.0}
PLANTED_DEFECTS: dict[tuple[int, str], tuple[str, ...]] = {
    (0, "cam1"): ("black", "blurred"),
    (1, "cam2"): ("frozen",),
    (3, "cam1"): ("black",),
    (4, "cam1"): ("frozen", "blurred"),
    (5, "cam1"): ("blurred",),
}
VIDEO_DRIFTS_PPM = (0.0, 0.0, -35.0, 45.0, 60.0)
_CHUNK = 48
_BODY = np.array([96.0, 62.0, 40.0], dtype=np.float32)
_PATCH = np.array([232.0, 230.0, 222.0], dtype=np.float32)


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


def _motion(t: np.ndarray, phase: float, view: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Animal centre (fractions of width/height) and facing (+1 right, -1 left) at entity time t."""
    amp = 0.28 if view == "wide" else 0.18
    arg = 2.0 * np.pi * t / 13.0 + phase
    cx = 0.5 + amp * np.sin(arg)
    cy = (0.7 if view == "wide" else 0.62) + 0.05 * np.sin(2.0 * np.pi * t / 9.0 + 2.0 * phase)
    facing = np.where(np.cos(arg) >= 0.0, 1.0, -1.0)
    return cx, cy, facing


def render_frames(spec: CameraSpec, lighting: str, t_entity_s: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """(N, H, W, 3) uint8 frames of the pen at the given entity times (seconds)."""
    h, w, n = spec.height, spec.width, len(t_entity_s)
    bg = _background(spec, rng)
    yy = np.arange(h, dtype=np.float32)[None, :, None]
    xx = np.arange(w, dtype=np.float32)[None, None, :]
    a = w * (0.13 if spec.view == "wide" else 0.3)
    b = a * 0.55
    night = lighting == "night"
    noise = rng.normal(0.0, 7.0 if night else 2.5, (8, h, w)).astype(np.float32)
    vignette = 1.0 - 0.45 * (((yy[0] / h - 0.5) ** 2) + ((xx[0] / w - 0.5) ** 2))
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    phase = float(rng.uniform(0.0, 2.0 * np.pi))
    out = np.empty((n, h, w, 3), dtype=np.uint8)
    for s in range(0, n, _CHUNK):
        t = t_entity_s[s:s + _CHUNK]
        m = len(t)
        fx, fy, facing = _motion(t, phase, spec.view)
        cx, cy, fc = (v.astype(np.float32)[:, None, None] for v in (fx * w, fy * h, facing))
        body = ((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 < 1.0
        head = ((xx - cx - fc * a * 0.95) / (0.32 * a)) ** 2 + ((yy - cy + 0.35 * b) / (0.45 * b)) ** 2 < 1.0
        patch = body & (((xx - cx + fc * 0.25 * a) / (0.35 * a)) ** 2 + ((yy - cy + 0.1 * b) / (0.5 * b)) ** 2 < 1.0)
        img: np.ndarray = np.broadcast_to(bg, (m, h, w, 3)).copy()
        img[body | head] = _BODY
        img[patch] = _PATCH
        if night:
            grey = (img @ luma) * 0.42 + 30.0
            grey *= vignette
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
        if kind == "black":
            frames[i0:i1] = 0
        elif kind == "frozen":
            frames[i0:i1] = frames[i0 - 1]
        else:
            frames[i0:i1] = box_blur(frames[i0:i1], radius=5)
        planted.append((kind, i0, i1))
    return planted


def make_video(root: Path, seed: int, entity: EntityPlan, camera: str) -> AssetOut:
    spec = CAMERAS[camera]
    rel = f"data/video/{entity.entity_id}_{camera}.mp4"
    rng = rng_for(seed, rel)
    drift = float(rng.choice(VIDEO_DRIFTS_PPM))
    clock: PlannedClock = draw_clock(rng, start_s=spec.start_s, drift_ppm=drift)
    n = spec.fps * spec.seconds
    frame_ns = NS_PER_S // spec.fps
    t_entity = clock.entity_seconds(np.arange(n, dtype=np.float64) / spec.fps)
    frames = render_frames(spec, entity.lighting, t_entity, rng)
    planted = _plant(frames, PLANTED_DEFECTS.get((entity.index, camera), ()), spec.fps, rng)
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
    }
    return AssetOut(
        path=rel, modality="video", entity_id=entity.entity_id, device=spec.device,
        camera=camera, context={"lighting": entity.lighting, "location": entity.location,
                                "view": spec.view},
        start_time=iso_from_ns(entity.start_ns + clock.nominal_offset_ns), truth=truth,
    )
