"""Voice activity: where an audio asset holds speech, with Silero VAD run through onnxruntime.

Model: Silero VAD as shipped by the ``silero-vad`` PyPI package (6.2.3 when this was written),
file ``silero_vad/data/silero_vad_16k_sequence.onnx``: the same network as the streaming
``silero_vad.onnx`` (512-sample windows at 16 kHz, each prefixed with the previous window's last
64 samples, LSTM state carried from window to window) exported so that one ONNX call runs a
whole block of windows with the state carried inside the graph; the probabilities are
bit-identical to the streaming model (tests check it) at ~3x the speed. The package is imported
only to *locate* the file (``import silero_vad`` would import torch). ``vad_model()`` returns
the model name, package version, file name and sha256 so callers can record which VAD produced
a mask.

Audio is decoded once (``read_audio``, priming removed), mixed to mono and resampled once to
16 kHz with a polyphase filter. One probability per 32 ms window; a ``Signal`` sample ``i``
sits at the window's centre. ``speech_segments`` turns probabilities into ``[t0, t1)`` spans in
integer nanoseconds on the asset's local timeline with hysteresis (speech starts at
``threshold``, ends below ``neg_threshold``), a minimum silence (shorter pauses are bridged)
and a minimum speech duration (shorter blips are dropped). A boundary sits where the
probability crosses the threshold, interpolated between window centres.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np

from syncline.align.types import Signal
from syncline.timebase import NS_PER_S

VAD_RATE = 16_000
WINDOW = 512  # samples per VAD window at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous window prefixed to each window
BLOCK = 1024  # windows per ONNX call (~33 s of audio)
MODEL_FILE = "silero_vad_16k_sequence.onnx"
STREAMING_FILE = "silero_vad.onnx"

AudioSource = Path | str | np.ndarray


@dataclass(frozen=True)
class VadModel:
    """Which VAD produced a mask: store these with every derived row."""

    name: str
    version: str
    file: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "file": self.file, "sha256": self.sha256}


def model_path(file: str = MODEL_FILE) -> Path:
    """Path of a Silero ONNX file inside the installed ``silero-vad`` package (no torch import)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("silero-vad is not installed; pip install silero-vad (its ONNX file is needed)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / file
    if not path.is_file():
        raise RuntimeError(f"silero-vad is installed but {file} is missing from it; reinstall silero-vad")
    return path


@lru_cache(maxsize=4)
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def vad_model() -> VadModel:
    path = model_path()
    try:
        version = importlib.metadata.version("silero-vad")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return VadModel(name="silero-vad", version=version, file=path.name, sha256=_sha256(path))


@lru_cache(maxsize=2)
def _session(file: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(model_path(file)), sess_options=options, providers=["CPUExecutionProvider"])


def mono_16k(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mix ``[channels, samples]`` (or 1-D) to mono and resample once to 16 kHz (polyphase)."""
    from scipy.signal import resample_poly

    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if sample_rate != VAD_RATE and len(x):
        g = gcd(int(sample_rate), VAD_RATE)
        x = resample_poly(x, VAD_RATE // g, int(sample_rate) // g).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def load_16k(source: AudioSource, sample_rate: int | None = None, start_ns: int = 0) -> tuple[np.ndarray, int]:
    """(mono 16 kHz float32 samples, start_ns) of a file (decoded once) or of an array."""
    if isinstance(source, np.ndarray):
        if sample_rate is None:
            raise ValueError("an array of samples needs its sample_rate")
        return mono_16k(source, sample_rate), start_ns
    from syncline.media.audio import read_audio

    samples, rate, file_start = read_audio(Path(source))
    return mono_16k(samples, rate), file_start


def window_probabilities(x16k: np.ndarray) -> np.ndarray:
    """Speech probability of each 512-sample window of 16 kHz mono audio (last one zero-padded)."""
    n = (len(x16k) + WINDOW - 1) // WINDOW
    if n == 0:
        return np.zeros(0, np.float32)
    frames = np.zeros((n, WINDOW), np.float32)
    frames.reshape(-1)[: len(x16k)] = x16k
    blocks = np.empty((n, CONTEXT + WINDOW), np.float32)
    blocks[:, CONTEXT:] = frames
    blocks[0, :CONTEXT] = 0.0
    blocks[1:, :CONTEXT] = frames[:-1, -CONTEXT:]
    session = _session(MODEL_FILE)
    h = np.zeros((1, 1, 128), np.float32)
    c = np.zeros((1, 1, 128), np.float32)
    out: list[np.ndarray] = []
    for b in range(0, n, BLOCK):
        probs, h, c = session.run(["speech_probs", "hn", "cn"], {"input": blocks[b : b + BLOCK], "h": h, "c": c})
        out.append(np.asarray(probs, np.float32).reshape(-1))
    return np.concatenate(out)


def streaming_probabilities(x16k: np.ndarray) -> np.ndarray:
    """Reference: the streaming ``silero_vad.onnx``, one call per window (slow; for tests)."""
    session = _session(STREAMING_FILE)
    n = (len(x16k) + WINDOW - 1) // WINDOW
    padded = np.zeros(n * WINDOW, np.float32)
    padded[: len(x16k)] = x16k
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(CONTEXT, np.float32)
    sr = np.array(VAD_RATE, dtype=np.int64)
    out = np.zeros(n, np.float32)
    for i in range(n):
        window = padded[i * WINDOW : (i + 1) * WINDOW]
        prob, state = session.run(None, {"input": np.concatenate([context, window])[None], "state": state, "sr": sr})
        out[i] = float(np.asarray(prob).reshape(-1)[0])
        context = window[-CONTEXT:]
    return out


def speech_probability(
    source: AudioSource, *, sample_rate: int | None = None, start_ns: int = 0
) -> Signal:
    """Per-window speech probability as a Signal at 31.25 Hz (sample ``i`` = centre of window ``i``).

    ``source`` is an audio/video file (decoded with priming removed; ``start_ns`` then comes
    from the file) or an array ``[channels, samples]`` / ``[samples]`` with ``sample_rate``.
    """
    x, t0 = load_16k(source, sample_rate, start_ns)
    return probability_signal(x, t0)


def probability_signal(x16k: np.ndarray, start_ns: int) -> Signal:
    """``speech_probability`` of 16 kHz mono samples whose first sample is at ``start_ns``."""
    probs = window_probabilities(x16k)
    return Signal(t0_ns=start_ns + WINDOW * NS_PER_S // (2 * VAD_RATE), rate_hz=VAD_RATE / WINDOW, values=probs)


def hysteresis(probs: np.ndarray, threshold: float, neg_threshold: float) -> np.ndarray:
    """Boolean speech state per window: on at ``>= threshold``, off at ``< neg_threshold``."""
    p = np.asarray(probs)
    idx = np.arange(len(p))
    last_on = np.maximum.accumulate(np.where(p >= threshold, idx, -1)) if len(p) else idx
    last_off = np.maximum.accumulate(np.where(p < neg_threshold, idx, -1)) if len(p) else idx
    return np.asarray(last_on > last_off)


def _crossing(p: np.ndarray, i: int, level: float) -> float:
    """Fractional window index between ``i-1`` and ``i`` where ``p`` crosses ``level``."""
    if i <= 0 or i >= len(p):
        return float(i)
    a, b = float(p[i - 1]), float(p[i])
    if a == b:
        return float(i)
    return float(np.clip(i - 1 + (level - a) / (b - a), i - 1, i))


def segments_from_probability(
    signal: Signal,
    *,
    threshold: float = 0.5,
    neg_threshold: float | None = None,
    min_speech_ms: float = 120.0,
    min_silence_ms: float = 200.0,
    end_ns: int | None = None,
) -> list[tuple[int, int]]:
    """Speech spans ``[t0_ns, t1_ns)`` from a ``speech_probability`` Signal (see module docs)."""
    p = np.asarray(signal.values, dtype=np.float32)
    if len(p) == 0:
        return []
    neg = max(threshold - 0.15, 0.01) if neg_threshold is None else neg_threshold
    on = hysteresis(p, threshold, neg)
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    period_ns = NS_PER_S / signal.rate_hz
    spans: list[list[float]] = []
    for s, e in zip(starts.tolist(), stops.tolist(), strict=True):
        t0 = signal.t0_ns + _crossing(p, s, threshold) * period_ns
        t1 = signal.t0_ns + _crossing(p, e, neg) * period_ns if e < len(p) else signal.t0_ns + e * period_ns
        if spans and t0 - spans[-1][1] < min_silence_ms * 1e6:
            spans[-1][1] = t1
        else:
            spans.append([t0, t1])
    floor = signal.t0_ns - period_ns / 2
    ceiling = end_ns if end_ns is not None else signal.t0_ns + (len(p) - 0.5) * period_ns
    out = []
    for t0, t1 in spans:
        a, b = int(round(max(t0, floor))), int(round(min(t1, ceiling)))
        if b - a >= min_speech_ms * 1e6:
            out.append((a, b))
    return out


def speech_segments(
    source: AudioSource,
    *,
    sample_rate: int | None = None,
    start_ns: int = 0,
    threshold: float = 0.5,
    neg_threshold: float | None = None,
    min_speech_ms: float = 120.0,
    min_silence_ms: float = 200.0,
) -> list[tuple[int, int]]:
    """Speech spans ``[t0_ns, t1_ns)`` on the source's local timeline (see module docs)."""
    x, t0 = load_16k(source, sample_rate, start_ns)
    return segments_from_probability(
        probability_signal(x, t0),
        threshold=threshold,
        neg_threshold=neg_threshold,
        min_speech_ms=min_speech_ms,
        min_silence_ms=min_silence_ms,
        end_ns=t0 + len(x) * NS_PER_S // VAD_RATE,
    )
