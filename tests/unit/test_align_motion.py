"""The chunked motion accumulator: planted motion and defects, and results that do not depend on
where chunk boundaries fall (chunk=1 is the frame-at-a-time computation)."""

from __future__ import annotations

import numpy as np
import pytest

from syncline.align.motion import MotionAccumulator


def _scene(seed: int, n: int = 300) -> tuple[list[np.ndarray], dict[str, list[int]]]:
    """Noisy 90x160 frames with a bright square appearing at planted frames, black frames and
    frozen runs; returns the frames and where each thing was planted."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 120, (90, 160)).astype(np.int16)
    frames: list[np.ndarray] = []
    planted: dict[str, list[int]] = {"appear": [], "black": [], "frozen_end": []}
    k = 0
    while k < n:
        r = rng.random()
        if r < 0.03 and k > 5:
            for _ in range(3):
                frames.append(np.zeros((90, 160), np.uint8))
                planted["black"].append(len(frames) - 1)
            k += 3
            continue
        if r < 0.06 and frames:
            for _ in range(20):  # a frozen feed: 20 identical frames (frozen_run below is 12)
                frames.append(frames[-1].copy())
            planted["frozen_end"].append(len(frames))
            k += 20
            continue
        f = base + rng.normal(0, 2, base.shape)
        if r < 0.15:
            y, x = rng.integers(0, 60), rng.integers(0, 130)
            f[y : y + 30, x : x + 30] = 250
            planted["appear"].append(len(frames))
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
        k += 1
    return frames, planted


def _run(frames: list[np.ndarray], chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    acc = MotionAccumulator(alpha=1 / 75, frozen_run=12, chunk=chunk)
    for f in frames:
        acc.add(f)
    return acc.finish()


# (sum, nonzero count) of (raw, energy, foreground) from the frame-at-a-time accumulator that
# motion.py replaced (commit 70e34ad, align/signals.py), on the same scenes: the rewrite is pinned to it
FRAME_AT_A_TIME = {
    0: [(1379.197292, 199), (746.060101, 188), (814.530783, 310)],
    1: [(1587.881944, 142), (446.598674, 122), (1279.214519, 299)],
    2: [(2231.098056, 181), (777.363868, 159), (2034.843476, 299)],
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_results_equal_the_frame_at_a_time_code_whatever_the_chunk(seed: int) -> None:
    frames, _ = _scene(seed)
    one = _run(frames, 1)
    assert [(round(float(x.sum()), 6), int(np.count_nonzero(x))) for x in one] == FRAME_AT_A_TIME[seed]
    for chunk in (7, 64, 1000):
        for a, b in zip(one, _run(frames, chunk), strict=True):
            np.testing.assert_array_equal(a, b)


def test_planted_squares_show_as_change_and_defects_do_not() -> None:
    frames, planted = _scene(3)
    raw, energy, foreground = _run(frames, 64)
    assert len(raw) == len(energy) == len(foreground) == len(frames)
    noise = float(np.median(energy[energy > 0]))
    appear = [k for k in planted["appear"] if k - 1 not in planted["black"] and k not in planted["frozen_end"]]
    assert appear, "the scene must plant squares"
    # a 30x30 square at gray 250 over a ~80 background changes 6 % of the picture by ~170 levels
    assert np.all(energy[appear] > 4 * noise)
    assert np.all(np.diff(foreground)[np.array(appear) - 1] > 0)  # the square adds to the foreground
    black = np.array(planted["black"])
    assert np.all(energy[black] == 0.0) and np.all(raw[black[::3]] > 20)  # the cut is a change, not motion
    after_black = black[2::3] + 1
    after_black = after_black[after_black < len(frames)]
    assert np.all(energy[after_black] == 0.0)  # the feed coming back is not motion either
    ends = [k for k in planted["frozen_end"] if k < len(frames)]
    assert np.all(energy[ends] == 0.0)  # motion piled up during a frozen run is not credited to one frame


def test_a_new_frame_size_restarts_without_losing_frames() -> None:
    frames, _ = _scene(4, n=80)
    small = [f[::2, ::2].copy() for f in frames[:50]]
    raw, energy, _ = _run(frames[:100] + small, 16)
    assert len(raw) == len(frames[:100]) + len(small)
    assert raw[len(frames[:100])] == 0.0 and energy[len(frames[:100])] == 0.0
