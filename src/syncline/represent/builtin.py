"""Built-in representations that run offline on a CPU from decoded media, with explicit versions.

These are the features a project keeps *instead of* raw faces and voices when ``syncline.yaml``
says ``embeddings_only: [audio, image, video]``: coarse enough that the person cannot be heard
or recognised from them, rich enough for event detection, retrieval by similarity and audits.

* ``logmel-1s@1`` (audio): 40 log-mel band energies (0-8 kHz, 25 ms frames) averaged over each
  second — a second-long average keeps what sounds (a call, rain, a voice is present) and loses
  the phonetic detail that makes speech intelligible.
* ``grid-colour-edges@1`` (image) and ``grid-colour-edges-1s@1`` (video, once per second on the
  frame nearest the middle of the second): on a 4 x 4 grid, the mean colour and an 8-bin histogram of gradient
  orientations per cell — a layout and texture summary from which a face cannot be redrawn.
* ``motion-energy-1s@1`` (video): per second, the mean absolute brightness change between
  consecutive frames in each cell of a 4 x 4 grid and over the whole frame (17 values in
  [0, 1]) — where and how much things move, from every frame, not one per second.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from syncline.media.audio import read_audio
from syncline.represent.frames import image_rgb, per_second_frames

NS = 1_000_000_000


@dataclass(frozen=True)
class Representation:
    name: str
    version: str
    modality: str
    dim: int
    config: dict[str, Any]

    @property
    def representation_id(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def config_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()[:16]

    def row(self) -> dict[str, Any]:
        return {"representation_id": self.representation_id, "name": self.name, "version": self.version,
                "modality": self.modality, "dim": self.dim, "config_hash": self.config_hash,
                "config_json": json.dumps(self.config, sort_keys=True)}


LOGMEL = Representation("logmel-1s", "1", "audio", 40,
                        {"rate": 16000, "n_fft": 400, "hop": 160, "bands": 40, "fmax": 8000, "window_s": 1.0})
GRID = Representation("grid-colour-edges", "1", "image", 4 * 4 * 11, {"grid": 4, "orientation_bins": 8})
GRID_VIDEO = Representation("grid-colour-edges-1s", "1", "video", 4 * 4 * 11,
                            {"grid": 4, "orientation_bins": 8, "per_second": True})
MOTION = Representation("motion-energy-1s", "1", "video", 4 * 4 + 1,
                        {"grid": 4, "window_s": 1.0, "max_width": 640, "diff": "abs gray, consecutive frames"})


@dataclass(frozen=True)
class Features:
    representation: Representation
    t0_ns: list[int]
    t1_ns: list[int]
    vectors: np.ndarray  # (n, dim) float32


def mel_filterbank(rate: int, n_fft: int, bands: int, fmax: float) -> np.ndarray:
    """(bands, n_fft // 2 + 1) triangular filters evenly spaced on the mel scale from 0 Hz."""
    def mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    edges = hz(np.linspace(0.0, float(mel(np.array(fmax))), bands + 2))
    freqs = np.arange(n_fft // 2 + 1) * rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - freqs) / np.maximum(hi - mid, 1e-9)
    return np.asarray(np.clip(np.minimum(up, down), 0.0, None), np.float64)


def audio_features(path: Path) -> Features:
    from scipy.signal import resample_poly

    cfg = LOGMEL.config
    samples, rate, start_ns = read_audio(path)
    mono = samples.mean(axis=0) if samples.shape[0] else np.zeros(0, np.float32)
    if rate != cfg["rate"]:
        g = int(np.gcd(int(rate), int(cfg["rate"])))
        mono = resample_poly(mono, cfg["rate"] // g, int(rate) // g)
    n_fft, hop = cfg["n_fft"], cfg["hop"]
    n_frames = max(0, (len(mono) - n_fft) // hop + 1)
    if n_frames == 0:
        return Features(LOGMEL, [], [], np.zeros((0, LOGMEL.dim), np.float32))
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    power = np.abs(np.fft.rfft(mono[idx] * np.hanning(n_fft), axis=1)) ** 2
    mel = np.log(power @ mel_filterbank(cfg["rate"], n_fft, cfg["bands"], cfg["fmax"]).T + 1e-10)
    per = int(round(cfg["window_s"] * cfg["rate"] / hop))
    n_full, rem = divmod(n_frames, per)
    parts = [mel[: n_full * per].reshape(n_full, per, -1).mean(axis=1)] if n_full else []
    if rem >= per // 2 or not n_full:  # a last part-window of at least half a second counts
        parts.append(mel[n_full * per:].mean(axis=0)[None])
    vectors = np.concatenate(parts)
    win_ns = int(cfg["window_s"] * NS)
    end_ns = start_ns + len(mono) * NS // cfg["rate"]
    t0 = [start_ns + i * win_ns for i in range(len(vectors))]
    return Features(LOGMEL, t0, [min(t + win_ns, end_ns) for t in t0], vectors.astype(np.float32))


def grid_vector(rgb: np.ndarray, grid: int = 4, bins: int = 8) -> np.ndarray:
    """Mean colour (3) and a magnitude-weighted gradient-orientation histogram (``bins``) per
    cell of a ``grid`` x ``grid`` layout, in [0, 1]."""
    img = rgb.astype(np.float32) / 255.0
    gray = img.mean(axis=2)
    gy, gx = np.gradient(gray)
    mag, ang = np.hypot(gx, gy), np.mod(np.arctan2(gy, gx), np.pi)
    b = np.minimum((ang / np.pi * bins).astype(int), bins - 1)
    h, w = gray.shape
    ys, xs = np.linspace(0, h, grid + 1).astype(int), np.linspace(0, w, grid + 1).astype(int)
    out = []
    for i in range(grid):
        for j in range(grid):
            cell = (slice(ys[i], ys[i + 1]), slice(xs[j], xs[j + 1]))
            colour = img[cell].reshape(-1, 3).mean(axis=0) if img[cell].size else np.zeros(3)
            hist = np.bincount(b[cell].ravel(), weights=mag[cell].ravel(), minlength=bins)
            out += [colour, hist / max(float(hist.sum()), 1e-9)]
    return np.concatenate(out).astype(np.float32)


def image_features(path: Path) -> Features:
    return Features(GRID, [0], [0], grid_vector(image_rgb(path))[None])


def video_features(path: Path) -> Features:
    """One grid vector per second: of the frame nearest the middle of that second."""
    t0: list[int] = []
    vecs: list[np.ndarray] = []
    for t, rgb in per_second_frames(path):
        t0.append(t)
        vecs.append(grid_vector(rgb))
    arr = np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, GRID_VIDEO.dim), np.float32)
    return Features(GRID_VIDEO, t0, [t + NS for t in t0], arr)


def motion_features(path: Path) -> Features:
    """Per second (by the later frame's time): the mean absolute difference of consecutive gray
    frames per grid cell and overall, over 255. Frames wider than ``max_width`` are subsampled;
    frames without a time are skipped; a change of frame size starts afresh."""
    from syncline.media.video import video_frames

    grid, max_width = MOTION.config["grid"], MOTION.config["max_width"]
    sums: dict[int, np.ndarray] = {}
    counts: dict[int, int] = {}
    prev: np.ndarray | None = None
    cuts: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for t, frame in video_frames(path):
        if t is None:
            continue
        gray = frame.to_ndarray(format="gray")
        step = -(-gray.shape[1] // max_width)
        cur = gray[::step, ::step].astype(np.float32)
        if prev is not None and prev.shape == cur.shape:
            if cur.shape not in cuts:
                h, w = cur.shape
                ys, xs = np.linspace(0, h, grid + 1).astype(int), np.linspace(0, w, grid + 1).astype(int)
                area = np.maximum(np.outer(np.diff(ys), np.diff(xs)).ravel(), 1).astype(np.float64)
                cuts[cur.shape] = (np.minimum(ys[:-1], h - 1), np.minimum(xs[:-1], w - 1), area)
            ys0, xs0, area = cuts[cur.shape]
            d = np.abs(cur - prev)
            cells = np.add.reduceat(np.add.reduceat(d, ys0, axis=0), xs0, axis=1).ravel() / area
            sec = t // NS
            sums[sec] = sums.get(sec, 0.0) + np.r_[np.minimum(cells, 255.0), d.mean()]
            counts[sec] = counts.get(sec, 0) + 1
        prev = cur
    secs = sorted(sums)
    vectors = np.stack([sums[k] / counts[k] / 255.0 for k in secs]) if secs else np.zeros((0, MOTION.dim))
    return Features(MOTION, [k * NS for k in secs], [(k + 1) * NS for k in secs], vectors.astype(np.float32))


EXTRACTORS: dict[str, Callable[[Path], Features]] = {
    LOGMEL.representation_id: audio_features, GRID.representation_id: image_features,
    GRID_VIDEO.representation_id: video_features, MOTION.representation_id: motion_features,
}


def features_for(path: Path, modality: str) -> Features:
    """The default built-in of a modality (what an embeddings-only ingest keeps)."""
    return {"audio": audio_features, "image": image_features, "video": video_features}[modality](path)
