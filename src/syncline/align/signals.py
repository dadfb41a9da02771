"""Feature signals for offset detection: audio onsets and video motion, on asset-local time.

``onset_envelope`` decodes audio once (``read_audio``, so priming and edit lists are honoured)
and returns, at ~200 Hz, the half-wave rectified rise of a spectrally whitened log level (see
``onset_envelope_from_samples``): continuous fan hum or rain whitens to a steady level, so
calls, creaks and clicks rise above it in whatever band they sound.

``motion_energy`` / ``motion_onset`` decode video once, scaled down to at most ``max_width``
gray pixels by swscale inside the decode loop (never a full-size RGB frame in Python), and
return one value per frame stamped at the frame's presentation time:

* motion energy: mean absolute difference to the previous frame;
* motion onset: the half-wave rectified *rise* of foreground energy (mean absolute difference
  to a running background), or where larger the rise of the frame change weighted by the share
  of it that appears (see ``_appearing_rise``). Something appearing or starting to move raises
  it; something vanishing or stopping lowers it and is dropped, so the start and the end of an
  event do not look alike. Capture defects (black frames, frozen runs) and whole-frame changes
  (keyframe pulses) make no onsets (see ``align.motion``).

Timing convention: a frame's presentation time is the start of its exposure, and a change
between frames ``k-1`` and ``k`` is stamped at frame ``k``'s time. With an exposure as long as
the frame interval, the centroid of the change lands on the true event time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import scipy.fft
import scipy.signal
from av.video.reformatter import Interpolation, VideoReformatter

from syncline.align.motion import MotionAccumulator
from syncline.align.types import Signal
from syncline.media.audio import read_audio
from syncline.media.decoding import MAX_PIXELS, NS, decode_errors, display_name, open_av, to_ns
from syncline.media.types import MediaError, MediaErrorKind

_ABS_FLOOR = 1e-9  # mean power (~ -90 dBFS) below which a block is digital silence
WINDOW_S = 0.032  # analysis window of the onset envelope
ENVELOPE_MAX_RATE = 16_000  # Hz: audio at twice this or more is decimated by an integer factor first
_RISE_BLOCKS = 2  # the envelope is the rise of the whitened level over this many blocks
_WHITE_FLOOR = 0.5  # whitened units: a drop below the background is not followed by a fake rise
_MEDIAN_BLOCKS = 1000  # blocks sampled for the per-bin background median
_CHUNK_STFT = 4096
_BACKGROUND_TAU_S = 3.0
CHANGE_LEVEL = 0.5  # gray levels: a frame differing less than this on average shows no change
FROZEN_S = 0.5  # a run of repeated frames this long is a frozen feed (a defect, not a still scene)


def _leading_edge_window(nwin: int) -> np.ndarray:
    """A Hann rise over the older three quarters, flat over the newest quarter: sound that
    starts is seen at full weight in the block where it starts (no look-ahead), while the
    taper keeps a steady hum's leakage low."""
    rise = 3 * nwin // 4
    return np.concatenate([np.hanning(2 * rise)[:rise], np.ones(nwin - rise)]).astype(np.float32)


def _frames(padded: np.ndarray, hop: int, nwin: int, first: int, count: int) -> np.ndarray:
    """A read-only [count, nwin] view of the windows of blocks ``first .. first + count - 1``
    (the window of block ``k`` starts at sample ``(k + 1) hop`` of ``padded``)."""
    return np.lib.stride_tricks.as_strided(
        padded[(first + 1) * hop:], shape=(count, nwin), strides=(hop * padded.strides[0], padded.strides[0]),
        writeable=False)


def _stft_power(padded: np.ndarray, hop: int, nwin: int, starts: np.ndarray) -> np.ndarray:
    """[len(starts), nwin // 2 + 1] power of the ``nwin`` samples that end with each block of
    ``starts`` (block ``k`` covers samples ``[k hop, (k + 1) hop)``), windowed. ``padded`` is
    the mono signal after ``nwin`` zeros, so the window of block ``k`` starts at ``(k + 1) hop``."""
    window = _leading_edge_window(nwin)
    frames = np.lib.stride_tricks.sliding_window_view(padded, nwin)[(starts + 1) * hop]
    frames *= window
    spec = scipy.fft.rfft(frames, axis=1, overwrite_x=True)
    return np.asarray(spec.real**2 + spec.imag**2, np.float64)


def _whitened_level(padded: np.ndarray, hop: int, nwin: int, first: int, count: int,
                    scale2: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """log(mean over bins of power * scale + _WHITE_FLOOR) for ``count`` blocks from ``first``;
    ``scale2`` is the per-bin scale over the bin count, repeated for the real and imaginary parts
    (so the mean is one matrix-vector product over the squared spectrum, with no power array)."""
    frames = buf[:count]
    np.multiply(_frames(padded, hop, nwin, first, count), _leading_edge_window(nwin), out=frames)
    spec = scipy.fft.rfft(frames, axis=1, overwrite_x=True)
    parts = spec.view(np.float32).reshape(count, -1)
    np.multiply(parts, parts, out=parts)
    # einsum, not a BLAS product: BLAS threads would spin on other cores after the call
    return np.asarray(np.log(np.einsum("ij,j->i", parts, scale2).astype(np.float64) + _WHITE_FLOOR))


def onset_envelope_from_samples(
    samples: np.ndarray, sample_rate: int, start_ns: int, *, rate_hz: float = 200.0
) -> Signal:
    """The onset envelope of already decoded audio ([channels, n] or [n] float).

    Spectral whitening makes it robust to continuous noise (fan hum, rain): every frequency bin
    of a ``WINDOW_S`` Hann-windowed spectrum (one per block) is divided by its median over the
    file (its background level), the whitened bins are averaged, and the envelope is the
    rectified rise of the log of that average over ``_RISE_BLOCKS`` blocks, stamped at the
    middle of the rise. A stationary background whitens to a steady level, so only what rises
    above it — a call, a creak, a click — makes onsets, in whatever band it sounds. Blocks of
    digital silence (a dropout, a decoder's zero tail) and the blocks next to them make no onsets.
    """
    if rate_hz <= 0 or sample_rate <= 0:
        raise ValueError("rate_hz and sample_rate must be positive")
    mono = np.asarray(samples, np.float32)
    if mono.ndim == 2:
        mono = mono.mean(axis=0) if mono.shape[0] else np.zeros(0, np.float32)
    factor = sample_rate // ENVELOPE_MAX_RATE
    if factor >= 2 and sample_rate % factor == 0:  # onsets are broadband: the top octaves add FFT cost, not timing
        mono = scipy.signal.resample_poly(mono, 1, factor).astype(np.float32)  # zero-phase: no delay
        sample_rate //= factor
    hop = max(1, int(round(sample_rate / rate_hz)))
    rate = sample_rate / hop
    lag = _RISE_BLOCKS
    t0_ns = int(start_ns) + (hop * NS) // (2 * sample_rate) - ((lag - 1) * hop * NS) // (2 * sample_rate)
    n_blocks = len(mono) // hop
    if n_blocks < lag + 1:
        return Signal(t0_ns, rate, np.zeros(max(n_blocks, 0), np.float32))
    nwin = int(2 ** np.ceil(np.log2(max(WINDOW_S * sample_rate, 16))))
    stride = max(1, n_blocks // _MEDIAN_BLOCKS)
    padded = np.concatenate([np.zeros(nwin, np.float32), mono[: n_blocks * hop]])
    sampled = _stft_power(padded, hop, nwin, np.arange(0, n_blocks, stride))
    median = np.median(np.ascontiguousarray(sampled.T), axis=1)  # per bin, along contiguous rows
    floor = max(_ABS_FLOOR * nwin * nwin / 4, float(np.max(median)) * 1e-6)  # never divide by ~0
    scale = 1.0 / np.maximum(median, floor)
    level = np.empty(n_blocks, np.float64)
    own = mono[: n_blocks * hop].reshape(n_blocks, hop).astype(np.float64)
    silent = np.einsum("ij,ij->i", own, own) / hop < _ABS_FLOOR  # digital silence in the block itself
    scale2 = np.repeat(scale / len(scale), 2).astype(np.float32)
    buf = np.empty((min(_CHUNK_STFT, n_blocks), nwin), np.float32)
    for start in range(0, n_blocks, _CHUNK_STFT):  # bounded memory on long files
        count = min(_CHUNK_STFT, n_blocks - start)
        level[start:start + count] = _whitened_level(padded, hop, nwin, start, count, scale2, buf)
    rise = np.zeros(n_blocks, np.float32)
    rise[lag:] = np.maximum(level[lag:] - level[:-lag], 0.0)
    reach = lag + nwin // hop + 1  # blocks whose windows overlap a silent block, after and before it
    near_silence = np.convolve(silent, np.ones(2 * reach - 1))[reach - 1:reach - 1 + n_blocks] > 0
    rise[near_silence] = 0.0
    rise[: min(n_blocks, lag + nwin // hop)] = 0.0  # the first windows reach before the file
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


def _appearing_rise(energy: np.ndarray, foreground: np.ndarray) -> np.ndarray:
    """Motion onset: the rectified rise of foreground energy, or where larger the rectified rise
    of frame-difference energy weighted by how much of the change is something appearing.

    ``share = (d fg / energy + 1) / 2`` clipped to [0, 1]: 1 when all the change adds to the
    foreground (a flash, an object appearing), 0 when it all returns to the background (the
    flash ending), about 0.5 when things move in place (a head jerks up, a body jolts). In a
    scene that shuffles slowly the foreground is dominated by the ghost the running background
    lags behind, and a sudden move may even lower it; the rise of the frame difference still
    marks the move's first frame. The share keeps the end of an event from looking like its
    start, and the maximum keeps the foreground's timing where that is the larger rise.
    """
    rise = np.zeros_like(energy)
    if len(energy) < 2:
        return rise
    d_e = np.diff(energy)
    d_fg = np.diff(foreground)
    cur = energy[1:]
    share = np.clip((np.divide(d_fg, cur, out=np.zeros_like(cur), where=cur > 1e-9) + 1.0) / 2.0, 0.0, 1.0)
    rise[1:] = np.maximum(np.maximum(d_fg, 0.0), np.maximum(d_e, 0.0) * share)
    return rise


_CACHE: dict[tuple[str, int, int, int], VideoSignals] | None = None


@contextmanager
def decode_once() -> Iterator[None]:
    """Within this block each video is decoded once, however many pairs use it (an entity's
    anchor camera meets its mics, its other cameras, its sensors and its event log). Keyed by
    path, size and mtime; outside the block nothing is cached, so benchmarks time real decodes."""
    global _CACHE
    outer, _CACHE = _CACHE, ({} if _CACHE is None else _CACHE)
    try:
        yield
    finally:
        _CACHE = outer


def video_signals(path: Path, *, max_width: int = 160, threads: int = 0) -> VideoSignals:
    """Decode the video stream of ``path`` once: motion energy and motion onset.

    ``threads`` = 0 lets FFmpeg choose; 1 decodes on one core (what benchmarks measure); it
    changes speed, not results. Raises MediaError when there is no decodable video stream.
    """
    if _CACHE is None:
        return _decode_video_signals(Path(path), max_width=max_width, threads=threads)
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, max_width)
    if key not in _CACHE:
        _CACHE[key] = _decode_video_signals(Path(path), max_width=max_width, threads=threads)
    return _CACHE[key]


def _decode_video_signals(path: Path, *, max_width: int, threads: int) -> VideoSignals:
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
        motion = MotionAccumulator(alpha=1.0 / (_BACKGROUND_TAU_S * (nominal or 25.0)),
                                   frozen_run=int(round(FROZEN_S * (nominal or 25.0))))
        scaler = VideoReformatter()
        size: tuple[int, int] | None = None
        time_base = stream.time_base  # a new Fraction on every access
        with decode_errors(path, "video"):
            for frame in container.decode(stream):
                pts = to_ns(frame.pts, time_base)
                if pts is None or (times and pts <= times[-1]):
                    continue  # no timestamp or not after the last one: cannot place it in time
                if size is None:
                    size = _scaled_size(frame.width, frame.height, max_width)
                small = scaler.reformat(
                    frame, width=size[0], height=size[1], format="gray", interpolation=Interpolation.AREA
                )
                plane = small.planes[0]  # the gray picture, rows padded to line_size: copied once, by add
                motion.add(np.ndarray((size[1], size[0]), np.uint8, buffer=memoryview(plane),
                                      strides=(plane.line_size, 1)))
                times.append(pts)
    if not times:
        raise MediaError(MediaErrorKind.UNDECODABLE, f"{display_name(path)}: no video frame decodes")
    e, change, fg = motion.finish()
    t = np.asarray(times, np.int64)
    rise = _appearing_rise(change, fg)
    return VideoSignals(
        energy=_uniform(t, e, nominal),
        onset=_uniform(t, rise, nominal),
        n_frames=len(times),
        width=size[0] if size else 0,
        height=size[1] if size else 0,
        max_energy=float(e.max()) if len(e) else 0.0,
        changing_frames=int(np.count_nonzero(e > CHANGE_LEVEL)),
    )


def motion_energy(path: Path, *, max_width: int = 160) -> Signal:
    """Mean absolute gray difference to the previous frame, one value per frame (first = 0)."""
    return video_signals(path, max_width=max_width).energy


def motion_onset(path: Path, *, max_width: int = 160) -> Signal:
    """Rectified rise of foreground energy, one value per frame (see module docstring)."""
    return video_signals(path, max_width=max_width).onset
