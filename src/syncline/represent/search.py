"""Segment vectors through the current clocks, and "segments like this one".

A segment's vector under a representation is the mean of the stored window vectors that
overlap it on the entity timeline. Each window is mapped through its asset's *current* clock,
so a correction applied after embedding moves the windows without re-embedding. The windows of
every asset of the entity count (two cameras: both), unless ``assets`` narrows them (the
dominance audit leaves out streams whose clock was never verified). An image's window is a
point: it counts for the segment that contains it.

``similar`` ranks segments by cosine similarity over one or more representations: each
representation's segment vectors are standardised over the segments that have all of them
(log-mel energies and colour shares live on different scales), normalised to unit length, and concatenated with equal
weight, so audio and video count alike when both are asked for. The search is one
matrix-vector product over all segments (100k segments × 200 dimensions is 20M multiply-adds,
milliseconds); segments lacking one of the representations are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from syncline.catalog import query as Q
from syncline.project import Project


class SearchError(ValueError):
    """A query that cannot be answered; the message says what to do."""


@dataclass(frozen=True)
class Windows:
    """One representation's window vectors on the entity timeline."""

    entity_ids: np.ndarray  # (n,) str
    asset_ids: np.ndarray  # (n,) str
    t0_ns: np.ndarray  # (n,) int64, entity time
    t1_ns: np.ndarray  # (n,) int64, entity time, > t0 (a point window gets 1 ns)
    vectors: np.ndarray  # (n, dim) float32


def groups(keys: np.ndarray) -> dict[Any, np.ndarray]:
    """The row indices of each distinct key, from one sort (not one scan of all rows per key)."""
    if not len(keys):
        return {}
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    return {ordered[a]: order[a:b] for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(keys)], strict=True)}


def windows(con: Any, representation_id: str) -> Windows:
    """Stored windows of a representation mapped through each asset's current clock (vectorised)."""
    return windows_of(Q.asset_windows(con, representation_id))


def windows_of(t: pa.Table) -> Windows:
    """Windows from a table of ``Q.asset_windows``'s columns (asset_id, entity_id, clock_offset_ns,
    clock_drift_ppm, t0_ns and t1_ns on the file's clock, vector), through each file's clock;
    rows ordered by asset and time."""
    n = t.num_rows
    flat = pa.concat_arrays([c.flatten() for c in t.column("vector").chunks]) if n else pa.array([], pa.float32())
    vectors = np.asarray(flat.to_numpy(zero_copy_only=False), np.float32).reshape(n, -1) if n else np.zeros((0, 0),
                                                                                                             np.float32)
    offset = np.asarray(t.column("clock_offset_ns").fill_null(0).to_numpy(), np.int64)
    drift = np.asarray(t.column("clock_drift_ppm").fill_null(0.0).to_numpy(), np.float64)
    local0 = np.asarray(t.column("t0_ns").to_numpy(), np.int64)
    local1 = np.asarray(t.column("t1_ns").to_numpy(), np.int64)
    e0 = offset + local0 + np.round(local0 * drift * 1e-6).astype(np.int64)
    e1 = offset + local1 + np.round(local1 * drift * 1e-6).astype(np.int64)
    return Windows(np.asarray(t.column("entity_id").to_pylist(), object),
                   np.asarray(t.column("asset_id").to_pylist(), object), e0, np.maximum(e1, e0 + 1), vectors)


def segment_vectors(w: Windows, entity_ids: np.ndarray, t0_ns: np.ndarray, t1_ns: np.ndarray, *,
                    assets: set[str] | None = None) -> np.ndarray:
    """(n_segments, dim) means of the overlapping windows; a row of NaN where none overlaps.

    Per file, windows come in time order with starts and ends both non-decreasing (true of
    fixed windows, overlapping or not), so the windows a segment overlaps are a contiguous run:
    two binary searches and a difference of prefix sums per segment, summed over the entity's
    files. A file whose windows are not in that order falls back to an overlap matrix.
    """
    dim = w.vectors.shape[1] if w.vectors.ndim == 2 else 0
    sums = np.zeros((len(t0_ns), dim), np.float64)
    counts = np.zeros(len(t0_ns), np.int64)
    keep = np.ones(len(w.t0_ns), bool) if assets is None else np.isin(w.asset_ids, list(assets))
    if len(w.t0_ns):
        by_seg_entity = groups(entity_ids)
        starts = np.flatnonzero(np.r_[True, w.asset_ids[1:] != w.asset_ids[:-1]])  # rows come ordered by asset
        for a, b in zip(starts, np.r_[starts[1:], len(w.t0_ns)], strict=True):
            seg = by_seg_entity.get(w.entity_ids[a])
            if seg is None or not keep[a]:
                continue
            w0, w1, vec = w.t0_ns[a:b], w.t1_ns[a:b], w.vectors[a:b].astype(np.float64)
            s0, s1 = t0_ns[seg], t1_ns[seg]
            if np.all(np.diff(w0) >= 0) and np.all(np.diff(w1) >= 0):
                lo = np.searchsorted(w1, s0, side="right")  # first window ending after the start
                hi = np.searchsorted(w0, s1, side="left")  # first window starting at or after the end
                hi = np.maximum(hi, lo)
                csum = np.vstack([np.zeros((1, dim)), np.cumsum(vec, axis=0)])
                sums[seg] += csum[hi] - csum[lo]
                counts[seg] += hi - lo
            else:
                hit = (w0[None, :] < s1[:, None]) & (w1[None, :] > s0[:, None])
                sums[seg] += np.einsum("sw,wd->sd", hit.astype(np.float64), vec)  # einsum: no BLAS threads
                counts[seg] += hit.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts[:, None] > 0, sums / counts[:, None], np.nan).astype(np.float32)


def segment_assets(w: Windows, entity_ids: np.ndarray, t0_ns: np.ndarray, t1_ns: np.ndarray) -> np.ndarray:
    """Per segment, the assets whose windows overlap it (provenance of its vectors), as a key
    ``"asset;asset;"`` (assets in ID order): one overlap test per file over its entity's
    segments at once; ``split_keys`` turns the distinct keys back into lists."""
    keys = np.full(len(t0_ns), "", object)
    if not len(w.t0_ns):
        return keys
    by_seg_entity = groups(entity_ids)
    starts = np.flatnonzero(np.r_[True, w.asset_ids[1:] != w.asset_ids[:-1]])  # rows come ordered by asset
    for a, b in zip(starts, np.r_[starts[1:], len(w.t0_ns)], strict=True):
        seg = by_seg_entity.get(w.entity_ids[a])
        if seg is None:
            continue
        hit = seg[(w.t0_ns[a:b].min() < t1_ns[seg]) & (w.t1_ns[a:b].max() > t0_ns[seg])]
        keys[hit] = keys[hit] + f"{w.asset_ids[a]};"
    return keys


def split_keys(keys: np.ndarray) -> tuple[list[list[str]], np.ndarray]:
    """Distinct provenance keys (of one or more representations, joined) as sorted asset lists,
    and each row's index into them."""
    uniq, inv = np.unique(keys.astype(str), return_inverse=True)
    return [sorted({a for a in k.split(";") if a}) for k in uniq.tolist()], inv


def standardised(vecs: dict[str, np.ndarray]) -> np.ndarray:
    """Segment vectors of one or more representations as one unit vector per segment: each
    representation standardised over the segments that have *every* representation (the ones
    that can be ranked — so what a lacking segment holds shapes nothing), normalised, the blocks
    concatenated with equal weight (a dot product is the mean of the per-representation
    cosines); NaN rows where a representation is lacking."""
    usable = np.logical_and.reduce([~np.isnan(x).any(axis=1) for x in vecs.values()])
    blocks = []
    for x in vecs.values():
        ref = x[usable]
        mean = ref.mean(axis=0) if len(ref) else np.zeros(x.shape[1])
        sd = ref.std(axis=0) if len(ref) else np.ones(x.shape[1])
        z = (x - mean) / np.where(sd > 1e-9, sd, 1.0)
        z[~usable] = np.nan
        blocks.append(z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12))
    return np.asarray(np.hstack(blocks) / np.sqrt(len(blocks)))


def similar(project: Project, segment_id: str, *, representation_ids: list[str] | None = None, k: int = 10,
            other_entities: bool = False) -> dict[str, Any]:
    """The ``k`` segments (same segmenter as the query) most like ``segment_id``."""
    with project.catalog().connect() as con:
        found = con.execute("SELECT segmenter FROM segments WHERE segment_id = ?", [segment_id]).fetchall()
        if not found:
            raise SearchError(f"segment {segment_id} is not in the catalog (see `syncline tuples` for segment IDs)")
        spans = Q.segment_spans(con, str(found[0][0]))
        stored = {r["representation_id"]: r["modality"] for r in Q.representation_usage(con) if r["vectors"] > 0}
        missing = [r for r in representation_ids or [] if r not in stored]
        # by default the streams (a photo covers one instant: asked for, it narrows the search to photos)
        default = sorted(r for r, m in stored.items() if m != "image")
        if missing or not (representation_ids or default):
            raise SearchError(f"no stored vectors of {', '.join(missing) or 'any audio or video representation'}: "
                              "run `syncline embed` first")
        wins = {rid: windows(con, rid) for rid in (representation_ids or default)}
    ids = np.asarray(spans.column("segment_id").to_pylist(), object)
    ents = np.asarray(spans.column("entity_id").to_pylist(), object)
    t0 = np.asarray(spans.column("t0_ns").to_numpy(), np.int64)
    t1 = np.asarray(spans.column("t1_ns").to_numpy(), np.int64)
    q = int(np.flatnonzero(ids == segment_id)[0])
    vecs = {rid: segment_vectors(w, ents, t0, t1) for rid, w in wins.items()}
    if not representation_ids:  # by default: every representation that covers the query
        vecs = {rid: x for rid, x in vecs.items() if not np.isnan(x[q]).any()}
    for rid, x in vecs.items():
        if np.isnan(x[q]).any():
            raise SearchError(f"segment {segment_id} has no {rid} vectors (no embedded asset of that modality "
                              "overlaps it): choose another --representation")
    if not vecs:
        raise SearchError(f"segment {segment_id} has no stored vectors (no embedded asset overlaps it): run "
                          "`syncline embed`, or check that its entity has media at that time")
    lacking = {rid: int(np.isnan(x).any(axis=1).sum()) for rid, x in vecs.items()}
    x = standardised(vecs)
    usable = ~np.isnan(x).any(axis=1)
    usable[q] = False
    if other_entities:
        usable &= ents != ents[q]
    scores = np.einsum("sd,d->s", np.nan_to_num(x), x[q])
    cand = np.flatnonzero(usable)
    top = cand[np.argsort(-scores[cand], kind="stable")[:k]]
    return {"segment_id": segment_id, "entity_id": str(ents[q]), "t0_ns": int(t0[q]), "t1_ns": int(t1[q]),
            "representations": list(vecs), "segments_searched": int(usable.sum()), "lacking_vectors": lacking,
            "similar": [{"segment_id": str(ids[i]), "entity_id": str(ents[i]), "t0_ns": int(t0[i]),
                         "t1_ns": int(t1[i]), "score": round(float(scores[i]), 4)} for i in top]}
