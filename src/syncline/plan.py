"""The compute plan: what one decision costs in bytes, tokens, memory and time, against the
task's budget — and which reductions would fit it.

For a window of ``window_s`` seconds the plan takes the project's media as they are (the median
video size and frame rate, the median audio rate and channels, from the catalog) and a model
described by a few numbers (``ModelShape``: frames sampled per second, image size and patch,
audio frames per second, width, depth, heads, bytes per value). Per sample (one window):

* *decoded bytes*: every frame of the window as RGB at its native size, plus the audio as float32;
* *tokens*: ``frames × (image / patch)²`` for video, ``window × audio tokens per second`` for audio;
* *parameters* ``12 · layers · width²`` (a transformer's blocks), *FLOPs* per sample
  ``2 · parameters · tokens + 4 · layers · tokens² · width`` (the matrix products and attention);
* *activation memory* at inference: the widest layer, ``tokens · width · 8 + heads · tokens²``
  values, plus the weights (in GB, as the task's budget is);
* *latency* on a named device: FLOPs over the device's sustained rate (a third of its peak),
  plus decoding at the device's host decode rate.

Against the task's ``budget`` (p95 latency, GPU memory, CPU only, cost per 1000 decisions) each
number passes or not; when one does not, the plan tries reductions one at a time (fewer frames,
a smaller image, a larger patch, a shorter window, dropping video) and lists those that fit.
The token count, parameters and FLOPs are checked against a real transformer built to the same
shape (``tests/functional/test_plan_transformer.py``: the FLOPs equal torch's own counter's);
the CPU device's rate is calibrated by ``benchmarks/bench_plan.py`` (measured against planned
latency in ``BENCHMARKS.md``); the GPU rates are vendor peaks, not measured here.
``check_against_run`` shows what a real run's traces recorded, to set beside the estimates.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, replace
from typing import Any

from syncline.catalog import query as Q
from syncline.project import Project

DEVICES = {  # peak dense FLOP/s (fp16 on GPUs, fp32 on the CPU), memory GiB, host decode MB/s, cost per hour
    # cpu-2core: a third of 3.6e11 is what a transformer's blocks sustained on 2 threads of this
    # project's CI-class machine (torch 2.13: 0.9-1.35e11 FLOP/s, benchmarks/bench_plan.py)
    "cpu-2core": {"flops": 3.6e11, "memory_gb": 0.0, "decode_mb_s": 400.0, "usd_per_hour": 0.05, "gpu": False},
    "t4": {"flops": 6.5e13, "memory_gb": 16.0, "decode_mb_s": 1500.0, "usd_per_hour": 0.35, "gpu": True},
    "a10": {"flops": 1.25e14, "memory_gb": 24.0, "decode_mb_s": 2000.0, "usd_per_hour": 0.75, "gpu": True},
    "h100": {"flops": 9.9e14, "memory_gb": 80.0, "decode_mb_s": 4000.0, "usd_per_hour": 2.50, "gpu": True},
}
SUSTAINED = 1 / 3  # share of peak a real model sustains


@dataclass(frozen=True)
class ModelShape:
    frames_per_s: float = 1.0
    image: int = 224
    patch: int = 16
    audio_tokens_per_s: float = 50.0
    width: int = 512
    layers: int = 8
    heads: int = 8
    bytes_per_value: int = 2
    use_video: bool = True
    use_audio: bool = True


@dataclass(frozen=True)
class Media:
    width: int
    height: int
    fps: float
    audio_rate: int
    audio_channels: int


def media_of(project: Project) -> Media:
    """The project's typical media: medians over its video and audio assets."""
    with project.catalog().connect() as con:
        rows = Q.media_rows(con)
        audio = Q.audio_formats(con)

    def med(values: list[float], default: float) -> float:
        return float(statistics.median(values)) if values else default

    video = [r for r in rows if r["modality"] == "video" and r.get("width")]
    return Media(int(med([r["width"] for r in video], 640)), int(med([r["height"] for r in video], 360)),
                 med([r["fps"] for r in video if r.get("fps")], 25.0), int(med([a[0] for a in audio], 16000)),
                 int(med([a[1] or 1 for a in audio], 1)))


def estimate(media: Media, model: ModelShape, window_s: float, device: str) -> dict[str, float]:
    """Per-sample footprint and time of one window on ``device`` (see the module docstring)."""
    dev = DEVICES[device]
    frames_native = media.fps * window_s if model.use_video else 0.0
    decoded = frames_native * media.width * media.height * 3
    decoded += media.audio_rate * media.audio_channels * window_s * 4 if model.use_audio else 0.0
    frames = model.frames_per_s * window_s if model.use_video else 0.0
    video_tokens = frames * (model.image // model.patch) ** 2
    audio_tokens = model.audio_tokens_per_s * window_s if model.use_audio else 0.0
    tokens = video_tokens + audio_tokens
    params = 12 * model.layers * model.width ** 2
    flops = 2 * params * tokens + 4 * model.layers * tokens ** 2 * model.width
    activations = (tokens * model.width * 8 + model.heads * tokens ** 2) * model.bytes_per_value
    memory = activations + params * model.bytes_per_value
    compute_s = flops / (dev["flops"] * SUSTAINED)
    decode_s = decoded / (dev["decode_mb_s"] * 1e6)
    latency_ms = 1000 * (compute_s + decode_s)
    return {"decoded_mb": decoded / 1e6, "frames": frames, "video_tokens": video_tokens,
            "audio_tokens": audio_tokens, "tokens": tokens, "params_m": params / 1e6, "gflops": flops / 1e9,
            "memory_gb": memory / 1e9, "latency_ms": latency_ms,
            "throughput_per_s": 1000 / latency_ms if latency_ms else float("inf"),
            "usd_per_1000": 1000 * latency_ms / 1000 / 3600 * dev["usd_per_hour"]}


def verdicts(est: dict[str, float], budget: Any, device: str) -> dict[str, bool]:
    dev = DEVICES[device]
    out = {"p95_latency_ms": est["latency_ms"] <= budget.p95_latency_ms,
           "cost_per_1000_decisions": est["usd_per_1000"] <= budget.cost_per_1000_decisions}
    if dev["gpu"]:
        out["cpu_only"] = not budget.cpu_only
        out["max_gpu_memory_gb"] = est["memory_gb"] <= min(budget.max_gpu_memory_gb, dev["memory_gb"])
    return out


def reductions(model: ModelShape, window_s: float) -> list[tuple[str, ModelShape, float]]:
    """One change at a time, each a smaller footprint."""
    out = []
    if model.use_video and model.frames_per_s > 0.25:
        out.append((f"sample {model.frames_per_s / 2:g} frames/s instead of {model.frames_per_s:g}",
                    replace(model, frames_per_s=model.frames_per_s / 2), window_s))
    if model.use_video and model.image > 112:
        smaller = max(112, model.image // 2 // model.patch * model.patch)
        out.append((f"images of {smaller} px instead of {model.image}", replace(model, image=smaller), window_s))
    if model.use_video and model.patch < 32:
        out.append((f"patches of {model.patch * 2} px instead of {model.patch}", replace(model, patch=model.patch * 2),
                    window_s))
    if window_s > 1:
        out.append((f"windows of {window_s / 2:g} s instead of {window_s:g} (twice the decisions per hour)", model,
                    window_s / 2))
    if model.use_video and model.use_audio:
        out.append(("drop video (audio alone)", replace(model, use_video=False), window_s))
    return out


def plan(project: Project, *, window_s: float, device: str, model: ModelShape | None = None) -> dict[str, Any]:
    """The plan for ``project``'s media on ``device`` against its task's budget."""
    from syncline.task.spec import load_task

    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}: one of {', '.join(DEVICES)}")
    if not (math.isfinite(window_s) and window_s > 0):
        raise ValueError(f"window must be a positive number of seconds; got {window_s:g}")
    model = model or ModelShape()
    bad = [f"{k} {v!r}" for k, v in asdict(model).items()
           if not isinstance(v, bool) and not (math.isfinite(v) and v > 0)]
    if bad:
        raise ValueError("the model shape needs positive, finite numbers; got " + ", ".join(bad))
    if model.patch > model.image:
        raise ValueError(f"patch {model.patch} is larger than the image {model.image}")
    budget = load_task(project.task_path).budget
    media = media_of(project)
    est = estimate(media, model, window_s, device)
    checks = verdicts(est, budget, device)
    options = []
    if not all(checks.values()):
        for text, shape, window in reductions(model, window_s):
            e = estimate(media, shape, window, device)
            v = verdicts(e, budget, device)
            options.append({"change": text, "fits": all(v.values()), "latency_ms": round(e["latency_ms"], 2),
                            "memory_gb": round(e["memory_gb"], 3), "tokens": e["tokens"],
                            "usd_per_1000": round(e["usd_per_1000"], 5)})
    notes = []
    if budget.currency != "USD":
        notes.append(f"device prices are in USD and the budget in {budget.currency}: the cost is compared as if "
                     "they were the same currency")
    if DEVICES[device]["gpu"] and budget.cpu_only:
        notes.append("the task runs on CPU only: no reduction makes a GPU device fit; plan for a CPU device")
    return {"device": device, "window_s": window_s, "media": asdict(media), "model": asdict(model),
            "estimate": {k: round(v, 5) for k, v in est.items()}, "budget": budget.model_dump(), "fits": checks,
            "reductions": options, "notes": notes}


def check_against_run(project: Project, run_id: str) -> dict[str, Any]:
    """What a run's traces recorded, to set beside the plan: per stage, output bytes and time per
    segment, and the per-segment latency of its predictions (each its batch's mean)."""
    with project.catalog().connect() as con:
        rows, lat = Q.run_costs(con, run_id)
    if not rows:
        raise ValueError(f"run {run_id} has no traces: run a pipeline first (syncline run)")
    return {"run_id": run_id, "stages": [{"stage": s, "bytes_per_segment": b, "ms_per_segment": m}
                                         for s, b, m in rows],
            "latency_ms": {"median": lat[0], "p95": lat[1]}}
