"""The pictures an image or video encoder sees: an image's pixels, or one frame per second of a
video — the frame nearest the middle of each second — decoded once and streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from syncline.media.video import video_frames

NS = 1_000_000_000


def image_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def per_second_frames(path: Path) -> Iterator[tuple[int, np.ndarray]]:
    """(start of the second in local ns, RGB frame) for every second that has a frame, in order.

    Frames come in presentation order, so a second is complete as soon as the next one begins;
    only the best candidate of the current second is kept in memory.
    """
    current: int | None = None
    best: tuple[int, np.ndarray] | None = None
    for t, frame in video_frames(path):
        if t is None:
            continue
        sec, dist = t // NS, abs(t % NS - NS // 2)
        if sec != current:
            if current is not None and best is not None:
                yield current * NS, best[1]
            current, best = sec, None
        if best is None or dist < best[0]:
            best = (dist, frame.to_ndarray(format="rgb24"))
    if current is not None and best is not None:
        yield current * NS, best[1]
