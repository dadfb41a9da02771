"""Feature signals for offset detection: audio onsets and video motion, on asset-local time.

``onset_envelope`` decodes audio once (``read_audio``, so priming and edit lists are honoured)
and returns a half-wave rectified multi-band log-energy rise at ~200 Hz: sample ``i`` is the
rise in 5 ms block ``i`` over block ``i - 1``, stamped at the block's centre.

``motion_energy`` / ``motion_onset`` decode video once, scaled down to at most ``max_width``
gray pixels by swscale inside the decode loop (never a full-size RGB frame in Python), and
return one value per frame stamped at the frame's presentation time:

* motion energy: mean absolute difference to the previous frame;
* motion onset: the half-wave rectified *rise* of foreground energy (mean absolute difference
  to a running background). Something appearing or starting to move raises it; something
  vanishing or stopping lowers it and is dropped, so the start and the end of an event do not
  look alike.

Timing convention: a frame's presentation time is the start of its exposure, and a change
between frames ``k-1`` and ``k`` is stamped at frame ``k``'s time. With an exposure as long as
the frame interval, the centroid of the change lands on the true event time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from syncline.align.types import Signal
from syncline.media.audio import read_audio
from syncline.media.decoding import MAX_PIXELS, NS, decode_errors, display_name, open_av, to_ns
from syncline.media.types import MediaError, MediaErrorKind

_BAND_EDGES_HZ = (0.0, 200.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 1e9)
_ABS_FLOOR = 1e-9  # band power floor (~ -90 dBFS): digital near-silence never makes onsets
_REL_FLOOR = 1e-3  # and 30 dB below the loud part of the file
_BACKGROUND_TAU_S = 3.0
CHANGE_LEVEL = 0.5  # gray levels: a frame differing less than this on average shows no change
_CHUNK_BLOCKS = 65536


def _power_per_band(blocks: np.ndarray, sample_rate: int) -> np.ndarray:
    """[n_blocks, n_bands] mean power of each block in each frequency band."""
    hop = blocks.shape[1]
    freqs = np.fft.rfftfreq(hop, 1.0 / sample_rate)
    band = np.searchsorted(np.asarray(_BAND_EDGES_HZ), freqs, side="right") - 1
    used = np.unique(band)
    out = np.empty((blocks.shape[0], len(used)), np.float64)
    for start in range(0, blocks.shape[0], _CHUNK_BLOCKS):  # bounded memory on long files
        spec = np.fft.rfft(blocks[start:start + _CHUNK_BLOCKS], axis=1)
        power = (spec.real**2 + spec.imag**2) / (hop * hop)
        sums = np.add.reduceat(power, np.searchsorted(band, used), axis=1)
        out[start:start + _CHUNK_BLOCKS] = sums
    return out


def onset_envelope_from_samples(
    samples: np.ndarray, sample_rate: int, start_ns: int, *, rate_hz: float = 200.0
) -> Signal:
    """The onset envelope of already decoded audio ([channels, n] or [n] float)."""
    if rate_hz <= 0 or sample_rate <= 0:
        raise ValueError("rate_hz and sample_rate must be positive")
    mono = np.asarray(samples, np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=0) if mono.shape[0] else np.zeros(0, np.float32)
    hop = max(1, int(round(sample_rate / rate_hz)))
    rate = sample_rate / hop
    t0_ns = int(start_ns) + (hop * NS) // (2 * sample_rate)
    n_blocks = len(mono) // hop
    if n_blocks < 2:
        return Signal(t0_ns, rate, np.zeros(n_blocks, np.float32))
    power = _power_per_band(mono[: n_blocks * hop].reshape(n_blocks, hop), sample_rate)
    floor = np.maximum(_ABS_FLOOR, _REL_FLOOR * np.percentile(power, 95, axis=0))
    level = np.log(power + floor)
    rise = np.zeros(n_blocks, np.float32)
    rise[1:] = np.maximum(np.diff(level, axis=0), 0.0).mean(axis=1)
    return Signal(t0_ns, rate, rise)


def onset_envelope(path: Path, *, rate_hz: float = 200.0) -> Signal:
    """Decode ``path``'s first audio stream once; its onset envelope (see module docstring)."""
    samples, sample_rate, start_ns = read_audio(Path(path))
    return onset_envelope_from_samples(samples, sample_rate, start_ns, rate_hz=rate_hz)


@dataclass(frozen=True)
class VideoSignals:
    """Both motion signals of one decode, plus what a detector needs to explain an abstention."""

    energy: Signal
    onset: Signal
    n_frames: int
    width: int
    height: int
    max_energy: float  # largest mean abs frame difference, gray levels 0..255
    changing_frames: int  # frames whose mean abs difference exceeds CHANGE_LEVEL


def _scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    w = max(2, min(width, max_width))
    w -= w % 2
    h = max(2, int(round(height * w / max(width, 1))))
    return w, h + (h % 2)


def _uniform(times_ns: np.ndarray, values: np.ndarray, nominal_hz: float | None) -> Signal:
    """Per-frame values at presentation times onto a uniform grid (identity for constant rate)."""
    t0 = int(times_ns[0]) if len(times_ns) else 0
    if len(times_ns) < 2:
        return Signal(t0, float(nominal_hz or 25.0), values.astype(np.float32))
    step = float(np.median(np.diff(times_ns)))
    rate = nominal_hz if nominal_hz and abs(1e9 / nominal_hz - step) < 0.02 * step else 1e9 / step
    n_grid = int(round((times_ns[-1] - t0) * rate / 1e9)) + 1
    if n_grid > 10 * len(times_ns) + 100:  # a timestamp jump, not a frame rate: refuse to blow up
        raise MediaError(MediaErrorKind.NON_MONOTONIC_TIME,
                         f"video timestamps jump by {(times_ns[-1] - t0) / 1e9:.0f} s over {len(times_ns)} frames")
    grid = t0 + np.arange(n_grid) * (1e9 / rate)
    if len(grid) == len(times_ns) and np.max(np.abs(grid - times_ns)) < 0.25e9 / rate:
        return Signal(t0, float(rate), values.astype(np.float32))
    return Signal(t0, float(rate), np.interp(grid, times_ns, values).astype(np.float32))


def video_signals(path: Path, *, max_width: int = 160, threads: int = 0) -> VideoSignals:
    """Decode the video stream of ``path`` once: motion energy and motion onset.

    ``threads`` = 0 lets FFmpeg choose; 1 decodes on one core (what benchmarks measure).
    Raises MediaError when there is no decodable video stream.
    """
    path = Path(path)
    if max_width < 2:
        raise ValueError("max_width must be >= 2")
    times: list[int] = []
    with open_av(path) as container:
        streams = [s for s in container.streams.video
                   if not (s.disposition & av.stream.Disposition.attached_pic)]
        if not streams:
            raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(path)} has no video stream")
        stream = streams[0]
        cc = stream.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        if width * height > MAX_PIXELS:
            raise MediaError(MediaErrorKind.BOMB, f"{display_name(path)} declares frames over 100 megapixels")
        if threads == 1:
            stream.thread_type = "NONE"
            stream.thread_count = 1
        else:
            stream.thread_type = "AUTO"
            stream.thread_count = threads
        cc.options = {"skip_loop_filter": "all"}  # deblocking does not change motion; skip it
        rate = stream.average_rate or stream.guessed_rate
        nominal = float(rate) if rate else None
        motion = _MotionAccumulator(alpha=1.0 / (_BACKGROUND_TAU_S * (nominal or 25.0)))
        scaler = VideoReformatter()
        size: tuple[int, int] | None = None
        with decode_errors(path, "video"):
            for frame in container.decode(stream):
                pts = to_ns(frame.pts, stream.time_base)
                if pts is None or (times and pts <= times[-1]):
                    continue  # no timestamp or not after the last one: cannot place it in time
                if size is None:
                    size = _scaled_size(frame.width, frame.height, max_width)
                small = scaler.reformat(
                    frame, width=size[0], height=size[1], format="gray", interpolation=Interpolation.AREA
                )
                motion.add(small.to_ndarray())
                times.append(pts)
    if not times:
        raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(path)}: no video frame decodes")
    e, fg = motion.finish()
    t = np.asarray(times, np.int64)
    rise = np.zeros_like(fg)
    rise[1:] = np.maximum(np.diff(fg), 0.0)
    return VideoSignals(
        energy=_uniform(t, e, nominal),
        onset=_uniform(t, rise, nominal),
        n_frames=len(times),
        width=size[0] if size else 0,
        height=size[1] if size else 0,
        max_energy=float(e.max()) if len(e) else 0.0,
        changing_frames=int(np.count_nonzero(e > CHANGE_LEVEL)),
    )


class _MotionAccumulator:
    """Frame differences and foreground energy of small gray frames, fed one at a time.

    The running background is an exponential moving average ``B_k = B_{k-1} + alpha (g_k -
    B_{k-1})``; foreground energy of frame ``k`` is ``mean |g_k - B_{k-1}|``. Each step is a
    handful of vector operations on a frame of at most ``max_width`` pixels across.
    """

    def __init__(self, *, alpha: float) -> None:
        self.alpha = alpha
        self.prev: np.ndarray | None = None
        self.cur: np.ndarray | None = None
        self.background: np.ndarray | None = None
        self.work: np.ndarray | None = None
        self.inv_size = 1.0
        self.energy: list[float] = []
        self.foreground: list[float] = []

    def add(self, gray: np.ndarray) -> None:
        if self.prev is None or self.cur is None or self.background is None or self.work is None \
                or gray.shape != self.prev.shape:
            self.prev = gray.astype(np.float32)
            self.cur = np.empty_like(self.prev)
            self.work = np.empty_like(self.prev)
            self.background = self.prev.copy()
            self.inv_size = 1.0 / max(1, self.prev.size)
            self.energy.append(0.0)
            self.foreground.append(0.0)
            return
        g, work = self.cur, self.work
        np.copyto(g, gray, casting="unsafe")
        np.subtract(g, self.prev, out=work)
        np.abs(work, out=work)
        self.energy.append(float(work.sum()) * self.inv_size)  # sum: no Python-level mean overhead
        np.subtract(g, self.background, out=work)
        self.background += work * self.alpha  # the delta stays in work for the foreground
        np.abs(work, out=work)
        self.foreground.append(float(work.sum()) * self.inv_size)
        self.prev, self.cur = g, self.prev

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.energy, np.float64), np.asarray(self.foreground, np.float64)


def motion_energy(path: Path, *, max_width: int = 160) -> Signal:
    """Mean absolute gray difference to the previous frame, one value per frame (first = 0)."""
    return video_signals(path, max_width=max_width).energy


def motion_onset(path: Path, *, max_width: int = 160) -> Signal:
    """Rectified rise of foreground energy, one value per frame (see module docstring)."""
    return video_signals(path, max_width=max_width).onset
