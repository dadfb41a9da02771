"""Aligned-coverage query: 1M segments x 4 modalities, a DuckDB interval join over Lance.

Builds a catalog with ENTITIES x SEGMENTS_PER_ENTITY one-second segments and, per entity and
modality, a few assets with gaps between them; then times ``query.segment_coverage`` end to end
(Lance scan + interval join + group-by), materialising the count of aligned segments. The
result is checked against a NumPy computation of the same answer.

    .venv/bin/python benchmarks/bench_coverage.py [--entities 1000] [--per-entity 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from syncline.catalog import Catalog
from syncline.catalog import query as Q

MODALITIES = ["video", "audio", "sensor", "transcript"]
S = 1_000_000_000


def build(cat: Catalog, entities: int, per_entity: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = entities * per_entity
    ent = np.repeat(np.arange(entities), per_entity)
    t0 = np.tile(np.arange(per_entity, dtype=np.int64) * S, entities)
    cat.upsert("segments", pa.table({
        "segment_id": pa.array([f"s{i}" for i in range(n)]),
        "entity_id": pa.array([f"e{e}" for e in ent]),
        "t0_ns": t0, "t1_ns": t0 + S,
        "segmenter": pa.array(["fixed-1s"] * n),
    }))
    covered = np.ones((entities, per_entity), dtype=bool)
    rows = []
    for e in range(entities):
        for m in MODALITIES:
            cov = np.zeros(per_entity, dtype=bool)
            t = int(rng.integers(0, 50))
            k = 0
            while t < per_entity:
                dur = int(rng.integers(100, 400))
                rows.append((f"{e}-{m}-{k}", m, f"e{e}", t * S, dur * S))
                cov[t:min(per_entity, t + dur)] = True
                t += dur + int(rng.integers(0, 60))
                k += 1
            covered[e] &= cov
    cat.upsert("assets", pa.table({
        "asset_id": [r[0] for r in rows], "sha256": [r[0] for r in rows], "bytes": [1] * len(rows),
        "modality": [r[1] for r in rows], "entity_id": [r[2] for r in rows],
        "clock_offset_ns": [r[3] for r in rows], "start_ns": [0] * len(rows), "duration_ns": [r[4] for r in rows],
    }))
    return covered


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entities", type=int, default=1000)
    ap.add_argument("--per-entity", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cat = Catalog(Path(d) / "cat")
        t = time.perf_counter()
        covered = build(cat, args.entities, args.per_entity)
        build_s = time.perf_counter() - t
        n_assets = cat.count("assets")
        times = []
        for _ in range(3):
            t = time.perf_counter()
            with cat.connect() as con:
                rel = Q.segment_coverage(con, MODALITIES)
                aligned = rel.aggregate("count(*) FILTER (WHERE aligned)").fetchall()[0][0]
            times.append(time.perf_counter() - t)
        assert aligned == int(covered.sum()), (aligned, int(covered.sum()))
        print(f"segments={args.entities * args.per_entity:,} assets={n_assets:,} modalities={len(MODALITIES)} "
              f"build={build_s:.1f}s")
        print(f"segment_coverage: best {min(times):.2f}s, runs {', '.join(f'{x:.2f}' for x in times)}; "
              f"aligned segments {aligned:,} (matches NumPy reference)")


if __name__ == "__main__":
    main()
