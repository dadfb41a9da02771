"""Fit a head from the catalog: `syncline fit FIELD -r REPRESENTATION ...`.

The labelled segments of a class field, each under its Dawid–Skene consensus (``audit.gold``),
get one vector per representation — the mean of the stored windows inside the segment through
the current clocks (``represent.search``) — concatenated in the order given. Segments lacking a
representation are left out and counted. With a split set, only its ``train`` (and, as nothing
is tuned here, ``validation``) targets are used. The head (``heads.fit_head``: entities kept whole
in its out-of-fold score) is saved under ``models/`` with what it was fitted on: the field, the
representations, the split set and the catalog's table versions — ready for a ``head`` stage in
``pipeline.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from syncline.audit.gold import consensus, with_consensus
from syncline.catalog import query as Q
from syncline.pipeline.heads import LinearHead, fit_head
from syncline.project import Project
from syncline.represent.search import segment_vectors, windows


def fit_from_catalog(project: Project, field: str, representations: list[str], *, name: str | None = None,
                     split_set: str | None = None) -> tuple[LinearHead, Path, dict[str, Any]]:
    """Fit and save a head for ``field`` on ``representations``; returns it, its file and counts."""
    cat = project.catalog()
    snapshot = cat.snapshot()
    with cat.connect(versions=snapshot) as con:
        stored = {r["representation_id"] for r in Q.representation_usage(con) if r["vectors"] > 0}
        missing = [r for r in representations if r not in stored]
        if missing:
            raise ValueError(f"no stored vectors of {', '.join(missing)}: run `syncline embed -r {missing[0]}` first")
        spans = {r["target_id"]: r for r in Q.label_target_spans(con, field)}
        values = {t: v for t, _, v, _ in with_consensus(Q.class_conditions(con, field, "entity"),
                                                        consensus(Q.field_labels(con, field)))}
        members = {r["target_id"]: r["split"] for r in Q.split_members(con, split_set)} if split_set else None
        wins = [windows(con, rid) for rid in representations]
    if not values:
        raise ValueError(f"no labels of field {field!r}: import labels first (syncline labels import)")
    if members is not None and not members:
        raise ValueError(f"no split set {split_set!r}: run `syncline split {field}` first, or leave out --split")
    ids = sorted(t for t in values if t in spans and spans[t]["t0_ns"] is not None
                 and (members is None or members.get(t) in ("train", "validation")))
    ents = np.array([spans[t]["entity_id"] for t in ids], object)
    t0 = np.array([spans[t]["t0_ns"] for t in ids], np.int64)
    t1 = np.array([spans[t]["t1_ns"] for t in ids], np.int64)
    blocks = [segment_vectors(w, ents, t0, t1) for w in wins]
    x = np.hstack(blocks) if blocks else np.zeros((len(ids), 0))
    keep = np.asarray(~np.isnan(x).any(axis=1), bool) if len(ids) else np.zeros(0, bool)
    y = [values[t] for t, k in zip(ids, keep.tolist(), strict=True) if k]
    head = fit_head(name or f"{field}-{'+'.join(r.split('@')[0] for r in representations)}", x[keep], y,
                    list(ents[keep]),
                    fitted_on={"field": field, "representation_ids": representations, "split_set": split_set,
                               "table_versions": snapshot})
    path = head.save(project.root / "models")
    return head, path, {"targets": len(ids), "used": int(keep.sum()), "without_vectors": int((~keep).sum())}
