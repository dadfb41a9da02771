"""A stored index of segment vectors: "segments like this one" without forming them again.

``similar`` forms every segment's vector from the stored windows at query time, through the
current clocks — always right, but it reads every window each time (0.8 s for 20k segments, most
of it reading). ``build_index(project, segmenter, representations)`` forms them once, as
``similar`` does (standardised per representation, unit length, blocks of equal weight), and
stores them in a Lance dataset under ``catalog/indexes/``, one row per segment that has every
representation, with the files and subjects behind it. ``search_index`` then answers from it:

* **Exact by default**: Lance scans the stored vectors (SIMD, no Python per row) — the same
  ranking as ``similar``. With ``ann=True`` at build time an IVF_PQ index is trained too, and
  ``search_index(..., exact=False)`` probes it (recall measured in ``BENCHMARKS.md``): worth it
  from millions of segments on.
* **Fresh or refused.** The index records the versions of the tables it was formed from
  (embeddings, assets — whose clocks map the windows —, segments) and the config hash of each
  representation. A search on an index the catalog has moved past is refused, naming what
  changed, with the command that rebuilds it: an old index would rank segments through old
  clocks, or list segments that no longer exist.
* **Erasable.** Every row lists its assets and subjects; a consent withdrawal drops every index
  that lists the subject's files (``govern.footprint``), to be rebuilt from what remains.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pyarrow as pa

from syncline.catalog import query as Q
from syncline.project import Project
from syncline.represent.search import SearchError, segment_assets, segment_vectors, split_keys, standardised, windows

FROM_TABLES = ("embeddings", "assets", "segments")
META_KEY = b"syncline_index"
MIN_ANN_ROWS = 4096  # below this an IVF_PQ index has too few vectors per partition to train on


def index_name(segmenter: str, representation_ids: list[str]) -> str:
    reps = sorted(representation_ids)
    return f"{segmenter}__{hashlib.sha256('|'.join(reps).encode()).hexdigest()[:10]}"


def build_index(project: Project, segmenter: str, representation_ids: list[str], *,
                ann: bool = False) -> dict[str, Any]:
    """Form and store the segment vectors of ``segmenter`` under ``representation_ids``."""
    if not representation_ids:
        raise SearchError("name the representations to index (-r logmel-1s@1 ...)")
    with project.catalog().index_lock():  # a withdrawal waits, or this waits for it: never both
        return _build(project, segmenter, representation_ids, ann)


def _build(project: Project, segmenter: str, representation_ids: list[str], ann: bool) -> dict[str, Any]:
    cat = project.catalog()
    versions = {t: cat.version(t) for t in FROM_TABLES}
    with cat.connect(versions=versions) as con:
        spans = Q.segment_spans(con, segmenter)
        stored = Q.representation_hashes(con)
        missing = [r for r in representation_ids if r not in stored]
        if missing:
            raise SearchError(f"no stored vectors of {', '.join(missing)}: run `syncline embed -r ...` first")
        wins = {rid: windows(con, rid) for rid in representation_ids}
        subjects = Q.asset_subjects(con)
    if spans.num_rows == 0:
        raise SearchError(f"no segments of {segmenter!r}: run `syncline segment` first")
    ids = np.asarray(spans.column("segment_id").to_pylist(), object)
    ents = np.asarray(spans.column("entity_id").to_pylist(), object)
    t0 = np.asarray(spans.column("t0_ns").to_numpy(), np.int64)
    t1 = np.asarray(spans.column("t1_ns").to_numpy(), np.int64)
    x = standardised({rid: segment_vectors(w, ents, t0, t1) for rid, w in wins.items()})
    keep = np.flatnonzero(~np.isnan(x).any(axis=1))
    keys = np.full(len(keep), "", object)
    for w in wins.values():
        keys = keys + segment_assets(w, ents[keep], t0[keep], t1[keep])
    combos, which = split_keys(keys)
    take = pa.array(which.astype(np.int64))
    dim = x.shape[1]
    meta = {"segmenter": segmenter, "representations": {r: stored[r] for r in sorted(representation_ids)},
            "built_from": versions, "ann": bool(ann and len(keep) >= MIN_ANN_ROWS), "dim": dim}
    table = pa.table({
        "segment_id": pa.array(ids[keep].tolist(), pa.string()),
        "entity_id": pa.array(ents[keep].tolist(), pa.string()),
        "t0_ns": pa.array(t0[keep]), "t1_ns": pa.array(t1[keep]),
        "asset_ids": pa.array(combos, pa.list_(pa.string())).take(take),
        "subject_ids": pa.array([sorted({s for a in c for s in subjects.get(a, [])}) for c in combos],
                                pa.list_(pa.string())).take(take),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(x[keep].astype(np.float32).reshape(-1)), dim),
    }).replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True).encode()})
    name = index_name(segmenter, representation_ids)
    partitions = int(min(256, max(1, round(np.sqrt(len(keep)))))) if meta["ann"] else None
    sub = next((s for s in (16, 12, 8, 6, 4, 3, 2, 1) if dim % s == 0), 1)
    cat.write_index(name, table, ann_partitions=partitions, sub_vectors=sub)
    return {"index": name, "segments": len(keep), "lacking": int(len(ids) - len(keep)), **meta}


def _meta(cat: Any, name: str) -> dict[str, Any]:
    raw = (cat.index_schema(name).metadata or {}).get(META_KEY)
    return json.loads(raw) if raw else {}


def list_indexes(project: Project, cat: Any = None) -> list[dict[str, Any]]:
    """Each stored index with what it holds and whether the catalog has moved past it."""
    cat = cat or project.catalog()
    out = []
    for name in cat.indexes():
        meta = _meta(cat, name)
        out.append({"index": name, **meta, "stale": _staleness(cat, meta)})
    return out


def _staleness(cat: Any, meta: dict[str, Any]) -> list[str]:
    changed = [f"{t} v{v} -> v{cat.version(t)}" for t, v in meta.get("built_from", {}).items() if cat.version(t) != v]
    reps = cat.read("representations", columns=["representation_id", "config_hash"]).to_pylist()
    stored = {r["representation_id"]: r["config_hash"] for r in reps}
    changed += [f"{r} config {h} -> {stored.get(r)}" for r, h in meta.get("representations", {}).items()
                if stored.get(r) != h]
    return changed


def search_index(project: Project, segment_id: str, *, representation_ids: list[str] | None = None, k: int = 10,
                 other_entities: bool = False, exact: bool = True) -> dict[str, Any]:
    """``similar``'s answer from a stored index of the segment's segmenter."""
    cat = project.catalog()
    found = cat.read("segments", columns=["segmenter"], where=f"segment_id = '{_quote(segment_id)}'")
    if found.num_rows == 0:
        raise SearchError(f"segment {segment_id} is not in the catalog (see `syncline tuples` for segment IDs)")
    segmenter = str(found.column("segmenter")[0].as_py())
    mine = [i for i in list_indexes(project, cat) if i.get("segmenter") == segmenter
            and (not representation_ids or sorted(i["representations"]) == sorted(representation_ids))]
    if len(mine) != 1:
        hint = f"syncline index build --segmenter {segmenter} -r <representation>"
        raise SearchError(f"{'no' if not mine else len(mine)} stored index(es) of {segmenter}"
                          f"{' over ' + ', '.join(representation_ids) if representation_ids else ''}: "
                          + (f"build one with `{hint}`" if not mine else "name the representations (-r)"))
    idx = mine[0]
    if idx["stale"]:
        raise SearchError(f"index {idx['index']} is stale ({'; '.join(idx['stale'])}): rebuild it with `syncline "
                          f"index build --segmenter {segmenter} " + " ".join(f"-r {r}" for r in idx["representations"])
                          + "` or search without --index")
    if not exact and not idx.get("ann"):
        raise SearchError(f"index {idx['index']} has no ANN index (built without --ann, or under "
                          f"{MIN_ANN_ROWS} segments): search it exactly")
    row = cat.index_rows(idx["index"], columns=["entity_id", "t0_ns", "t1_ns", "vector"],
                         where=f"segment_id = '{_quote(segment_id)}'")
    if row.num_rows == 0:
        raise SearchError(f"segment {segment_id} is not in index {idx['index']} (it lacks one of its representations)")
    q = np.asarray(row.column("vector")[0].as_py(), np.float32)
    entity = str(row.column("entity_id")[0].as_py())
    where = f"entity_id != '{_quote(entity)}'" if other_entities else f"segment_id != '{_quote(segment_id)}'"
    hits = cat.index_nearest(idx["index"], q, k, where=where, exact=exact)
    return {"segment_id": segment_id, "entity_id": entity, "t0_ns": int(row.column("t0_ns")[0].as_py()),
            "t1_ns": int(row.column("t1_ns")[0].as_py()), "representations": sorted(idx["representations"]),
            "index": idx["index"], "exact": exact, "segments_searched": cat.index_count(idx["index"], where=where),
            "similar": [{"segment_id": r["segment_id"], "entity_id": r["entity_id"], "t0_ns": int(r["t0_ns"]),
                         "t1_ns": int(r["t1_ns"]), "score": round(1.0 - float(r["_distance"]), 4)}
                        for r in hits.to_pylist()]}


def _quote(text: str) -> str:
    return text.replace("'", "''")
