"""Found against planted: how the demo's alignment verdicts compare with the world's truth.

This is the one place that reads ``ground_truth.json`` outside tests and benchmarks, and it
only *reports*: nothing it computes flows back into the catalog. For every pair the aligner
judged, the planted lag of the target relative to the reference is ``lag(target) −
lag(reference)``, both taken against the entity's cam1 in the world's truth (cam1's own is 0);
a logger judged against the event log is compared with the world's ``sync_vs_events`` truth,
which also holds the drift the logger's clock was given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def _truth_lag(sync: dict[str, Any] | None) -> int | None:
    if not sync:
        return None
    if sync.get("role") == "reference":
        return 0
    lag = sync.get("lag_ns")
    return int(lag) if lag is not None else None


def alignment_scorecard(report: Any, truth_path: Path, world_dir: Path) -> dict[str, Any]:
    truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    assets = truth.get("assets", {})
    rows = []
    for r in report.results:
        rel_ref = Path(r.reference_path).resolve().relative_to(world_dir.resolve()).as_posix()
        rel_tgt = Path(r.target_path).resolve().relative_to(world_dir.resolve()).as_posix()
        sync_t = assets.get(rel_tgt, {}).get("sync")
        sync_r = assets.get(rel_ref, {}).get("sync")
        planted_drift = None
        if r.kind == "sensor_events":
            direct = assets.get(rel_tgt, {}).get("sync_vs_events") or {}
            sync_t, sync_r = direct, {"role": "reference"}
            planted_drift = direct.get("drift_ppm")
        expect = (sync_t or {}).get("expect", "unknown")
        if r.kind == "transcript_audio":
            expect = "aligned"
        lag_t, lag_r = _truth_lag(sync_t), _truth_lag(sync_r)
        planted = lag_t - lag_r if lag_t is not None and lag_r is not None else None
        found = r.estimate.lag_ns
        error_ms = abs(found - planted) / 1e6 if found is not None and planted is not None else None
        rows.append({"pair": r.kind, "target": rel_tgt.rsplit("/", 1)[-1], "expect": expect,
                     "verdict": str(r.estimate.verdict), "planted_lag_s": None if planted is None else planted / 1e9,
                     "found_lag_s": None if found is None else found / 1e9, "error_ms": error_ms,
                     "planted_drift_ppm": planted_drift,
                     "found_drift_ppm": r.estimate.drift_ppm if planted_drift is not None else None})
    aligned = [x for x in rows if x["verdict"] == "aligned" and x["error_ms"] is not None]
    wrong = [x for x in aligned if x["error_ms"] > 100.0]
    return {
        "pairs": rows,
        "aligned": len(aligned),
        "mean_error_ms": round(sum(x["error_ms"] for x in aligned) / len(aligned), 2) if aligned else None,
        "worst_error_ms": round(max(x["error_ms"] for x in aligned), 2) if aligned else None,
        "confident_wrong": len(wrong),
        "verdict_matches_expectation": sum(1 for x in rows if x["verdict"] == x["expect"]),
        "aligned_hours_before": report.aligned_hours_before,
        "aligned_hours_after": report.aligned_hours_after,
        "verified_hours_after": report.verified_hours_after,
    }


def print_scorecard(console: Console, card: dict[str, Any]) -> None:
    t = Table(title="Found against planted (from ground_truth.json)", title_justify="left")
    for col in ("pair", "stream", "expected", "verdict", "planted lag s", "found lag s", "error ms",
                "drift ppm planted/found"):
        t.add_column(col)
    for x in card["pairs"]:
        drift = ("" if x["planted_drift_ppm"] is None or x["found_drift_ppm"] is None
                 else f"{x['planted_drift_ppm']:+.0f}/{x['found_drift_ppm']:+.0f}")
        t.add_row(x["pair"], x["target"].split("_", 1)[-1], x["expect"], x["verdict"],
                  "" if x["planted_lag_s"] is None else f"{x['planted_lag_s']:+.3f}",
                  "" if x["found_lag_s"] is None else f"{x['found_lag_s']:+.3f}",
                  "" if x["error_ms"] is None else f"{x['error_ms']:.1f}", drift)
    console.print(t)
    console.print(f"aligned {card['aligned']} pairs: mean error {card['mean_error_ms']} ms, worst "
                  f"{card['worst_error_ms']} ms, confident-and-wrong (>100 ms) {card['confident_wrong']}; "
                  f"verdict as planted {card['verdict_matches_expectation']}/{len(card['pairs'])}")
    console.print(f"aligned hours before {card['aligned_hours_before']:.4f} → after {card['aligned_hours_after']:.4f} "
                  f"(verified in sync {card['verified_hours_after']:.4f})")
