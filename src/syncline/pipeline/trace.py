"""What a batch of a run leaves in the catalog: a trace row per stage per segment and a prediction
per segment, built as Arrow columns (one pass per stage, not one dict per row).

A trace names the run, the stage, the segment, its status (ok, failed, skipped, abstained,
fallback), the error or the reason it did not run, the stage's time and output bytes on the
batch, the segment's outputs (small ones in full, as JSON; large ones by shape) and the assets
and subjects behind it. A prediction carries the decision stage's ``decision`` (its value),
``confidence`` (score), ``route`` and expected cost; a segment the decision never reached is an
abstention (``route = abstain``) or a failure (``route = failed``) naming the stage that failed.
Row keys are ``run|stage|segment`` and ``run|segment|field``: the same on a resumed run, so a
batch written twice is one batch.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

OK_LIKE = ("ok", "fallback")
SMALL = 16  # an output with at most this many values per segment is kept in full


def outputs_json(outputs: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Per row, a JSON object of the stage's outputs (``{}`` for a stage that gave none), built
    column by column with Arrow's string kernels."""
    parts: list[pa.Array] = []
    for port, v in outputs.items():
        width = int(np.prod(v.shape[1:])) if v.ndim > 1 else 1
        if v.dtype.kind in "fiub" and width <= SMALL:
            flat = v.reshape(n, -1).astype(np.float64)
            cols = [pc.fill_null(pc.cast(pa.array(flat[:, j], mask=~np.isfinite(flat[:, j])), pa.string()), "null")
                    for j in range(flat.shape[1])]
            cell = cols[0] if v.ndim == 1 else pc.binary_join_element_wise("[", pc.binary_join_element_wise(
                *cols, ","), "]", "")
        elif v.dtype.kind in "fiub":
            cell = pa.array([json.dumps(f"array{list(v.shape[1:])}")] * n)
        else:
            values = np.asarray(["" if x is None else str(x) for x in v.reshape(n, -1)[:, 0]], object)
            uniq, inv = np.unique(values.astype(str), return_inverse=True)
            cell = pa.array(np.asarray([json.dumps(u) for u in uniq], object)[inv].tolist(), pa.string())
        parts.append(pc.binary_join_element_wise(json.dumps(port), cell, ":"))
    if not parts:
        return np.full(n, "{}", object)
    body = pc.binary_join_element_wise(*parts, ",") if len(parts) > 1 else parts[0]
    return np.asarray(pc.binary_join_element_wise("{", body, "}", "").to_pylist(), object)


def trace_table(run_id: str, batch: int, order: list[str], state: Any, seg_ids: np.ndarray,
                assets: pa.ListArray, subjects: pa.ListArray) -> pa.Table:
    n = len(seg_ids)
    cols: dict[str, list[Any]] = {k: [] for k in ("trace_id", "stage", "status", "error", "batch_seconds",
                                                  "output_bytes", "outputs_json")}
    for name in order:
        status = state.status[name]
        cols["trace_id"] += [f"{run_id}|{name}|{s}" for s in seg_ids]
        cols["stage"] += [name] * n
        cols["status"] += status.tolist()
        cols["error"] += [r or None for r in state.reason[name].tolist()]
        cols["batch_seconds"] += [state.seconds[name]] * n
        cols["output_bytes"] += [state.nbytes[name]] * n
        out = outputs_json(state.outputs[name], n)
        keep = np.isin(status, OK_LIKE)
        cols["outputs_json"] += [o if k else None for o, k in zip(out.tolist(), keep.tolist(), strict=True)]
    reps = np.tile(np.arange(n), len(order))
    return pa.table({"trace_id": cols["trace_id"], "run_id": [run_id] * (n * len(order)), "stage": cols["stage"],
                     "target_id": np.tile(seg_ids, len(order)).tolist(), "status": cols["status"],
                     "error": cols["error"], "batch": [batch] * (n * len(order)),
                     "batch_seconds": cols["batch_seconds"], "batch_rows": [n] * (n * len(order)),
                     "output_bytes": cols["output_bytes"], "outputs_json": cols["outputs_json"],
                     "asset_ids": assets.take(pa.array(reps)), "subject_ids": subjects.take(pa.array(reps))})


def prediction_table(run_id: str, field_name: str, decision: str, state: Any, seg_ids: np.ndarray,
                     assets: pa.ListArray, subjects: pa.ListArray, latency_ms: float) -> pa.Table:
    n = len(seg_ids)
    status = state.status[decision]
    ok = np.isin(status, OK_LIKE)
    out = state.outputs[decision]
    route = np.where(state.failed_at != "", "failed", "abstain").astype(object)
    if "route" in out:
        route[ok] = out["route"][ok]
    else:
        route[ok] = "act"
    value = np.full(n, None, object)
    if "decision" in out:
        value[ok] = out["decision"][ok]
    score = np.where(ok, out["confidence"].astype(np.float64), np.nan) if "confidence" in out else np.full(n, np.nan)
    cost = np.where(ok, out["expected_cost"].astype(np.float64), np.nan) if "expected_cost" in out else None
    details = _details(status, state.reason[decision], state.failed_at, cost)
    return pa.table({"prediction_id": [f"{run_id}|{s}|{field_name}" for s in seg_ids], "run_id": [run_id] * n,
                     "target_type": ["segment"] * n, "target_id": seg_ids.tolist(), "field": [field_name] * n,
                     "value": [None if v is None else str(v) for v in value.tolist()],
                     "score": pa.array(score, pa.float64(), mask=~np.isfinite(score)),
                     "abstained": (route != "act").tolist(), "latency_ms": [latency_ms] * n,
                     "asset_ids": assets, "subject_ids": subjects, "route": route.tolist(), "details_json": details})


def _details(status: np.ndarray, reason: np.ndarray, failed_at: np.ndarray, cost: np.ndarray | None) -> list[str]:
    """Per row ``{"expected_cost", "failed_stage", "reason", "status"}`` as JSON (sorted keys),
    each distinct text encoded once."""
    def enc(v: np.ndarray) -> pa.Array:
        texts = np.asarray([x or "" for x in v.tolist()], str)
        uniq, inv = np.unique(texts, return_inverse=True)
        return pa.array(np.asarray([json.dumps(u) if u else "null" for u in uniq], object)[inv].tolist(), pa.string())

    parts = []
    if cost is not None:
        c = np.round(np.asarray(cost, np.float64), 6)
        text = pc.fill_null(pc.cast(pa.array(c, mask=~np.isfinite(c)), pa.string()), "")
        parts.append(pc.if_else(pc.equal(text, ""), "", pc.binary_join_element_wise('"expected_cost":', text, ",", "")))
    parts += [pc.binary_join_element_wise('"failed_stage":', enc(failed_at), ",", ""),
              pc.binary_join_element_wise('"reason":', enc(reason), ",", ""),
              pc.binary_join_element_wise('"status":', enc(status), "")]
    return pc.binary_join_element_wise("{", *parts, "}", "").to_pylist()  # type: ignore[no-any-return]
