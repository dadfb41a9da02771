"""The compute plan's arithmetic, checked by hand on round numbers, and its reductions."""

from __future__ import annotations

import pytest

from syncline.plan import DEVICES, SUSTAINED, Media, ModelShape, estimate, reductions, verdicts
from syncline.task.spec import Budget

MEDIA = Media(width=640, height=360, fps=25.0, audio_rate=16000, audio_channels=1)


def test_estimate_by_hand() -> None:
    m = ModelShape(frames_per_s=2, image=224, patch=16, audio_tokens_per_s=50, width=512, layers=8, heads=8,
                   bytes_per_value=2)
    e = estimate(MEDIA, m, 2.0, "t4")
    assert e["decoded_mb"] == pytest.approx((50 * 640 * 360 * 3 + 32000 * 4) / 1e6)
    assert e["frames"] == 4 and e["video_tokens"] == 4 * 14 * 14 and e["audio_tokens"] == 100
    tokens = 4 * 196 + 100
    params = 12 * 8 * 512 ** 2
    assert e["params_m"] == pytest.approx(params / 1e6)
    flops = 2 * params * tokens + 4 * 8 * tokens ** 2 * 512
    assert e["gflops"] == pytest.approx(flops / 1e9)
    assert e["memory_gb"] == pytest.approx(((tokens * 512 * 8 + 8 * tokens ** 2) * 2 + params * 2) / 1e9)  # GB
    decode_s = e["decoded_mb"] * 1e6 / (DEVICES["t4"]["decode_mb_s"] * 1e6)
    assert e["latency_ms"] == pytest.approx(1000 * (flops / (DEVICES["t4"]["flops"] * SUSTAINED) + decode_s))
    audio_only = estimate(MEDIA, ModelShape(use_video=False), 2.0, "t4")
    assert audio_only["video_tokens"] == 0 and audio_only["decoded_mb"] == pytest.approx(32000 * 4 / 1e6)


def test_verdicts_follow_the_budget_and_reductions_shrink_the_footprint() -> None:
    budget = Budget(p95_latency_ms=100, max_gpu_memory_gb=0, cpu_only=True, cost_per_1000_decisions=1.0)
    e = estimate(MEDIA, ModelShape(), 2.0, "cpu-2core")
    v = verdicts(e, budget, "cpu-2core")
    assert v == {"p95_latency_ms": e["latency_ms"] <= 100, "cost_per_1000_decisions": True}
    assert not verdicts(e, budget, "t4")["cpu_only"]
    base = e["tokens"]
    options = reductions(ModelShape(), 2.0)
    assert [t.split()[0] for t, _, _ in options] == ["sample", "images", "patches", "windows", "drop"]
    for _, shape, window in options:
        assert estimate(MEDIA, shape, window, "cpu-2core")["tokens"] < base
