"""Video input noise from one decode pass: black, frozen, blurred, over- and under-exposed frames.

Frames are decoded once and only their luma plane is read (straight from the decoder's Y
plane, no colour conversion). Statistics are computed for batches of frames at once:

* (on every second pixel of every second row: the defects are frame-wide)
* mean and standard deviation of luma; fractions of dark (< 32) and bright (> 225) pixels;
* sharpness: the variance of a 4-neighbour Laplacian;
* change: the mean absolute difference to the previous frame.

A frame is *black* when it is dark and flat (mean < 30, std < 6); *frozen* when it repeats the
previous one (change < 0.06 grey levels — sensor noise keeps live video above that, even a
static scene; a single key frame inside a freeze, which re-encodes it, is bridged; an encoder
may refine a repeated noisy picture for a few frames, so a freeze is found that much late);
*blurred* when its sharpness drops below 30 % of the clip's median (the clip is its own
reference: a soft lens is not a defect, a sudden loss of focus is); *over-exposed* when > 40 % of
pixels are bright; *low light* when > 60 % are dark but the frame is not black. Runs shorter than
``MIN_RUN_S`` (frozen: 0.5 s; others 0.25 s) are ignored. The per-frame statistics are kept so
they can become per-segment quality columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from syncline.audit.spans import runs
from syncline.media.decoding import display_name, open_av, to_ns
from syncline.media.types import MediaError, MediaErrorKind

F32 = NDArray[np.float32]
BATCH = 64
DARK, BRIGHT = 32, 225
EIGHT_BIT_PLANAR = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv440p", "yuvj440p",
                    "yuv411p", "yuv410p", "nv12", "nv21", "gray"}  # luma plane = one byte per pixel
FROZEN_CHANGE = 0.06  # grey levels of mean change: a repeated frame decodes to (nearly) itself
MIN_RUN_S = {"frozen": 0.5, "black": 0.25, "blurred": 0.25, "overexposed": 0.25, "low_light": 0.25}


@dataclass(frozen=True)
class FrameStats:
    """Per-frame statistics of one video (arrays of one entry per decoded frame)."""

    pts_ns: NDArray[np.int64]       # asset-local presentation times
    frame_ns: int                   # nominal frame duration
    mean: F32
    std: F32
    dark: F32
    bright: F32
    sharpness: F32
    change: F32                     # NaN for the first frame

    def flags(self) -> dict[str, NDArray[np.bool_]]:
        black = (self.mean < 30) & (self.std < 6)
        ref = float(np.median(self.sharpness[~black])) if (~black).any() else 0.0
        blurred = (self.sharpness < 0.3 * ref) & ~black if ref > 0 else np.zeros_like(black)
        still = (self.change < FROZEN_CHANGE) & ~black & ~blurred  # blur also removes the noise that moves
        still[1:-1] |= still[:-2] & still[2:]  # a key frame inside a freeze re-encodes it once: bridge it
        return {
            "black": black,
            "frozen": still,
            "blurred": blurred,
            "overexposed": self.bright > 0.4,
            "low_light": (self.dark > 0.6) & ~black,
        }


def _luma(frame: Any) -> NDArray[np.uint8]:
    """The Y plane of an 8-bit planar YUV frame without a colour conversion; anything else (10-bit
    HDR video, RGB) through a conversion to 8-bit grey."""
    if frame.format.name in EIGHT_BIT_PLANAR:
        plane = frame.planes[0]
        y = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
        return y[:, :frame.width]
    return np.asarray(frame.to_ndarray(format="gray"), np.uint8)


def _batch_stats(frames: NDArray[np.uint8], previous: NDArray[np.float32] | None) -> tuple[list[F32], F32]:
    """Statistics of a batch of luma planes, on every second pixel of every second row: the
    defects are frame-wide, and a quarter of the pixels costs a quarter of the time."""
    x = frames[:, ::2, ::2].astype(np.float32)
    n = x.shape[0]
    flat = x.reshape(n, -1)
    mean = flat.mean(axis=1)
    std = np.sqrt(np.maximum((flat * flat).mean(axis=1) - mean * mean, 0.0))
    dark, bright = (flat < DARK).mean(axis=1), (flat > BRIGHT).mean(axis=1)
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    sharp = lap.reshape(n, -1).var(axis=1)
    before = np.concatenate([previous[None] if previous is not None else x[:1] * np.nan, x[:-1]])
    change = np.abs(x - before).reshape(n, -1).mean(axis=1)
    return [mean, std, dark.astype(np.float32), bright.astype(np.float32), sharp, change], x[-1]


def frame_stats(path: Path, *, threads: int | None = None) -> FrameStats:
    """Decode ``path`` once and return every frame's statistics (``threads``: decoder threads,
    the codec's choice when None). The statistics of one batch are computed on a worker thread
    while the next batch decodes (NumPy releases the GIL), so on two cores they hide behind
    decoding instead of adding to it."""
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: list[Future[tuple[list[F32], F32]]] = []
    pts: list[int] = []
    previous: NDArray[np.float32] | None = None
    frame_ns = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncline-frame-stats") as pool:
        for batch, times, rate_ns in _batches(Path(path), threads):
            pending.append(pool.submit(_batch_stats, batch, previous))
            previous = batch[-1, ::2, ::2].astype(np.float32)  # what the next batch's first change needs
            pts += times
            frame_ns = rate_ns
        done = [f.result() for f in pending]
    if not pts:
        raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(Path(path))}: no video frame decoded")
    arrays = [np.concatenate([d[0][i] for d in done]).astype(np.float32) for i in range(6)]
    return FrameStats(np.asarray(pts, np.int64), frame_ns, *arrays)


def _batches(path: Path, threads: int | None = None) -> Iterator[tuple[NDArray[np.uint8], list[int], int]]:
    with open_av(path) as container:
        stream: Any = next((s for s in container.streams if s.type == "video"), None)
        if stream is None:
            raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(path)} has no video stream")
        stream.thread_type = "AUTO"
        if threads:
            stream.codec_context.thread_count = threads
        rate = stream.average_rate or stream.guessed_rate
        frame_ns = int(round(1e9 / float(rate))) if rate else 0
        buf: list[NDArray[np.uint8]] = []
        times: list[int] = []
        for frame in container.decode(stream):
            buf.append(_luma(frame).copy())
            times.append(to_ns(frame.pts, stream.time_base) or 0)
            if len(buf) == BATCH:
                yield np.stack(buf), times, frame_ns
                buf, times = [], []
        if buf:
            yield np.stack(buf), times, frame_ns


def defect_runs(stats: FrameStats) -> dict[str, list[tuple[int, int]]]:
    """Per defect kind, the frame ranges it covers (runs long enough to matter)."""
    fps = 1e9 / stats.frame_ns if stats.frame_ns else 25.0
    return {kind: runs(flag, int(np.ceil(MIN_RUN_S[kind] * fps))) for kind, flag in stats.flags().items()}
