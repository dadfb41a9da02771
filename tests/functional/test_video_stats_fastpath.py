"""``frame_stats`` (the quarter of the pixels copied straight into the batch, the statistics
from OpenCV's kernels one frame at a time) gives what a plain NumPy computation in float64 gives.

The reference is the straightforward decode-and-batch code (each luma plane copied whole, the
batch stacked, then cut to every second pixel, and every statistic one NumPy expression over the
batch in float64, where these sums of small integers are exact). The statistics are stored in
float32, so they must agree to float32 rounding, and the defect runs must be the same. Compared
on generated clips: several batches with black, frozen and blurred spans, odd sizes (the last
column and row of the cut), a 10-bit clip (read through the grey conversion), large frames, one
decoder thread and the default.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy.ndimage import uniform_filter

from syncline.audit import video_quality as vq
from syncline.media.decoding import open_av, to_ns

pytestmark = pytest.mark.functional


def _luma_reference(frame: Any) -> NDArray[np.uint8]:
    if frame.format.name in vq.EIGHT_BIT_PLANAR:
        plane = frame.planes[0]
        y = np.frombuffer(memoryview(plane), np.uint8).reshape(frame.height, plane.line_size)
        return y[:, :frame.width]
    return np.asarray(frame.to_ndarray(format="gray"), np.uint8)


def _batch_stats_reference(frames: NDArray[np.uint8], previous: NDArray[np.float64] | None) -> tuple[list[Any], Any]:
    x = frames[:, ::2, ::2].astype(np.float64)
    n = x.shape[0]
    flat = x.reshape(n, -1)
    mean = flat.mean(axis=1)
    std = np.sqrt(np.maximum((flat * flat).mean(axis=1) - mean * mean, 0.0))
    dark, bright = (flat < vq.DARK).mean(axis=1), (flat > vq.BRIGHT).mean(axis=1)
    lap = 4 * x[:, 1:-1, 1:-1] - x[:, :-2, 1:-1] - x[:, 2:, 1:-1] - x[:, 1:-1, :-2] - x[:, 1:-1, 2:]
    sharp = lap.reshape(n, -1).var(axis=1)
    before = np.concatenate([previous[None] if previous is not None else x[:1] * np.nan, x[:-1]])
    change = np.abs(x - before).reshape(n, -1).mean(axis=1)
    return [mean, std, dark, bright, sharp, change], x[-1]


def _batches_reference(path: Path, threads: int | None) -> Iterator[tuple[NDArray[np.uint8], list[int], int]]:
    with open_av(path) as container:
        stream: Any = next(s for s in container.streams if s.type == "video")
        stream.thread_type = "AUTO"
        if threads:
            stream.codec_context.thread_count = threads
        rate = stream.average_rate or stream.guessed_rate
        frame_ns = int(round(1e9 / float(rate))) if rate else 0
        buf: list[NDArray[np.uint8]] = []
        times: list[int] = []
        for frame in container.decode(stream):
            buf.append(_luma_reference(frame).copy())
            times.append(to_ns(frame.pts, stream.time_base) or 0)
            if len(buf) == vq.BATCH:
                yield np.stack(buf), times, frame_ns
                buf, times = [], []
        if buf:
            yield np.stack(buf), times, frame_ns


def frame_stats_reference(path: Path, threads: int | None = None) -> vq.FrameStats:
    done, pts, previous, frame_ns = [], [], None, 0
    for batch, times, rate_ns in _batches_reference(path, threads):
        done.append(_batch_stats_reference(batch, previous))
        previous = batch[-1, ::2, ::2].astype(np.float64)
        pts += times
        frame_ns = rate_ns
    arrays = [np.concatenate([d[0][i] for d in done]).astype(np.float32) for i in range(6)]
    return vq.FrameStats(np.asarray(pts, np.int64), frame_ns, *arrays)


def make_clip(path: Path, *, w: int, h: int, n: int, fps: int = 10, pix_fmt: str = "yuv420p") -> Path:
    """A pan over a noisy texture with black, frozen, blurred and over-exposed spans, under a
    grey ramp at first."""
    rng = np.random.default_rng(w * h + n)
    texture = uniform_filter(rng.uniform(0, 255, (h, 2 * w)), 3)
    frames = np.empty((n, h, w), np.float64)
    for i in range(n):
        frames[i] = texture[:, i % w: i % w + w] + rng.normal(0, 4, (h, w))
    frames[n // 6: n // 6 + 12] = 0
    frames[n // 3: n // 3 + 20] = frames[n // 3 - 1]
    frames[n // 2: n // 2 + 15] = uniform_filter(frames[n // 2: n // 2 + 15], size=(1, 11, 11))
    frames[2 * n // 3: 2 * n // 3 + 10] += 200
    frames[: n // 6, : max(4, h // 8)] = np.linspace(0, 255, w)  # every grey level, the thresholds' edges too
    raw = np.clip(frames, 0, 255).astype(np.uint8)
    codec = ["-c:v", "libx264", "-preset", "ultrafast"] if pix_fmt == "yuv420p" else ["-c:v", "ffv1"]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray",
                    "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", *codec, "-pix_fmt", pix_fmt, str(path)],
                   input=raw.tobytes(), check=True)
    return path


@pytest.mark.parametrize(("w", "h", "n", "pix_fmt", "ext"), [
    (160, 120, 150, "yuv420p", ".mp4"),     # three batches, the last one short
    (64, 48, 330, "yuv420p", ".mp4"),       # more batches than the ring has buffers: each is refilled
    (640, 480, 70, "yuv420p", ".mp4"),      # frames big enough for shorter batches (BATCH_PIXELS)
    (162, 98, 70, "yuv420p", ".mp4"),       # a width and height that leave a last odd column and row in the cut
    (96, 64, 64, "yuv444p", ".mkv"),        # exactly one batch
    (161, 97, 40, "yuv444p", ".mkv"),       # an odd width: the last pixel of each pair-cast row
    (64, 48, 80, "yuv420p10le", ".mkv"),    # 10-bit: through the grey conversion
])
@pytest.mark.parametrize("threads", [1, None])
def test_frame_statistics_equal_a_plain_numpy_computation(
    tmp_path: Path, w: int, h: int, n: int, pix_fmt: str, ext: str, threads: int | None
) -> None:
    path = make_clip(tmp_path / f"clip{ext}", w=w, h=h, n=n, pix_fmt=pix_fmt)
    got, want = vq.frame_stats(path, threads=threads), frame_stats_reference(path, threads)
    assert len(got.pts_ns) == n
    np.testing.assert_array_equal(got.pts_ns, want.pts_ns)
    assert got.frame_ns == want.frame_ns
    _compare(got, want)  # NaN for the first change in both
    assert vq.defect_runs(got) == vq.defect_runs(want)
    runs = vq.defect_runs(got)
    assert runs["black"] and runs["overexposed"]


def _compare(got: vq.FrameStats, want: vq.FrameStats) -> None:
    """The six statistics agree to float32 rounding, stored as float32."""
    for name in ("mean", "std", "dark", "bright", "sharpness", "change"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-7, atol=1e-6, err_msg=name)


def test_a_slow_statistics_worker_does_not_read_a_refilled_buffer(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding may run ahead of the statistics only as far as the ring of buffers allows: with
    a worker slower than the decoder, a buffer refilled too early would give other frames' values."""
    path = make_clip(tmp_path / "clip.mp4", w=64, h=48, n=330)
    want = frame_stats_reference(path, 1)
    real = vq._batch_stats

    def slow(x8: NDArray[np.uint8], previous: NDArray[np.uint8] | None) -> NDArray[np.float64]:
        time.sleep(0.05)
        return real(x8, previous)

    monkeypatch.setattr(vq, "_batch_stats", slow)
    got = vq.frame_stats(path, threads=1)
    assert len(got.pts_ns) == 330 > vq.BATCH * vq.RING
    _compare(got, want)


def test_a_stream_that_changes_picture_size_goes_on_in_the_new_size(tmp_path: Path) -> None:
    """Two MPEG-TS parts of other sizes, one after the other (as a recorder that switches
    resolution writes them): every frame gets the statistics it has in its own part, and the
    first frame of the new size has no change (it cannot be compared with the last old one)."""
    parts = []
    for i, (w, h, n) in enumerate([(160, 120, 150), (200, 96, 90), (120, 120, 20)]):
        clip = make_clip(tmp_path / f"part{i}.mp4", w=w, h=h, n=n)
        ts = tmp_path / f"part{i}.ts"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(clip), "-c", "copy",
                        "-bsf:v", "h264_mp4toannexb", str(ts)], check=True)
        parts.append((ts, frame_stats_reference(ts, 1)))
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(ts.read_bytes() for ts, _ in parts))
    got = vq.frame_stats(joined, threads=1)
    assert len(got.pts_ns) == 150 + 90 + 20
    want = vq.FrameStats(got.pts_ns, got.frame_ns, *(np.concatenate([getattr(w, k) for _, w in parts]) for k in
                                                     ("mean", "std", "dark", "bright", "sharpness", "change")))
    assert np.isnan(got.change[[0, 150, 240]]).all()
    _compare(got, want)


def test_overlapping_calls_restore_the_opencv_thread_count(tmp_path: Path) -> None:
    import cv2

    path = make_clip(tmp_path / "clip.mp4", w=64, h=48, n=200)
    before = cv2.getNumThreads()
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda _: vq.frame_stats(path, threads=1), range(6)))
    assert cv2.getNumThreads() == before
