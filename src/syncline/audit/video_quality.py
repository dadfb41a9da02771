"""Video input noise from one decode pass: black, frozen, blurred, over- and under-exposed frames.

Frames are decoded once and only their luma plane is read (straight from the decoder's Y
plane, no colour conversion), in batches; their statistics come from OpenCV's vectorised
kernels, on every second pixel of every second row (the defects are frame-wide):

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

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from syncline.audit.spans import runs
from syncline.media.decoding import display_name, open_av, to_ns
from syncline.media.types import MediaError, MediaErrorKind

F32 = NDArray[np.float32]
BATCH = 64  # frames per batch at most...
BATCH_PIXELS = 1 << 22  # ...and quarter-luma pixels per batch at most (1080p: 8 frames; 4K: 2)
RING = 3  # batch buffers in turn: decoding runs at most this far ahead of the statistics
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


def _quarter_luma(frame: Any, eight_bit: bool, out: NDArray[np.uint8]) -> None:
    """Every second pixel of every second row of the frame's luma into ``out``. For 8-bit planar
    YUV straight from the decoder's Y plane (no colour conversion): each row's bytes read as
    little-endian pairs, whose low byte is the even pixel, so the cut is one contiguous cast
    per row instead of a copy with a stride in both directions (twice as fast, the same bytes);
    anything else (10-bit HDR video, RGB) through a conversion to 8-bit grey."""
    if not eight_bit:
        out[...] = np.asarray(frame.to_ndarray(format="gray"), np.uint8)[::2, ::2]
        return
    plane = frame.planes[0]
    rows = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[::2]
    if plane.line_size % 2:
        out[...] = rows[:, :frame.width:2]
    else:
        np.copyto(out, rows.view("<u2")[:, :out.shape[1]], casting="unsafe")  # the low byte of each pair


def _batch_stats(x8: NDArray[np.uint8], previous: NDArray[np.uint8] | None) -> NDArray[np.float64]:
    """The six statistics of a batch of luma planes already cut to every second pixel of every
    second row (the defects are frame-wide, and a quarter of the pixels costs a quarter of the
    time); rows: mean, std, dark, bright, sharpness, change (``previous``: the frame before the
    batch, which its first change needs; none where the picture changed size).

    OpenCV's vectorised kernels do the pixel work, mapped over the frames (no Python statement
    per frame): NumPy over the whole batch makes a float copy and passes over it nine times;
    these read the bytes once or twice, and each sum is exact (integers summed in doubles). The
    Laplacian is taken once over the batch stacked as one tall image; only each frame's
    interior is read, so the rows where two frames meet are not used. Every call releases the
    GIL, so the batch is done on a worker thread while the next one decodes."""
    import cv2

    n, h, w = x8.shape
    pixels = h * w
    frames = list(x8)
    stack = x8.reshape(n * h, w)
    out = np.empty((6, n), np.float64)
    mean_std = np.array(list(map(cv2.meanStdDev, frames)), np.float64).reshape(n, 2)
    out[0], out[1] = mean_std[:, 0], mean_std[:, 1]
    for row, (above, kind) in ((2, (DARK - 1, cv2.THRESH_BINARY_INV)), (3, (BRIGHT, cv2.THRESH_BINARY))):
        masks = cv2.threshold(stack, above, 1, kind)[1].reshape(n, h, w)  # 1: below DARK, or above BRIGHT
        out[row] = np.fromiter(map(cv2.countNonZero, masks), np.float64, n) / pixels
    if h > 2 and w > 2:  # 4·x − its 4 neighbours (negated: the variance is the same), each frame's interior
        cores = list(cv2.Laplacian(stack, cv2.CV_16S, ksize=1).reshape(n, h, w)[:, 1:-1, 1:-1])
        inner = (h - 2) * (w - 2)
        mean = np.fromiter((s[0] for s in map(cv2.sumElems, cores)), np.float64, n) / inner
        squares = np.fromiter(map(partial(cv2.norm, normType=cv2.NORM_L2SQR), cores), np.float64, n) / inner
        out[4] = np.maximum(squares - mean * mean, 0.0)
    else:
        out[4] = np.nan
    l1 = partial(cv2.norm, normType=cv2.NORM_L1)
    out[5, 1:] = np.fromiter(map(l1, frames[1:], frames[:-1]), np.float64, n - 1) / pixels
    out[5, 0] = np.nan if previous is None or previous.shape != frames[0].shape else l1(frames[0], previous) / pixels
    return out


def frame_stats(path: Path, *, threads: int | None = None) -> FrameStats:
    """Decode ``path`` once and return every frame's statistics (``threads``: decoder threads,
    the codec's choice when None). The statistics of one batch are computed on a worker thread
    while the next batch decodes (OpenCV releases the GIL), so on two cores they hide behind
    decoding instead of adding to it. Batches are filled in a ring of ``RING`` buffers, so
    decoding runs at most that far ahead of the statistics: memory stays bounded however long
    the video, and no fresh buffer is paged in per batch. OpenCV runs on one thread meanwhile
    (its own pool would compete with the decoder's threads for the same cores)."""
    with _opencv_on_one_thread():
        return _frame_stats(path, threads)


_cv_lock = threading.Lock()
_cv_state = {"users": 0, "saved": 1}  # how many ``frame_stats`` run, and the count to restore after the last


@contextmanager
def _opencv_on_one_thread() -> Iterator[None]:
    """OpenCV's own pool off while any ``frame_stats`` runs (it spins while it waits: on cores
    busy decoding, that is time taken from the decoder); the first one in saves the setting and
    the last one out restores it, so overlapping calls cannot leave it off."""
    import cv2

    with _cv_lock:
        if not _cv_state["users"]:
            _cv_state["saved"] = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _cv_state["users"] += 1
    try:
        yield
    finally:
        with _cv_lock:
            _cv_state["users"] -= 1
            if not _cv_state["users"]:
                cv2.setNumThreads(_cv_state["saved"])


def _frame_stats(path: Path, threads: int | None) -> FrameStats:
    from concurrent.futures import Future, ThreadPoolExecutor

    pending: list[Future[NDArray[np.float64]]] = []
    pts: list[int] = []
    previous: NDArray[np.uint8] | None = None
    frame_ns = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="syncline-frame-stats") as pool:
        for batch, times, rate_ns in _batches(Path(path), threads):
            pending.append(pool.submit(_batch_stats, batch, previous))
            previous = batch[-1].copy()  # what the next batch's first change needs (its buffer is refilled)
            if len(pending) >= RING:
                pending[-RING].result()  # its buffer is the next one to be filled
            pts += times
            frame_ns = rate_ns
        done = [f.result() for f in pending]
    if not pts:
        raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(Path(path))}: no video frame decoded")
    arrays = list(np.concatenate(done, axis=1).astype(np.float32))
    return FrameStats(np.asarray(pts, np.int64), frame_ns, *arrays)


def _batches(path: Path, threads: int | None = None) -> Iterator[tuple[NDArray[np.uint8], list[int], int]]:
    """Batches of up to ``BATCH`` luma planes (fewer for large frames: ``BATCH_PIXELS``), every
    second pixel of every second row, copied straight out of the decoder's buffers into the
    batch; with each frame's time in ns. The batches take turns in ``RING`` buffers: a batch's
    buffer is refilled ``RING`` batches later, so whoever consumes them must be done with it by
    then (``frame_stats`` waits for it). A stream that changes its picture size ends the batch
    there and goes on in buffers of the new size."""
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
        ring: list[NDArray[np.uint8]] = []
        batch: NDArray[np.uint8] | None = None
        size, filled = (0, 0), 0
        times: list[int] = []
        for frame in container.decode(stream):
            if (frame.height + 1) // 2 != size[0] or (frame.width + 1) // 2 != size[1]:  # the first, or a new size
                if times and batch is not None:
                    yield batch[:len(times)], times, frame_ns
                size = ((frame.height + 1) // 2, (frame.width + 1) // 2)
                ring, batch, filled, times = [], None, 0, []  # buffers still being read are not reused
                length = max(1, min(BATCH, BATCH_PIXELS // (size[0] * size[1])))
            if batch is None:
                if len(ring) < RING:
                    ring.append(np.empty((length, *size), np.uint8))
                batch = ring[filled % RING]
            _quarter_luma(frame, frame.format.name in EIGHT_BIT_PLANAR, batch[len(times)])
            times.append(to_ns(frame.pts, time_base) or 0)
            if len(times) == length:
                yield batch, times, frame_ns
                batch, times, filled = None, [], filled + 1
        if batch is not None and times:
            yield batch[:len(times)], times, frame_ns


def defect_runs(stats: FrameStats) -> dict[str, list[tuple[int, int]]]:
    """Per defect kind, the frame ranges it covers (runs long enough to matter)."""
    fps = 1e9 / stats.frame_ns if stats.frame_ns else 25.0
    return {kind: runs(flag, int(np.ceil(MIN_RUN_S[kind] * fps))) for kind, flag in stats.flags().items()}
