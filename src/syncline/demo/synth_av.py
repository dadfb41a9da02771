"""Seeded audio+video clips with planted, known sync truth, for tests and benchmarks.

``make_av_clip(folder, seed=..., shift_s=...)`` renders a gray scene with events that are both
visible (a flash, an object appearing, a burst of motion, each with a duration) and audible (a
click, clap or thud), encodes the video with libx264 and the audio as AAC (m4a), MP3, Opus
(ogg/webm) or WAV, and returns ``SynthAV`` with the truth: ``shift_ns`` such that an event at
video-local time ``t`` is heard at audio-local time ``t + shift_ns`` (the lag convention of
``align.types``), and every event time on both timelines.

The scene keeps happening before and after the camera rolls, so the audio hears events the
video does not show (as a real recorder started earlier would). Frames integrate light over
the whole frame interval (a 360-degree shutter): an event starting inside a frame's exposure
shows partially in that frame, and a frame's timestamp is the start of its exposure.

Kinds: ``events`` (the normal case), ``long`` (long appear/vanish events of one fixed duration:
the end is as visible as the start), ``toggle`` (a large region switches state and back after a
fixed time: both edges look alike), ``no_cue_motion`` (random visual activity, audio clicks at
unrelated times), ``no_cue_static`` (static scene, clicks), ``no_cue_noise`` (random activity,
audio with no onsets), ``silent`` (events visible, audio digitally silent).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

KINDS = ("events", "long", "toggle", "double", "no_cue_motion", "no_cue_static", "no_cue_noise", "silent")
AUDIO_FORMATS = ("m4a", "mp3", "ogg", "webm", "wav")
_SUBSAMPLES = 8  # exposure integration steps per frame
_NOISE_FRAMES = 8


@dataclass(frozen=True)
class SynthAV:
    """A generated clip and its truth (integer nanoseconds, each file's local timeline)."""

    video: Path
    audio: Path
    shift_ns: int
    video_events_ns: tuple[int, ...]
    audio_events_ns: tuple[int, ...]
    fps: int
    size: tuple[int, int]
    kind: str
    audio_format: str
    seconds: float
    seed: int


@dataclass(frozen=True)
class _Event:
    t: float  # world = video-local seconds
    dur: float
    style: str  # flash | appear | burst | toggle
    box: tuple[int, int, int, int]  # x0, y0, x1, y1
    level: float  # target gray level (flash: added brightness)
    vx: float = 0.0  # burst velocity, pixels per second
    sound: str = "click"


def _run(cmd: list[str], stdin: bytes | None = None) -> None:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.decode(errors='replace').strip()[-400:]}")


def _ffmpeg(*args: str) -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]


def _event_times(rng: np.random.Generator, start: float, end: float, per_min: float,
                 min_gap: float) -> np.ndarray:
    mean_gap = max(60.0 / per_min, min_gap * 1.05)
    times: list[float] = []
    t = start + rng.uniform(0, mean_gap)
    while t < end:
        times.append(t)
        t += min_gap + rng.exponential(mean_gap - min_gap)
    return np.asarray(times)


def _box(rng: np.random.Generator, w: int, h: int, lo: float, hi: float) -> tuple[int, int, int, int]:
    bw, bh = int(w * rng.uniform(lo, hi)), int(h * rng.uniform(lo, hi))
    x0, y0 = int(rng.integers(0, max(1, w - bw))), int(rng.integers(0, max(1, h - bh)))
    return x0, y0, x0 + max(2, bw), y0 + max(2, bh)


def _plan_events(rng: np.random.Generator, kind: str, times: np.ndarray, w: int, h: int,
                 fps: int) -> list[_Event]:
    events: list[_Event] = []
    fixed = float(rng.uniform(0.6, 1.0))
    sounds = ("click", "clap", "thud")
    for t in times:
        sound = sounds[int(rng.integers(0, 3))]
        if kind == "long":
            box = _box(rng, w, h, 0.2, 0.35)
            events.append(_Event(t, fixed, "appear", box, float(rng.choice([20.0, 235.0])), sound=sound))
        elif kind == "double":
            box = _box(rng, w, h, 0.4, 0.7)
            dur = 3.0 / fps
            events.append(_Event(t, dur, "flash", box, 70.0, sound=sound))
            events.append(_Event(t + fixed * 0.5, dur, "flash", box, 70.0, sound="none"))
        elif kind == "toggle":
            events.append(_Event(t, fixed, "toggle", (w // 4, h // 4, 3 * w // 4, 3 * h // 4), 200.0,
                                 sound=sound))
        else:
            style = ("flash", "appear", "burst")[int(rng.integers(0, 3))]
            if style == "flash":
                dur = float(rng.uniform(2.0, 6.0)) / fps
                events.append(_Event(t, dur, "flash", _box(rng, w, h, 0.4, 0.7), 70.0, sound=sound))
            elif style == "appear":
                dur = float(rng.uniform(0.15, 0.5))
                level = float(rng.choice([15.0, 240.0]))
                events.append(_Event(t, dur, "appear", _box(rng, w, h, 0.12, 0.25), level, sound=sound))
            else:
                dur = float(rng.uniform(0.2, 0.5))
                box = _box(rng, w // 2, h, 0.2, 0.35)
                events.append(_Event(t, dur, "burst", box, float(rng.choice([15.0, 240.0])),
                                     vx=float(rng.uniform(0.6, 1.2)) * w, sound=sound))
    return events


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    coarse = rng.uniform(60, 190, size=(h // 20 + 2, w // 20 + 2))
    ys = np.linspace(0, coarse.shape[0] - 1.001, h)
    xs = np.linspace(0, coarse.shape[1] - 1.001, w)
    yi, xi = ys.astype(int), xs.astype(int)
    fy, fx = (ys - yi)[:, None], (xs - xi)[None, :]
    c = coarse
    img = (c[yi][:, xi] * (1 - fy) * (1 - fx) + c[yi + 1][:, xi] * fy * (1 - fx)
           + c[yi][:, xi + 1] * (1 - fy) * fx + c[yi + 1][:, xi + 1] * fy * fx)
    return np.asarray(img, np.float32)


def _draw(img: np.ndarray, base: np.ndarray, ev: _Event, t: float, weight: float) -> None:
    """Add ``weight`` (a share of one exposure) of event ``ev``'s look at time ``t``."""
    x0, y0, x1, y1 = ev.box
    if ev.style == "flash":
        img[y0:y1, x0:x1] += ev.level * weight
        return
    if ev.style == "burst":
        shift = int(ev.vx * (t - ev.t))
        x0, x1 = x0 + shift, x1 + shift
        x0, x1 = max(0, x0), min(img.shape[1], x1)
        if x1 <= x0:
            return
    img[y0:y1, x0:x1] += (ev.level - base[y0:y1, x0:x1]) * weight


def _render(path: Path, events: list[_Event], *, seconds: float, fps: int, size: tuple[int, int],
            rng: np.random.Generator, static: bool) -> None:
    w, h = size
    base = _background(rng, w, h)
    noise = [rng.normal(0, 1.5, size=(h, w)).astype(np.float32) for _ in range(_NOISE_FRAMES)]
    n_frames = max(1, int(round(seconds * fps)))
    starts = np.asarray([e.t for e in events]) if events else np.zeros(0)
    ends = np.asarray([e.t + e.dur for e in events]) if events else np.zeros(0)
    frames = np.empty((n_frames, h, w), np.uint8)
    sub = (np.arange(_SUBSAMPLES) + 0.5) / _SUBSAMPLES
    for k in range(n_frames):
        t0, t1 = k / fps, (k + 1) / fps
        img = base.copy()
        if not static:
            img += noise[int(rng.integers(0, _NOISE_FRAMES))]
            for i in np.nonzero((starts < t1) & (ends > t0))[0]:
                ev = events[int(i)]
                for ts in t0 + sub / fps:
                    if ev.t <= ts < ev.t + ev.dur:
                        _draw(img, base, ev, float(ts), 1.0 / _SUBSAMPLES)
        frames[k] = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    _run(_ffmpeg("-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
                 "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                 "-g", str(2 * fps), str(path)), stdin=frames.tobytes())


def _sound(rng: np.random.Generator, kind: str, sr: int) -> np.ndarray:
    if kind == "click":
        n = int(0.01 * sr)
        return (rng.normal(0, 1, n) * np.exp(-np.arange(n) / (0.0015 * sr))).astype(np.float32)
    if kind == "clap":
        n = int(0.08 * sr)
        x = np.diff(rng.normal(0, 1, n + 1)) * 0.6
        return (x * np.exp(-np.arange(n) / (0.012 * sr))).astype(np.float32)
    n = int(0.2 * sr)
    tt = np.arange(n) / sr
    thud = np.sin(2 * np.pi * 90 * tt) * np.exp(-tt / 0.05) + 0.3 * rng.normal(0, 1, n) * np.exp(-tt / 0.004)
    return thud.astype(np.float32)


def _audio(rng: np.random.Generator, events: list[_Event], *, seconds: float, shift: float, sr: int,
           mode: str) -> np.ndarray:
    """Audio-local samples; ``mode`` = events | unrelated | noise | silent."""
    n = int(round(seconds * sr))
    if mode == "silent":
        return np.zeros(n, np.float32)
    x = rng.normal(0, 10 ** (-55 / 20), n).astype(np.float32)
    if mode == "noise":
        tt = np.arange(n) / sr
        x += 0.05 * np.sin(2 * np.pi * 220 * tt).astype(np.float32)
        x += rng.normal(0, 0.05, n).astype(np.float32)
        return x
    for ev in events:
        if ev.sound == "none":
            continue
        start = int(round((ev.t + shift) * sr))
        snd = _sound(rng, ev.sound, sr) * float(rng.uniform(0.3, 0.8))
        lo, hi = max(0, start), min(n, start + len(snd))
        if hi > lo:
            x[lo:hi] += snd[lo - start:hi - start]
    return np.clip(x, -1, 1)


def transcode_audio(src: Path, fmt: str, dest: Path | None = None) -> Path:
    """Re-encode a clip's audio (e.g. its WAV) as ``fmt``; the truth of the clip still holds."""
    if fmt not in AUDIO_FORMATS:
        raise ValueError(f"fmt must be one of {AUDIO_FORMATS}")
    dest = dest or Path(src).with_name(f"{Path(src).stem}_as.{fmt}")
    _encode_audio(Path(src), dest, fmt)
    return dest


def _encode_audio(wav: Path, dest: Path, fmt: str) -> None:
    codec = {"m4a": ["-c:a", "aac", "-b:a", "128k"], "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
             "ogg": ["-c:a", "libopus", "-b:a", "64k"], "webm": ["-c:a", "libopus", "-b:a", "64k"],
             "wav": ["-c:a", "pcm_s16le"]}[fmt]
    _run(_ffmpeg("-i", str(wav), *codec, str(dest)))


def make_av_clip(
    folder: Path,
    *,
    seed: int,
    kind: str = "events",
    seconds: float = 20.0,
    fps: int = 25,
    size: tuple[int, int] = (320, 180),
    shift_s: float = 0.0,
    audio_format: str = "m4a",
    events_per_min: float = 30.0,
    sample_rate: int = 48000,
    mux: bool = False,
    name: str | None = None,
) -> SynthAV:
    """Write ``<name>.mp4`` (video) and ``<name>_audio.<fmt>`` (or one muxed file) into ``folder``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if audio_format not in AUDIO_FORMATS:
        raise ValueError(f"audio_format must be one of {AUDIO_FORMATS}")
    if audio_format in ("ogg", "webm"):
        sample_rate = 48000  # Opus encodes 48 kHz
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = name or f"av_{kind}_{seed}_{fps}_{audio_format}"
    rng = np.random.default_rng(seed)
    w, h = size
    margin = abs(shift_s) + 1.0
    min_gap = 2.2 if kind in ("long", "toggle", "double") else 0.5
    if kind == "toggle":
        per_min = min(events_per_min, 60.0 / 2.2)
    else:
        per_min = events_per_min
    times = _event_times(rng, -margin, seconds + margin, per_min, min_gap)
    events = _plan_events(rng, kind, times, w, h, fps)
    shown = [] if kind == "no_cue_static" else events
    if kind.startswith("no_cue") and kind != "no_cue_static":
        shown = _plan_events(rng, "events", _event_times(rng, 0, seconds, per_min * 1.5, 0.3), w, h, fps)
    if kind == "toggle":
        shown = events
    video = folder / f"{stem}.mp4"
    _render(video if not mux else folder / f"{stem}_v.mp4", shown, seconds=seconds, fps=fps, size=size,
            rng=rng, static=kind == "no_cue_static")
    mode = {"silent": "silent", "no_cue_noise": "noise"}.get(kind, "events")
    audio_rng = np.random.default_rng(seed + 7_919) if kind.startswith("no_cue") else rng
    if kind in ("no_cue_motion", "no_cue_static"):
        heard = _plan_events(audio_rng, "events",
                             _event_times(audio_rng, -margin, seconds + margin, per_min, 0.5), w, h, fps)
    else:
        heard = events
    samples = _audio(audio_rng, heard, seconds=seconds, shift=shift_s, sr=sample_rate, mode=mode)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "a.wav"
        sf.write(wav, samples, sample_rate, subtype="PCM_16")
        if mux:
            mux_codec = {"m4a": "aac", "mp3": "libmp3lame", "ogg": "libopus", "webm": "libopus",
                         "wav": "pcm_s16le"}[audio_format]
            video = folder / (f"{stem}.mp4" if audio_format in ("m4a", "mp3") else f"{stem}.mkv")
            _run(_ffmpeg("-i", str(folder / f"{stem}_v.mp4"), "-i", str(wav), "-map", "0:v", "-map", "1:a",
                         "-c:v", "copy", "-c:a", mux_codec, str(video)))
            (folder / f"{stem}_v.mp4").unlink()
            audio = video
        else:
            audio = folder / f"{stem}_audio.{audio_format}"
            _encode_audio(wav, audio, audio_format)
    ns = 1_000_000_000
    v_events = tuple(int(round(e.t * ns)) for e in shown if 0 <= e.t < seconds)
    a_events = tuple(int(round((e.t + shift_s) * ns)) for e in heard
                     if 0 <= e.t + shift_s < seconds and e.sound != "none")
    return SynthAV(video=video, audio=audio, shift_ns=int(round(shift_s * ns)), video_events_ns=v_events,
                   audio_events_ns=a_events, fps=fps, size=size, kind=kind, audio_format=audio_format,
                   seconds=seconds, seed=seed)


def make_one_frame_video(folder: Path, name: str = "one_frame.mp4", size: tuple[int, int] = (160, 90)) -> Path:
    """A video with a single frame (a still exported as a clip)."""
    path = Path(folder) / name
    rng = np.random.default_rng(0)
    frame = _background(rng, *size).astype(np.uint8)
    _run(_ffmpeg("-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{size[0]}x{size[1]}", "-r", "25", "-i", "-",
                 "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)), stdin=frame.tobytes())
    return path
