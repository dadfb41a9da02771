"""The barn's own perception code, plugged in the way a project plugs in its models: two encoders
declared in ``syncline.yaml`` (``python: module:factory``) and two pipeline stages loaded from
``pipeline.yaml`` (``python:module:factory``).

* ``barn-animal-1s@2`` (video) — *locate*: once per second, where the animal is. The pen's
  floor is one straw colour (its median along the bottom rows); what differs from it below the
  wall is an object on the floor, and the largest such blob is the animal. Per second: found
  (0/1), its box (x0, y0, x1, y1 as fractions of the frame), its share of the frame, how much of
  its box it fills, and a 4 x 4 grid of mean brightness inside the box (what the animal looks
  like, wherever it stands). It stands in for the detector a real barn would load (an ONNX
  tower through the same ``encoders:`` list); the demo world records the animal's true box per
  second, which the tests score it on.
* ``barn-temperature-1s@2`` (sensor) — per second, the stall temperature (the median of the
  second's readings, so a single absurd reading does not count), its departure from the
  five-minute running median (of the clock's seconds, not of the rows), and that departure in
  robust standard units (over the whole log, never finer than ``min_scale``, the logger's noise).
* stage ``locate``: passes the animal's box and look on, and *abstains* for a segment where the
  animal was found in too few of its frames (a black feed, an empty pen) — the posture stage
  after it then abstains too, and the trace says that locating failed, not judging posture.
* stage ``temperature``: the probability that the stall is unusually cold or warm for the
  moment (a logistic of the robust departure around ``z0``) — in the demo barn, the draught of
  an open door.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from syncline.pipeline.local import ABSTAIN_KEY, WHY_KEY
from syncline.pipeline.stage import Stage
from syncline.represent.frames import per_second_frames

NS = 1_000_000_000
FLOOR_ROWS = 0.08  # the bottom share of the frame that shows bare floor
WALL_ROW_SHARE = 0.8  # a row this much unlike the floor, from the top down, is wall
MIN_AREA = 0.004  # a blob smaller than this share of the frame is not an animal
GRID = 4
ANIMAL_DIM = 7 + GRID * GRID


def locate_animal(rgb: np.ndarray, max_width: int = 320) -> np.ndarray:
    """One frame's ``ANIMAL_DIM`` vector (all zero when no animal is found). A frame wider than
    ``max_width`` is first averaged down by a whole factor (a 360p frame costs as a 320 px one)."""
    from scipy import ndimage

    k = -(-rgb.shape[1] // max_width)
    if k > 1:
        h, w = rgb.shape[0] // k * k, rgb.shape[1] // k * k
        rgb = rgb[:h, :w].reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))
    img = ndimage.uniform_filter(rgb.astype(np.float32), size=(5, 5, 1))
    h, w, _ = img.shape
    bottom = img[int(h * (1 - FLOOR_ROWS)):].reshape(-1, 3)
    floor = np.median(bottom, axis=0)
    spread = float(np.median(np.linalg.norm(bottom - floor, axis=1)))
    unlike = np.linalg.norm(img - floor, axis=2) > max(25.0, 6.0 * spread)
    wall = np.flatnonzero(unlike.mean(axis=1) <= WALL_ROW_SHARE)
    unlike[: int(wall[0]) if len(wall) else h] = False  # rows unlike the floor from the top down: the wall
    unlike = ndimage.binary_opening(unlike, iterations=2)
    labels, n = ndimage.label(unlike)
    out = np.zeros(ANIMAL_DIM, np.float32)
    if n == 0:
        return out
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    best = int(np.argmax(sizes)) + 1
    if sizes[best - 1] < MIN_AREA * h * w:
        return out
    ys, xs = np.nonzero(labels == best)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    luma = rgb[y0:y1, x0:x1].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    rows, cols = np.linspace(0, y1 - y0, GRID + 1).astype(int), np.linspace(0, x1 - x0, GRID + 1).astype(int)
    grid = [luma[rows[i]:max(rows[i + 1], rows[i] + 1), cols[j]:max(cols[j + 1], cols[j] + 1)].mean() / 255.0
            for i in range(GRID) for j in range(GRID)]
    area = float(sizes[best - 1])
    out[:] = [1.0, x0 / w, y0 / h, x1 / w, y1 / h, area / (h * w), area / ((y1 - y0) * (x1 - x0)), *grid]
    return out


class AnimalLocator:
    """``barn-animal-1s@2``: ``locate_animal`` on the frame nearest the middle of each second.
    (Version 1 located on frames of any width; 2 averages wide ones down to ``max_width``.)"""

    dim = ANIMAL_DIM
    code_version = "2"

    def __init__(self, max_width: int = 320) -> None:
        if int(max_width) < 64:
            raise ValueError(f"max_width must be >= 64 px (got {max_width})")
        self.max_width = int(max_width)

    def encode(self, path: Path) -> tuple[list[int], list[int], np.ndarray]:
        t0, vecs = [], []
        for t, rgb in per_second_frames(path):
            t0.append(t)
            vecs.append(locate_animal(rgb, self.max_width))
        return t0, [t + NS for t in t0], np.stack(vecs) if vecs else np.zeros((0, ANIMAL_DIM), np.float32)


class TemperatureTrend:
    """``barn-temperature-1s@2``: per second, the temperature, its departure from the running
    median over ``window_s`` seconds and the departure in robust standard units. (Version 1 ran
    the median over rows, not seconds.)"""

    dim = 3
    code_version = "2"

    def __init__(self, column: str = "temperature", window_s: int = 300, min_scale: float = 0.03) -> None:
        if int(window_s) < 3 or not float(min_scale) > 0:
            raise ValueError(f"window_s must be >= 3 s and min_scale > 0 (got {window_s}, {min_scale})")
        self.column, self.window_s, self.min_scale = column, int(window_s), float(min_scale)

    def encode(self, path: Path) -> tuple[list[int], list[int], np.ndarray]:
        from numpy.lib.stride_tricks import sliding_window_view

        from syncline.media.sensor import read_sensor

        table = read_sensor(path)
        if self.column not in table.column_names:
            raise ValueError(f"{path.name} has no {self.column!r} column (it has {', '.join(table.column_names[1:])})")
        t = table.column("t_ns").to_numpy()
        v = np.asarray(table.column(self.column).to_numpy(zero_copy_only=False), np.float64)
        sec = (t - t[0]) // NS  # seconds of the file, from its first row
        keep = np.isfinite(v)
        if not keep.any():
            return [], [], np.zeros((0, self.dim), np.float32)
        sec, v = sec[keep], v[keep]
        first = np.flatnonzero(np.r_[True, sec[1:] != sec[:-1]])
        seconds = sec[first]
        per_second = np.array([np.median(part) for part in np.split(v, first[1:])])
        # the running median over window_s seconds of the clock, not of the rows: a slower logger or
        # a gap leaves NaN holes in the grid, and each window takes the medians it has; past the
        # ends the first and last seconds repeat (a one-sided window would lag a slow drift)
        grid = np.full(int(seconds[-1]) + 1, np.nan)
        grid[seconds] = per_second
        width, half = self.window_s, self.window_s // 2  # an even width centres half a second early: noise
        padded = np.concatenate([np.full(half, per_second[0]), grid, np.full(width - 1 - half, per_second[-1])])
        view = sliding_window_view(padded, width)
        step = max(1, (1 << 22) // width)  # ~32 MB of window copies at a time, however long the log
        trend = np.concatenate([np.nanmedian(view[seconds[i:i + step]], axis=1) for i in range(0, len(seconds), step)])
        dev = per_second - trend
        # a quiet log's spread is the logger's noise: departures below min_scale are not news
        scale = max(1.4826 * float(np.median(np.abs(dev - np.median(dev)))), self.min_scale)
        starts = [int(t[0] + s * NS) for s in seconds]
        return starts, [s + NS for s in starts], np.stack([per_second, dev, dev / scale], axis=1).astype(np.float32)


def animal_locator(max_width: int = 320) -> AnimalLocator:
    return AnimalLocator(max_width)


def temperature_trend(column: str = "temperature", window_s: int = 300, min_scale: float = 0.03) -> TemperatureTrend:
    return TemperatureTrend(column, window_s, min_scale)


def locate_stage(name: str, entry: Any, project: Any) -> Stage:
    """``locate``: the animal's box and look (``look``) where it was found in at least
    ``min_found`` of the segment's frames; an abstention elsewhere."""
    min_found = float(entry.params.get("min_found", 0.5))
    source = entry.inputs.get("x", "source.animal")

    def run(x: np.ndarray) -> dict[str, Any]:
        found = x[:, 0]
        seen = found >= min_found
        why = np.array([f"no animal in view (found in {f:.0%} of the frames)" for f in found], object)
        # a segment's vector averages its frames, the not-found ones as zeros: the mean over the
        # frames that found the animal is the mean over all of them divided by the share found
        look = x[:, 1:] / np.maximum(found, 1e-9)[:, None]
        return {"look": look, ABSTAIN_KEY: ~seen, WHY_KEY: why}

    return Stage(name, run, {"x": source}, {"look": "vector"}, role="perception", modalities=("video",),
                 on_missing=entry.on_missing, params={"min_found": min_found})


def temperature_stage(name: str, entry: Any, project: Any) -> Stage:
    """``temperature``: P(normal), P(anomaly) from the robust departure ``|z|`` (logistic around
    ``z0`` with slope ``k``)."""
    z0, k = float(entry.params.get("z0", 2.5)), float(entry.params.get("k", 3.0))
    source = entry.inputs.get("x", "source.sensor")

    def run(x: np.ndarray) -> dict[str, Any]:
        p = 1.0 / (1.0 + np.exp(-k * (np.abs(x[:, 2]) - z0)))
        return {"probabilities": np.stack([1.0 - p, p], axis=1)}

    return Stage(name, run, {"x": source}, {"probabilities": "probabilities"}, role="perception",
                 modalities=("sensor",), on_missing=entry.on_missing,
                 params={"classes": ["normal", "anomaly"], "z0": z0, "k": k})
