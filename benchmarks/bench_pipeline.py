"""Pipeline overhead: the local executor against calling the same stage functions directly on the
same batches, and similar-segment search latency.

    .venv/bin/python benchmarks/bench_pipeline.py [--entities 50] [--segments 400] [--batch 1024] [--spectra]
        [--ray] [--index] [--repeat 5]

A synthetic catalog (no media: the executor's own cost is what is measured): per entity one
audio asset with a 40-d vector per second and one video asset with a 176-d vector per second,
and 2 s segments. The pipeline is the demo's shape — an audio head and a video head side by
side, late fusion, the decision stage with the farm task's cost matrix. "Direct" forms the same
segment vectors and calls the same stage functions batch by batch, writing nothing; "executor"
is ``run_pipeline`` (traces and predictions committed per batch, the run row pinned). Prints
both, the overhead ratio, and where the executor's time goes.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

NS = 1_000_000_000


def build(root: Path, entities: int, segments: int) -> None:
    from syncline.ids import segment_id, stable_id
    from syncline.project import init_project
    from syncline.represent.builtin import GRID_VIDEO, LOGMEL
    from syncline.represent.embed import window_table

    shutil.rmtree(root, ignore_errors=True)
    p = init_project(root, template="farm")
    cat = p.catalog()
    rng = np.random.default_rng(0)
    seconds = segments * 2
    assets, segs = [], []
    for e in range(entities):
        ent = f"pen-{e:04d}"
        rows = []  # one table per asset
        for rep, dim in ((LOGMEL, 40), (GRID_VIDEO, 176)):
            aid = stable_id(ent, rep.modality)
            assets.append({"asset_id": aid, "sha256": aid, "bytes": 1, "modality": rep.modality, "entity_id": ent,
                           "source_path": f"/nowhere/{ent}.{rep.modality}", "start_ns": 0,
                           "duration_ns": seconds * NS, "clock_offset_ns": 0, "clock_source": "anchor"})
            t0 = [i * NS for i in range(seconds)]
            rows.append(cat.conform("embeddings", window_table(aid, None, rep.representation_id, t0,
                                                                [t + NS for t in t0],
                                                                rng.normal(size=(seconds, dim)))))
        cat.insert_missing("embeddings", pa.concat_tables(rows))
        segs += [{"segment_id": segment_id(entity_id=ent, t0_ns=k * 2 * NS, t1_ns=(k + 1) * 2 * NS,
                                           segmenter="fixed-2s@2"), "entity_id": ent, "t0_ns": k * 2 * NS,
                  "t1_ns": (k + 1) * 2 * NS, "segmenter": "fixed-2s@2"} for k in range(segments)]
    cat.upsert("assets", assets)
    cat.upsert("segments", segs)
    cat.upsert("representations", [LOGMEL.row(), GRID_VIDEO.row()])


def spectra_stage():  # type: ignore[no-untyped-def]
    """Per segment, 2 s of 16 kHz audio (seeded noise standing in for decoded samples) to 124
    log power spectra of 512 points: about a millisecond of NumPy per segment."""
    from syncline.pipeline.stage import Stage

    def fn(x: np.ndarray) -> dict[str, np.ndarray]:
        audio = np.random.default_rng(len(x)).normal(size=(len(x), 32000)).astype(np.float32)
        frames = audio[:, : 124 * 256].reshape(len(x), 124, 256)
        power = np.abs(np.fft.rfft(np.concatenate([frames, frames], axis=2), axis=2)) ** 2
        return {"level": np.log(power.mean(axis=(1, 2)) + 1e-9)}

    return Stage("spectra", fn, {"x": "source.audio"}, {"level": "score"}, modalities=("audio",))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/syncline-bench-pipeline"))
    ap.add_argument("--entities", type=int, default=50)
    ap.add_argument("--segments", type=int, default=400, help="2 s segments per entity")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--ray", action="store_true", help="also run the Ray executor on a local 2-CPU cluster")
    ap.add_argument("--spectra", action="store_true",
                    help="add a stage with real per-segment work: log power spectra of 2 s of 16 kHz audio")
    ap.add_argument("--repeat", type=int, default=1, help="interleaved direct/executor pairs (median reported)")
    ap.add_argument("--index", action="store_true", help="also build the stored segment index and time its search")
    args = ap.parse_args()
    from syncline.catalog import query as Q
    from syncline.pipeline import local  # run_pipeline looked up at call time (profilers can wrap it)
    from syncline.pipeline.graph import Pipeline
    from syncline.pipeline.heads import fit_head, head_stage, late_fusion_stage
    from syncline.pipeline.routing import decision_stage
    from syncline.project import Project
    from syncline.represent.search import segment_vectors, similar, windows
    from syncline.task.spec import load_task

    t = time.perf_counter()
    build(args.out, args.entities, args.segments)
    print(f"catalog: {args.entities} entities x {args.segments} segments in {time.perf_counter() - t:.1f} s")
    p = Project.open(args.out)
    spec = load_task(p.task_path)
    rng = np.random.default_rng(1)
    classes = ["alert_vet", "ignore", "watch"]
    groups = [str(i % 5) for i in range(300)]
    ha = fit_head("audio", rng.normal(size=(300, 40)), list(rng.choice(classes, 300)), groups)
    hv = fit_head("video", rng.normal(size=(300, 176)), list(rng.choice(classes, 300)), groups)
    stages = [head_stage("hear", ha, {"x": "source.audio"}, modalities=("audio",), on_missing="abstain"),
              *([spectra_stage()] if args.spectra else []),
              head_stage("see", hv, {"x": "source.video"}, modalities=("video",), on_missing="abstain"),
              late_fusion_stage("fuse", {"a": "hear.probabilities", "b": "see.probabilities"},
                                {"a": ha.classes, "b": hv.classes}),
              decision_stage("decide", spec, classes, "fuse.probabilities")]
    pipe = Pipeline("bench", stages, {"audio": "vector", "video": "vector"})
    reps = {"audio": "logmel-1s@1", "video": "grid-colour-edges-1s@1"}

    def direct() -> tuple[float, float]:
        t = time.perf_counter()
        with p.catalog().connect() as con:
            spans = Q.segment_spans(con, "fixed-2s@2")
            wins = {s: windows(con, r) for s, r in reps.items()}
        ents = np.asarray(spans.column("entity_id").to_pylist(), object)
        t0 = np.asarray(spans.column("t0_ns").to_numpy(), np.int64)
        src = {s: segment_vectors(w, ents, t0, t0 + 2 * NS) for s, w in wins.items()}
        t_sources = time.perf_counter() - t
        t = time.perf_counter()
        for start in range(0, len(t0), args.batch):
            sl = slice(start, start + args.batch)
            a = stages[0].fn(x=src["audio"][sl])["probabilities"]
            if args.spectra:
                stages[1].fn(x=src["audio"][sl])
            v = stages[-3].fn(x=src["video"][sl])["probabilities"]
            f = stages[-2].fn(a=a, b=v)["probabilities"]
            stages[-1].fn(p=f)
        return t_sources, time.perf_counter() - t

    ratios = []
    for _ in range(args.repeat):  # interleaved, so a slow spell of the machine hits both sides
        t_sources, t_stages = direct()
        d = t_sources + t_stages
        print(f"direct: sources {t_sources:.2f} s + stages {t_stages:.2f} s = {d:.2f} s")
        t = time.perf_counter()
        res = local.run_pipeline(p, pipe, representations=reps, segmenter="fixed-2s@2", field_name="action",
                                 batch_size=args.batch)
        total = time.perf_counter() - t
        n = res.segments
        ratios.append((total - d) / d)
        own = total - sum(res.stage_seconds.values()) - (d - t_stages)  # wall less the stages, less reading
        print(f"executor: {total:.2f} s for {n} segments ({n / total:,.0f} segments/s); overhead "
              f"{ratios[-1]:+.0%} over direct; stage seconds {res.stage_seconds}; routes {res.routes}")
        print(f"  executor's own work (its wall time less its stage seconds, less the direct reading time): "
              f"{own:.2f} s = {own / d:+.1%} of direct")
    if args.repeat > 1:
        print(f"overhead over {args.repeat} interleaved pairs: median {np.median(ratios):+.1%}, "
              f"min {min(ratios):+.1%}, max {max(ratios):+.1%}")
    with p.catalog().connect() as con:
        spans = Q.segment_spans(con, "fixed-2s@2")
    if args.ray:
        from syncline.pipeline.ray import local_cluster, ray_batches

        with local_cluster(2):
            for attempt in ("first run (cold workers)", "second run (warm workers)"):
                t = time.perf_counter()
                rres = local.run_pipeline(p, pipe, representations=reps, segmenter="fixed-2s@2",
                                          field_name="action", batch_size=args.batch, map_batches=ray_batches)
                rtotal = time.perf_counter() - t
                print(f"ray executor (local cluster, 2 CPUs, started before timing), {attempt}: {rtotal:.2f} s "
                      f"({rtotal / total:.2f}x the local executor); routes {rres.routes}")
    seg = str(spans.column("segment_id")[0])
    for _ in range(2):
        t = time.perf_counter()
        similar(p, seg, k=10)
        print(f"similar over {n} segments x 2 representations: {time.perf_counter() - t:.2f} s")
    if args.index:
        from syncline.represent.index import build_index, search_index

        segs = spans.column("segment_id").to_pylist()
        queries = segs[:: max(1, len(segs) // 20)][:20]
        for ann in (False, True):
            t = time.perf_counter()
            built = build_index(p, "fixed-2s@2", list(reps.values()), ann=ann)
            print(f"index build{' with IVF_PQ' if built['ann'] else ''}: {time.perf_counter() - t:.2f} s "
                  f"({built['segments']} segments, {built['dim']}-d)")
        exact, approx, t_exact, t_approx = [], [], [], []
        for q in queries:
            t = time.perf_counter()
            exact.append({h["segment_id"] for h in search_index(p, q, k=10)["similar"]})
            t_exact.append(time.perf_counter() - t)
            t = time.perf_counter()
            approx.append({h["segment_id"] for h in search_index(p, q, k=10, exact=False)["similar"]})
            t_approx.append(time.perf_counter() - t)
        recall = np.mean([len(a & e) / 10 for a, e in zip(approx, exact, strict=True)])
        print(f"similar --index over {len(segs)} segments: exact scan {1000 * np.median(t_exact):.0f} ms, "
              f"IVF_PQ probe {1000 * np.median(t_approx):.0f} ms (median of {len(queries)}), recall@10 {recall:.2f}")


if __name__ == "__main__":
    main()
