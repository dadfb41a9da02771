"""Aligned time (DuckDB gaps-and-islands + sweep) against a brute-force NumPy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from syncline.catalog import Catalog
from syncline.catalog import query as Q


def _reference(spans: list[tuple[str, str, int, int]], required: list[str]) -> dict[str, int]:
    out = {}
    for e in sorted({s[0] for s in spans}):
        hi = max(s[3] for s in spans if s[0] == e)
        grid = np.ones(hi, dtype=bool)
        for m in required:
            cov = np.zeros(hi, dtype=bool)
            for ent, mod, t0, t1 in spans:
                if ent == e and mod == m:
                    cov[t0:t1] = True
            grid &= cov
        out[e] = int(grid.sum())
    return out


def test_aligned_time_matches_a_brute_force_sweep(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    spans, rows = [], []
    for e in range(6):
        for m in ("video", "audio", "sensor"):
            for k in range(rng.integers(0 if e == 5 and m == "sensor" else 1, 4)):
                t0 = int(rng.integers(0, 800))
                t1 = t0 + int(rng.integers(1, 300))
                spans.append((f"e{e}", m, t0, t1))
                rows.append({"asset_id": f"{e}{m}{k}", "sha256": "x", "bytes": 1, "modality": m,
                             "entity_id": f"e{e}", "duration_ns": t1 - t0, "start_ns": 0, "clock_offset_ns": t0})
    cat = Catalog(tmp_path / "cat")
    cat.upsert("assets", rows)
    required = ["audio", "sensor", "video"]
    with cat.connect() as con:
        got = Q.aligned_time(con, required)
    want = _reference(spans, required)
    assert {e: v for e, v in got.items() if v} == {e: v for e, v in want.items() if v}
    assert want["e5"] == 0


def test_segment_coverage_flags_exactly_the_segments_every_modality_overlaps(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    s = 1_000_000_000
    cat.upsert("segments", [{"segment_id": f"s{i}", "entity_id": "e", "t0_ns": i * s, "t1_ns": (i + 1) * s,
                             "segmenter": "fixed-1s"} for i in range(10)])
    cat.upsert("assets", [
        {"asset_id": "v", "sha256": "v", "bytes": 1, "modality": "video", "entity_id": "e",
         "clock_offset_ns": 0, "duration_ns": 6 * s},                       # covers s0..s5
        {"asset_id": "a", "sha256": "a", "bytes": 1, "modality": "audio", "entity_id": "e",
         "clock_offset_ns": 4 * s + s // 2, "duration_ns": 4 * s},          # covers s4..s8 (partly s4, s8)
        {"asset_id": "x", "sha256": "x", "bytes": 1, "modality": "audio", "entity_id": "other",
         "clock_offset_ns": 0, "duration_ns": 10 * s},                      # another entity: ignored
    ])
    with cat.connect() as con:
        rows = Q.segment_coverage(con, ["audio", "video"]).order("t0_ns").fetchall()
    aligned = [r[5] for r in rows]
    masks = [r[4] for r in rows]
    assert aligned == [False, False, False, False, True, True, False, False, False, False]
    assert masks == [2, 2, 2, 2, 3, 3, 1, 1, 1, 0]
