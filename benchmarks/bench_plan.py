"""The compute plan's latency against a real transformer on this machine's CPU.

    .venv/bin/python benchmarks/bench_plan.py [--threads 2] [--repeats 5]

For a few model shapes, builds the encoder of ``tests/functional/test_plan_transformer.py``
(the plan's token count, width, depth and heads; random weights, nothing downloaded) and times
the transformer blocks' forward pass on one window in inference mode (torch's CPU fast path),
median of ``--repeats``; prints it beside the plan's compute time for ``cpu-2core`` (FLOPs over
a third of 1e11 FLOP/s, decoding left out) and the FLOPs torch counts. Needs torch (the dev or
text extra).
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from syncline.plan import DEVICES, SUSTAINED, Media, ModelShape, estimate

    torch.set_num_threads(args.threads)
    media = Media(320, 240, 8.0, 16000, 1)
    shapes = [("ViT-S/16-like, 2 frames + 100 audio tokens", ModelShape(width=384, layers=12, heads=6), 2.0),
              ("the plan's default (width 512, 8 layers)", ModelShape(), 2.0),
              ("small: 1 frame of 112 px + 50 audio tokens", ModelShape(image=112, width=256, layers=4, heads=4), 1.0),
              ("long: 8 frames of 224 px", ModelShape(frames_per_s=2.0, use_audio=False, width=384, layers=6,
                                                      heads=6), 4.0)]
    print(f"torch {torch.__version__}, {args.threads} threads; plan device cpu-2core sustains "
          f"{DEVICES['cpu-2core']['flops'] * SUSTAINED:.2e} FLOP/s")
    print("| model | tokens | plan GFLOP | torch GFLOP | plan compute ms | measured ms | measured / plan |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, model, window in shapes:
        est = estimate(media, model, window, "cpu-2core")
        layer = torch.nn.TransformerEncoderLayer(model.width, model.heads, dim_feedforward=4 * model.width,
                                                 dropout=0.0, batch_first=True)
        blocks = torch.nn.TransformerEncoder(layer, model.layers, enable_nested_tensor=False)
        x = torch.randn(1, int(est["tokens"]), model.width)
        counter = FlopCounterMode(display=False)
        blocks.train()
        with torch.no_grad(), counter, sdpa_kernel(SDPBackend.MATH):  # attention as matrix products it sees
            blocks(x)
        blocks.eval()
        times = []
        with torch.inference_mode():
            blocks(x)  # warm-up
            for _ in range(args.repeats):
                t = time.perf_counter()
                blocks(x)
                times.append(time.perf_counter() - t)
        plan_ms = est["gflops"] * 1e9 / (DEVICES["cpu-2core"]["flops"] * SUSTAINED) * 1000
        ms = statistics.median(times) * 1000
        print(f"| {label} | {int(est['tokens'])} | {est['gflops']:.2f} | {counter.get_total_flops() / 1e9:.2f} | "
              f"{plan_ms:.0f} | {ms:.0f} | {ms / plan_ms:.2f} |")


if __name__ == "__main__":
    main()
