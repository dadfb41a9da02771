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


def outputs_json(outputs: dict[str, np.ndarray], n: int) -> pa.Array:
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
        return pa.array(["{}"] * n, pa.string())
    body = pc.binary_join_element_wise(*parts, ",") if len(parts) > 1 else parts[0]
    return pc.binary_join_element_wise("{", body, "}", "")


def trace_table(run_id: str, batch: int, order: list[str], state: Any, seg_ids: np.ndarray,
                assets: pa.ListArray, subjects: pa.ListArray) -> pa.Table:
    """The batch's trace rows, stage after stage, as Arrow arrays (no Python object per row)."""
    n = len(seg_ids)
    segs = pa.array(seg_ids, pa.string())
    cols: dict[str, list[pa.Array]] = {k: [] for k in ("trace_id", "stage", "status", "error", "batch_seconds",
                                                       "output_bytes", "outputs_json")}
    for name in order:
        status = pa.array(state.status[name], pa.string())
        reason = pa.array(state.reason[name], pa.string())
        cols["trace_id"].append(pc.binary_join_element_wise(f"{run_id}|{name}|", segs, ""))
        cols["stage"].append(pa.repeat(pa.scalar(name), n))
        cols["status"].append(status)
        cols["error"].append(pc.if_else(pc.equal(reason, ""), pa.scalar(None, pa.string()), reason))
        cols["batch_seconds"].append(pa.repeat(pa.scalar(float(state.seconds[name])), n))
        cols["output_bytes"].append(pa.repeat(pa.scalar(int(state.nbytes[name])), n))
        keep = pc.is_in(status, value_set=pa.array(OK_LIKE))
        cols["outputs_json"].append(pc.if_else(keep, outputs_json(state.outputs[name], n),
                                               pa.scalar(None, pa.string())))
    rows = n * len(order)
    reps = pa.array(np.tile(np.arange(n), len(order)))
    return pa.table({"trace_id": pa.concat_arrays(cols["trace_id"]), "run_id": pa.repeat(pa.scalar(run_id), rows),
                     "stage": pa.concat_arrays(cols["stage"]), "target_id": segs.take(reps),
                     "status": pa.concat_arrays(cols["status"]), "error": pa.concat_arrays(cols["error"]),
                     "batch": pa.repeat(pa.scalar(batch), rows),
                     "batch_seconds": pa.concat_arrays(cols["batch_seconds"]),
                     "batch_rows": pa.repeat(pa.scalar(n), rows),
                     "output_bytes": pa.concat_arrays(cols["output_bytes"]),
                     "outputs_json": pa.concat_arrays(cols["outputs_json"]),
                     "asset_ids": assets.take(reps), "subject_ids": subjects.take(reps)})


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
    segs = pa.array(seg_ids, pa.string())
    return pa.table({"prediction_id": pc.binary_join_element_wise(f"{run_id}|", segs, f"|{field_name}", ""),
                     "run_id": pa.repeat(pa.scalar(run_id), n), "target_type": pa.repeat(pa.scalar("segment"), n),
                     "target_id": segs, "field": pa.repeat(pa.scalar(field_name), n),
                     "value": pa.array([None if v is None else str(v) for v in value.tolist()], pa.string()),
                     "score": pa.array(score, pa.float64(), mask=~np.isfinite(score)),
                     "abstained": pa.array(route != "act"), "latency_ms": pa.repeat(pa.scalar(latency_ms), n),
                     "asset_ids": assets, "subject_ids": subjects, "route": pa.array(route.tolist(), pa.string()),
                     "details_json": details})


def _details(status: np.ndarray, reason: np.ndarray, failed_at: np.ndarray, cost: np.ndarray | None) -> pa.Array:
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
    return pc.binary_join_element_wise("{", *parts, "}", "")
