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
CHUNK_PIXELS = 1 << 18  # luma samples per step of the statistics: its float32 copies fit the CPU cache
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


def _luma(frame: Any, eight_bit: bool) -> NDArray[np.uint8]:
    """The Y plane of an 8-bit planar YUV frame without a colour conversion (a view of the
    decoder's buffer); anything else (10-bit HDR video, RGB) through a conversion to 8-bit grey."""
    if eight_bit:
        plane = frame.planes[0]
        y = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
        return y[:, :frame.width]
    return np.asarray(frame.to_ndarray(format="gray"), np.uint8)


def _batch_stats(x8: NDArray[np.uint8], previous: NDArray[np.float32] | None) -> tuple[list[F32], F32]:
    """Statistics of a batch of luma planes already cut to every second pixel of every second row
    (the defects are frame-wide, and a quarter of the pixels costs a quarter of the time).

    A few frames at a time, in buffers made once per batch, so that the float copies stay in the
    CPU cache and no operator allocates (fresh megabyte temporaries cost page faults, more than
    the arithmetic). Every statistic is per frame, so the split changes no value, and every float
    statistic is the same NumPy reduction over the same float32 values as a plain expression
    gives (the same bits); the grey-level shares are counted on the bytes."""
    n, h, w = x8.shape
    step = min(n, max(1, CHUNK_PIXELS // max(1, h * w)))
    x = np.empty((step, h, w), np.float32)
    work = np.empty((step, h, w), np.float32)
    lap = np.empty((step, max(h - 2, 0), max(w - 2, 0)), np.float32)
    below = np.empty((step, h * w), bool)
    out = np.empty((6, n), np.float32)
    for a in range(0, n, step):
        k = min(step, n - a)
        out[:, a:a + k] = _chunk_stats(x8[a:a + k], previous, x[:k], work[:k], lap[:k], below[:k])
        previous = x[k - 1].copy()  # the buffer is refilled by the next step
    return list(out), x8[-1].astype(np.float32)


def _chunk_stats(x8: NDArray[np.uint8], previous: NDArray[np.float32] | None, x: F32, work: F32, lap: F32,
                 mask: NDArray[np.bool_]) -> list[NDArray[np.floating[Any]]]:
    """The six statistics of a few frames, in the buffers given (``x`` becomes the float frames)."""
    n = x8.shape[0]
    np.copyto(x, x8)
    flat = x.reshape(n, -1)
    pixels = np.intp(flat.shape[1])
    mean = flat.mean(axis=1)
    squares = np.multiply(flat, flat, out=work.reshape(n, -1))
    std = np.sqrt(np.maximum(squares.mean(axis=1) - mean * mean, 0.0))
    grey = x8.reshape(n, -1)
    dark = np.count_nonzero(np.less(grey, DARK, out=mask), axis=1) / pixels
    bright = np.count_nonzero(np.greater(grey, BRIGHT, out=mask), axis=1) / pixels
    np.multiply(x[:, 1:-1, 1:-1], 4, out=lap)
    for side in (x[:, :-2, 1:-1], x[:, 2:, 1:-1], x[:, 1:-1, :-2], x[:, 1:-1, 2:]):
        lap -= side
    sharp = _var_rows(lap.reshape(n, -1))
    np.subtract(x[1:], x[:-1], out=work[1:])
    np.subtract(x[0], previous if previous is not None else np.float32(np.nan), out=work[0])
    np.abs(work, out=work)
    change = work.reshape(n, -1).mean(axis=1)
    return [mean, std, dark, bright, sharp, change]


def _var_rows(a: F32) -> F32:
    """``a.var(axis=1)`` step by step as NumPy computes it, but in place in ``a`` (spent)."""
    count = np.intp(a.shape[1])
    mean = np.add.reduce(a, axis=1, keepdims=True)
    np.true_divide(mean, count, out=mean, casting="unsafe")
    np.subtract(a, mean, out=a)
    np.square(a, out=a)
    var: F32 = np.add.reduce(a, axis=1)
    return np.true_divide(var, count, out=var, casting="unsafe")


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
            previous = batch[-1].astype(np.float32)  # what the next batch's first change needs
            pts += times
            frame_ns = rate_ns
        done = [f.result() for f in pending]
    if not pts:
        raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(Path(path))}: no video frame decoded")
    arrays = [np.concatenate([d[0][i] for d in done]).astype(np.float32) for i in range(6)]
    return FrameStats(np.asarray(pts, np.int64), frame_ns, *arrays)


def _batches(path: Path, threads: int | None = None) -> Iterator[tuple[NDArray[np.uint8], list[int], int]]:
    """Batches of up to ``BATCH`` luma planes, every second pixel of every second row, copied
    straight out of the decoder's buffers into the batch; with each frame's time in ns."""
    with open_av(path) as container:
        stream: Any = next((s for s in container.streams if s.type == "video"), None)
        if stream is None:
            raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(path)} has no video stream")
        stream.thread_type = "AUTO"
        if threads:
            stream.codec_context.thread_count = threads
        rate = stream.average_rate or stream.guessed_rate
        frame_ns = int(round(1e9 / float(rate))) if rate else 0
        time_base = stream.time_base
        batch: NDArray[np.uint8] | None = None
        times: list[int] = []
        for frame in container.decode(stream):
            y = _luma(frame, frame.format.name in EIGHT_BIT_PLANAR)[::2, ::2]
            if batch is None:
                batch = np.empty((BATCH, *y.shape), np.uint8)
            batch[len(times)] = y
            times.append(to_ns(frame.pts, time_base) or 0)
            if len(times) == BATCH:
                yield batch, times, frame_ns
                batch, times = None, []
        if batch is not None:
            yield batch[:len(times)], times, frame_ns


def defect_runs(stats: FrameStats) -> dict[str, list[tuple[int, int]]]:
    """Per defect kind, the frame ranges it covers (runs long enough to matter)."""
    fps = 1e9 / stats.frame_ns if stats.frame_ns else 25.0
    return {kind: runs(flag, int(np.ceil(MIN_RUN_S[kind] * fps))) for kind, flag in stats.flags().items()}
