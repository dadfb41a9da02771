"""The compute plan's arithmetic against a real transformer (torch, the dev extra): a ViT-style
encoder built to the plan's model shape — patch embedding of the sampled frames, audio frames
projected to tokens, transformer blocks of the plan's width, depth and heads — has the token
count the plan says, the parameters of its blocks within 1 %, and the FLOPs torch's own
counter measures within 10 %. (Latency on a device is measured in ``benchmarks/bench_plan.py``:
no timing is asserted in tests.)"""

from __future__ import annotations

import pytest

from syncline.plan import Media, ModelShape, estimate

torch = pytest.importorskip("torch", reason="torch is in the dev extra; CI installs it")  # noqa: F841
pytestmark = pytest.mark.functional


def _encoder(model: ModelShape) -> tuple[torch.nn.Module, torch.nn.Module, torch.nn.Module]:
    patch = torch.nn.Conv2d(3, model.width, kernel_size=model.patch, stride=model.patch)
    audio = torch.nn.Linear(64, model.width)  # 64 mel bands per audio frame -> one token
    layer = torch.nn.TransformerEncoderLayer(model.width, model.heads, dim_feedforward=4 * model.width, dropout=0.0,
                                             batch_first=True)
    blocks = torch.nn.TransformerEncoder(layer, model.layers, enable_nested_tensor=False)
    return patch, audio, blocks


@pytest.mark.parametrize("model, window_s", [
    (ModelShape(frames_per_s=1.0, image=224, patch=16, audio_tokens_per_s=50, width=256, layers=4, heads=4), 2.0),
    (ModelShape(frames_per_s=2.0, image=112, patch=16, audio_tokens_per_s=25, width=384, layers=2, heads=6), 1.0),
    (ModelShape(frames_per_s=0.5, image=224, patch=32, use_audio=False, width=192, layers=3, heads=3), 4.0),
])
def test_the_plan_matches_a_real_transformer(model: ModelShape, window_s: float) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    est = estimate(Media(320, 240, 8.0, 16000, 1), model, window_s, "cpu-2core")
    patch, audio, blocks = _encoder(model)
    blocks.train()  # the plain path (the CPU inference fast path fuses ops the counter cannot see); no dropout
    frames = int(round(model.frames_per_s * window_s)) if model.use_video else 0
    with torch.no_grad():
        parts = []
        if frames:
            pixels = torch.randn(frames, 3, model.image, model.image)
            parts.append(patch(pixels).flatten(2).transpose(1, 2).reshape(1, -1, model.width))
        if model.use_audio:
            parts.append(audio(torch.randn(1, int(round(model.audio_tokens_per_s * window_s)), 64)))
        tokens = torch.cat(parts, dim=1)
        assert tokens.shape[1] == est["tokens"]  # the plan's token count is what the encoder makes
        counter = FlopCounterMode(display=False)
        with counter, sdpa_kernel(SDPBackend.MATH):  # attention as plain matrix products, which the counter sees
            out = blocks(tokens)
    assert out.shape == tokens.shape
    block_params = sum(p.numel() for p in blocks.parameters())
    assert block_params == pytest.approx(est["params_m"] * 1e6, rel=0.01)
    assert counter.get_total_flops() == pytest.approx(est["gflops"] * 1e9, rel=0.10)
