"""Encoders for the demo world: NumPy arrays piped to ffmpeg, and espeak-ng speech.

Every ffmpeg call is single-threaded and bit-exact (no creation time, no library version in
the container), so the same arrays give the same bytes; the caller runs two at a time.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

_FFMPEG_COMMON = ["-hide_banner", "-loglevel", "error", "-y"]
_BITEXACT = ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags", "+bitexact"]


class DemoToolError(RuntimeError):
    """ffmpeg or espeak-ng is missing or failed; the message says which and how to fix it."""


def require_tools() -> None:
    missing = [t for t in ("ffmpeg", "espeak-ng") if shutil.which(t) is None]
    if missing:
        raise DemoToolError(
            f"the demo world needs {', '.join(missing)} on PATH; "
            "install them with `make deps` (Debian: ffmpeg espeak-ng)"
        )


def _run(cmd: list[str], data: bytes, what: str) -> None:
    proc = subprocess.run(cmd, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise DemoToolError(f"{what} failed: {err[-1] if err else 'no message'}")


def encode_h264(frames: np.ndarray, fps: int, out: Path, *, crf: int = 28) -> None:
    """(N, H, W, 3) uint8 RGB frames to H.264 (yuv420p) in MP4 at a constant ``fps``."""
    n, h, w, _ = frames.shape
    cmd = [
        "ffmpeg", *_FFMPEG_COMMON,
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", str(fps),
        "-i", "pipe:0", "-an",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-g", str(2 * fps),
        "-pix_fmt", "yuv420p", "-threads", "1", "-movflags", "+faststart",
        *_BITEXACT, str(out),
    ]
    _run(cmd, np.ascontiguousarray(frames, dtype=np.uint8).tobytes(), f"ffmpeg H.264 encode of {out.name}")


def encode_aac(samples: np.ndarray, sample_rate: int, out: Path, *, bitrate: str = "48k") -> None:
    """Mono int16 samples to AAC-LC in an MP4 (.m4a) container."""
    cmd = [
        "ffmpeg", *_FFMPEG_COMMON,
        "-f", "s16le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0",
        "-c:a", "aac", "-b:a", bitrate, "-threads", "1", "-movflags", "+faststart",
        *_BITEXACT, str(out),
    ]
    _run(cmd, np.ascontiguousarray(samples, dtype="<i2").tobytes(), f"ffmpeg AAC encode of {out.name}")


def write_wav(samples: np.ndarray, sample_rate: int, out: Path) -> None:
    sf.write(str(out), np.asarray(samples, dtype=np.int16), sample_rate, subtype="PCM_16")


def to_int16(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] to int16; anything beyond is hard-clipped to ±32767."""
    pcm: np.ndarray = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
    return pcm


def espeak(text: str, voice: str, out: Path, *, words_per_minute: int = 150) -> tuple[np.ndarray, int]:
    """Speak ``text`` with espeak-ng into ``out`` (WAV); returns (float samples, sample rate)."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(out), text]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or not out.exists():
        raise DemoToolError(f"espeak-ng failed for voice {voice}: {proc.stderr.decode(errors='replace')}")
    data, rate = sf.read(str(out), dtype="float64", always_2d=False)
    samples: np.ndarray = np.asarray(data, dtype=np.float64)
    return samples, int(rate)
