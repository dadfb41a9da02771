"""A small farm with known sounds, for representation and pipeline tests: pens with a camera
(the same test pattern everywhere, so video carries nothing) and a microphone whose every 2 s
window holds its own pair of tones over faint noise. Pen-1 hears a copy of pen-0's sounds."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
from mediafiles import make_video

RATE, SECONDS, WINDOW = 16000, 20, 2
SET_A, SET_B = (300, 520, 870, 1400, 2300, 3700), (410, 690, 1100, 1800, 2900, 4600)


def write_mic(path: Path, pairs: list[tuple[int, int]], rng: np.random.Generator) -> None:
    t = np.arange(SECONDS * RATE) / RATE
    x = 0.003 * rng.normal(size=t.size)
    for k, (f1, f2) in enumerate(pairs):
        a, b = k * WINDOW * RATE, (k + 1) * WINDOW * RATE
        x[a:b] += 0.2 * np.sin(2 * np.pi * f1 * t[a:b]) + 0.1 * np.sin(2 * np.pi * f2 * t[a:b])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes())


def tone_pairs(rng: np.random.Generator, tones: tuple[int, ...]) -> list[tuple[int, int]]:
    every = [(a, b) for i, a in enumerate(tones) for b in tones[i + 1:]]
    return [every[i] for i in rng.choice(len(every), SECONDS // WINDOW, replace=False)]


def make_tone_farm(data: Path, *, pens: int = 4, seed: int = 3,
                   no_mic: tuple[str, ...] = ()) -> dict[str, list[tuple[int, int]]]:
    """Write ``data/pen-i/{cam.mp4,mic.wav}``; return each pen's tone pairs, window by window."""
    rng = np.random.default_rng(seed)
    sounds = {"pen-0": tone_pairs(rng, SET_A)}
    sounds["pen-1"] = sounds["pen-0"]
    sounds |= {f"pen-{i}": tone_pairs(rng, SET_B) for i in range(2, pens)}
    for pen, pairs in sounds.items():
        folder = data / pen
        folder.mkdir(parents=True)
        make_video(folder, "cam.mp4", seconds=SECONDS, fps=5, audio=False, tags={"comment": pen})
        if pen not in no_mic:
            write_mic(folder / "mic.wav", pairs, rng)
    return sounds
