"""Train / validation / test splits that keep groups whole.

A split assigns every labelled target of a field to ``train``, ``validation`` or ``test``.
``assign_splits`` keeps a whole group together — an entity (a stall-day), or a subject (a person
filmed on several days) — so a model is never evaluated on the entity it trained on: groups are
ordered by a keyed hash of their name and the seed (stable when data is added) and dealt to the
splits in turn, each to the split furthest below its share. ``import_splits`` takes a team's own
split (CSV ``target_id,split``), checked the same way. Split sets are named (``default``) and
stored in the catalog's ``splits`` table with provenance; the leakage audit checks them.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

from syncline.catalog import query as Q
from syncline.ids import stable_id
from syncline.project import Project

SPLITS = ("train", "validation", "test")


def _rows(project: Project, field: str, name: str, assigned: dict[str, str],
          targets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"split_id": stable_id("split", name, t["target_id"]), "split_set": name, "field": field,
             "target_id": t["target_id"], "entity_id": t["entity_id"], "split": assigned[t["target_id"]],
             "asset_ids": t["asset_ids"], "subject_ids": t["subject_ids"]}
            for t in targets if t["target_id"] in assigned]


def _replace(project: Project, name: str, rows: list[dict[str, Any]]) -> None:
    cat = project.catalog()
    if rows:
        cat.upsert("splits", rows)
    keep = {r["split_id"] for r in rows}
    where = "split_set = '" + name.replace("'", "''") + "'"
    stale = [r["split_id"] for r in cat.read("splits", where=where).to_pylist() if r["split_id"] not in keep]
    if stale:
        cat.delete("splits", "split_id IN (" + ", ".join(f"'{s}'" for s in stale) + ")")


def _groups(targets: list[dict[str, Any]], by: str) -> dict[str, list[str]]:
    """Targets that must stay together: one entity's, or — by subject — every target linked to
    another through a shared person or entity (union-find: a photo of A and B and one of B and C
    are one group)."""
    parent: dict[str, str] = {}

    def find(k: str) -> str:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for t in targets:
        keys = [f"entity:{t['entity_id'] or t['target_id']}"]
        if by == "subject":
            keys += [f"subject:{s}" for s in t["subject_ids"] or []]
        for k in keys[1:]:
            parent[find(k)] = find(keys[0])
        find(keys[0])
    groups: dict[str, list[str]] = {}
    for t in targets:
        groups.setdefault(find(f"entity:{t['entity_id'] or t['target_id']}"), []).append(t["target_id"])
    return groups


def assign_splits(project: Project, field: str, *, by: str = "entity",
                  shares: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0,
                  name: str = "default") -> dict[str, int]:
    """Group-aware split of the labelled targets of ``field``; returns targets per split."""
    if by not in ("entity", "subject"):
        raise ValueError(f"--by {by!r}: split by entity or subject")
    if len(shares) != 3 or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-6:
        raise ValueError(f"shares {shares} must be three non-negative numbers summing to 1")
    with project.catalog().connect() as con:
        targets = Q.split_targets(con, field)
    if not targets:
        raise ValueError(f"no labelled targets of field {field!r}: import labels first")
    groups = _groups(targets, by)
    order = sorted(groups, key=lambda g: hashlib.blake2b(f"{seed}\0{g}".encode(), digest_size=8).digest())
    counts = dict.fromkeys(SPLITS, 0)
    assigned: dict[str, str] = {}
    total = len(targets)
    for g in order:
        split = min(SPLITS, key=lambda s: (counts[s] - shares[SPLITS.index(s)] * total, SPLITS.index(s)))
        for tid in groups[g]:
            assigned[tid] = split
        counts[split] += len(groups[g])
    _replace(project, name, _rows(project, field, name, assigned, targets))
    return counts


def import_splits(project: Project, path: Path, field: str, *,
                  name: str = "default") -> tuple[dict[str, int], list[str]]:
    """A team's own split from CSV (``target_id,split``): (targets per split, refused lines)."""
    with project.catalog().connect() as con:
        targets = Q.split_targets(con, field)
    known = {t["target_id"] for t in targets}
    assigned: dict[str, str] = {}
    first_line: dict[str, int] = {}
    refused: list[str] = []
    with Path(path).open(newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            tid, split = (row.get("target_id") or "").strip(), (row.get("split") or "").strip()
            if split not in SPLITS:
                refused.append(f"line {n}: split {split!r} is not one of {', '.join(SPLITS)}")
            elif tid not in known:
                refused.append(f"line {n}: target {tid!r} has no label of {field!r}")
            elif assigned.get(tid, split) != split:
                refused.append(f"line {n}: target {tid!r} is put in {split!r} here and in {assigned[tid]!r} on "
                               f"line {first_line[tid]}; a target belongs to one split")
            else:
                assigned[tid] = split
                first_line.setdefault(tid, n)
    if refused or not assigned:  # a half-right file must not replace a good split
        raise ValueError(f"{path}: {len(refused)} line(s) refused, nothing written — "
                         + ("; ".join(refused[:3]) or "no line with target_id,split"))
    _replace(project, name, _rows(project, field, name, assigned, targets))
    counts = dict.fromkeys(SPLITS, 0)
    for s in assigned.values():
        counts[s] += 1
    return counts, refused
