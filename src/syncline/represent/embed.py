"""Vectors of every asset under each representation, computed once and stored per version.

``embed(project)`` runs each encoder (the built-ins and those ``syncline.yaml`` declares) over
the assets of its modality that have no vectors of that representation yet, in worker
processes, and stores one row per window: ``target_type = "asset_window"`` and ``target_id =
"<asset>:<t0>:<t1>"`` on the *file's own clock*. A later clock correction therefore needs no
re-embedding: segment vectors are formed when read, through the asset's current clock
(``represent.search``).

* **Never overwritten.** Rows are inserted only where their ID is new, and a representation
  whose config hash differs from the one the catalog holds under the same ``name@version`` is
  refused: new weights or settings are a new version, stored beside the old one.
* **Resumable.** Each batch of assets is one commit; a killed run loses at most its batch, and
  the next run embeds only the assets without vectors.
* **Bad input.** A file that cannot be decoded is reported (name and reason) and the others go
  on; an asset kept as embeddings only has no media to encode and is counted, not failed.
* **Provenance.** Each row names its asset and the asset's subjects, so a consent withdrawal
  removes it with the media.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from syncline.align.tuples import asset_path, has_media
from syncline.catalog import query as Q
from syncline.ids import stable_id
from syncline.project import Project
from syncline.represent.registry import Encoder, EncoderError, encoders

ASSETS_PER_COMMIT = 16


@dataclass
class EmbedReport:
    """Per representation: assets embedded now, already done, without media, failed; vectors written."""

    representations: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"representations": self.representations, "errors": self.errors}


def window_table(asset_id: str, subject_ids: Sequence[str] | None, representation_id: str, t0_ns: Sequence[int],
                 t1_ns: Sequence[int], vectors: np.ndarray) -> pa.Table:
    """Catalog rows for one asset's windows (the same IDs whoever computes them: ingest or embed),
    built as Arrow columns. A file that gave no window gets one ``asset_empty`` row without a
    vector, so that it counts as done and is not decoded again on every run."""
    vectors = np.asarray(vectors, np.float32)
    n = len(t0_ns)
    subjects = list(subject_ids) if subject_ids is not None else None
    if n == 0:
        return pa.Table.from_pylist([{"embedding_id": stable_id(asset_id, representation_id, "empty"),
                                      "representation_id": representation_id, "target_type": "asset_empty",
                                      "target_id": f"{asset_id}:empty", "vector": None, "asset_ids": [asset_id],
                                      "subject_ids": subjects}])
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * dim)
    return pa.table({"embedding_id": [stable_id(asset_id, representation_id, i) for i in range(n)],
                     "representation_id": [representation_id] * n, "target_type": ["asset_window"] * n,
                     "target_id": [f"{asset_id}:{a}:{b}" for a, b in zip(t0_ns, t1_ns, strict=True)],
                     "vector": pa.ListArray.from_arrays(offsets, pa.array(vectors.reshape(-1))),
                     "asset_ids": pa.array([[asset_id]] * n, pa.list_(pa.string())),
                     "subject_ids": pa.array([subjects] * n, pa.list_(pa.string()))})


def project_encoders(project: Project, only: list[str] | None = None) -> dict[str, Encoder]:
    return encoders(project.settings.encoders, project.root, only)


def embed(project: Project, representation_ids: list[str] | None = None, *,
          progress: Callable[[str, int, int], None] | None = None) -> EmbedReport:
    """Embed every asset lacking vectors under the chosen representations (default: all known
    but the slow ones, which must be asked for)."""
    known = project_encoders(project, representation_ids or None)
    # by default every known encoder but the slow ones (they say so: ``by_default = False``)
    chosen = [r for r, e in known.items() if getattr(e, "by_default", True)] if not representation_ids \
        else representation_ids
    unknown = [r for r in chosen if r not in known]
    if unknown:
        raise EncoderError(f"unknown representation(s) {', '.join(unknown)}; known: {', '.join(sorted(known))} "
                           "(declare your own under encoders: in syncline.yaml)")
    cat = project.catalog()
    with cat.connect() as con:
        stored = Q.representation_hashes(con)
    for rid in chosen:
        rep = known[rid].representation
        if rid in stored and stored[rid] != rep.config_hash:
            raise EncoderError(f"representation {rid} is stored with config hash {stored[rid]}, but the encoder "
                               f"now has {rep.config_hash} (other weights or settings): give it a new version "
                               "so the old vectors stay valid for what was built on them")
    report = EmbedReport()
    spawn = multiprocessing.get_context("spawn")
    pool: ProcessPoolExecutor | None = None
    try:
        for rid in chosen:
            enc = known[rid]
            counts = report.representations.setdefault(rid, {"embedded": 0, "already": 0, "no_media": 0,
                                                             "failed": 0, "vectors": 0})
            with cat.connect() as con:
                assets = Q.audit_assets(con, [enc.representation.modality])
                done = Q.embedded_assets(con, rid)
            todo = [a for a in assets if a["asset_id"] not in done and has_media(a)]
            counts["already"] = sum(a["asset_id"] in done for a in assets)
            counts["no_media"] = sum(a["asset_id"] not in done and not has_media(a) for a in assets)
            if not todo:
                continue
            cat.insert_missing("representations", [enc.representation.row()])
            if pool is None and project.settings.workers > 1 and len(todo) > 1:
                pool = ProcessPoolExecutor(max_workers=project.settings.workers, mp_context=spawn)
            for start in range(0, len(todo), ASSETS_PER_COMMIT):
                batch = todo[start:start + ASSETS_PER_COMMIT]
                paths = [str(asset_path(project, a)) for a in batch]
                try:
                    results = list(pool.map(_encode, [enc] * len(batch), paths) if pool is not None
                                   else map(_encode, [enc] * len(batch), paths))
                except BrokenProcessPool:  # a decoder crashed a worker: find the file, alone
                    pool.shutdown(cancel_futures=True)  # type: ignore[union-attr]
                    pool = ProcessPoolExecutor(max_workers=project.settings.workers, mp_context=spawn)
                    results = [_encode_alone(enc, path, spawn) for path in paths]
                tables: list[pa.Table] = []
                for a, res in zip(batch, results, strict=True):
                    if "error" in res:
                        counts["failed"] += 1
                        report.errors.append(f"{Path(str(a['source_path'])).name} ({rid}): {res['error']}")
                        continue
                    tables.append(window_table(a["asset_id"], a["subject_ids"], rid, res["t0_ns"], res["t1_ns"],
                                               res["vectors"]))
                    counts["embedded"] += 1
                if tables:
                    rows = pa.concat_tables([cat.conform("embeddings", t) for t in tables])
                    written = cat.insert_missing("embeddings", rows).inserted
                    counts["vectors"] += written - sum(t.column("target_type")[0].as_py() == "asset_empty"
                                                       for t in tables)
                if progress:
                    progress(rid, min(start + len(batch), len(todo)), len(todo))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return report


def _encode(encoder: Encoder, path: str) -> dict[str, Any]:
    """One file through one encoder, in a worker; never raises (a failure comes back as text)."""
    try:
        f = encoder.encode(Path(path))
    except Exception as e:  # decoders and model runtimes raise many types; the file is reported, not fatal
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return {"error": f"cannot encode: {first}"}
    vectors = np.asarray(f.vectors, np.float32)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1)) if vectors.size else np.zeros(0, int)
    if len(bad):  # one NaN would blank every later segment of the file (segment vectors are prefix sums)
        return {"error": f"the encoder gave NaN or infinite values in {len(bad)} of {len(vectors)} windows "
                         f"(first at {f.t0_ns[int(bad[0])] / 1e9:.3f} s): fix the encoder; nothing was stored"}
    return {"t0_ns": list(f.t0_ns), "t1_ns": list(f.t1_ns), "vectors": vectors}


def _encode_alone(encoder: Encoder, path: str, context: Any) -> dict[str, Any]:
    """One file in a worker of its own: a crash (a decoder's segfault) fails this file only."""
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as one:
        try:
            return one.submit(_encode, encoder, path).result()
        except BrokenProcessPool:
            return {"error": "the decoder crashed on this file (the worker process died); check it with ffprobe"}


def usage(project: Project) -> list[dict[str, Any]]:
    """Each stored representation with its vectors and assets, the runs pinned to it and the
    saved heads fitted on it: what still depends on a version before it is replaced."""
    from syncline.pipeline.heads import heads_by_representation

    with project.catalog().connect() as con:
        rows = Q.representation_usage(con)
    heads = heads_by_representation(project.root / "models")
    return [r | {"heads": heads.get(r["representation_id"], [])} for r in rows]
