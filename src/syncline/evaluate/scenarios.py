"""Scenario suites: curated sets of rare cases (the calving at night, the cow cast in the stall)
that a model is evaluated on by themselves, versioned like datasets.

A suite's version is a hash of its sorted members, so the same members are the same version and
any change is a new one; old versions stay, so an evaluation pinned to ``night-calving@3f2a…``
can be repeated on exactly those targets. Members come from a file of target IDs or from a
condition over a run's prediction frame (the same columns task slices read).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from syncline.catalog import query as Q
from syncline.evaluate.slices import slice_set
from syncline.project import Project
from syncline.task.slices import Slice


def save_suite(project: Project, name: str, target_ids: list[str], *, target_type: str = "segment",
               description: str = "") -> dict[str, Any]:
    """Record ``target_ids`` as suite ``name``; returns its version (new or the existing one)."""
    try:
        Slice.model_validate({"name": name, "where": "entity_id == 'x'"})  # the same naming rule as slices
    except ValueError:
        raise ValueError(f"suite name {name!r}: use letters, digits, '_' and '-'") from None
    ids = sorted(set(target_ids))
    if not ids:
        raise ValueError(f"suite {name}: no targets given")
    cat = project.catalog()
    with cat.connect() as con:
        known = Q.target_provenance(con, target_type, ids)
    unknown = [t for t in ids if t not in known]
    if unknown:
        raise ValueError(f"suite {name}: {len(unknown)} unknown {target_type} ID(s), e.g. {unknown[0]!r}; "
                         "nothing recorded")
    version = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:12]
    now = time.time_ns()
    cat.upsert("scenarios", pa.table({
        "scenario_id": [f"{name}@{version}|{t}" for t in ids], "suite": [name] * len(ids),
        "version": [version] * len(ids), "target_type": [target_type] * len(ids), "target_id": ids,
        "description": [description] * len(ids), "created_utc_ns": [now] * len(ids),
        "asset_ids": [known[t][0] for t in ids], "subject_ids": [known[t][1] for t in ids]}))
    return {"suite": name, "version": version, "targets": len(ids)}


def ids_from_file(path: Path) -> list[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def targets_where(project: Project, run_id: str, where: str) -> list[str]:
    """The targets of ``run_id``'s predictions that satisfy ``where`` (a slice condition)."""
    from syncline.evaluate.rows import resolve_any_run

    run = resolve_any_run(project, run_id)
    sset = slice_set([Slice.model_validate({"name": "suite", "where": where})], intersections=False)

    field = json.loads(run.get("config_json") or "{}").get("field")
    with project.catalog().connect() as con:
        frame = Q.prediction_frame(con, run["run_id"], field, sset.columns)
        member = Q.slice_membership(con, frame, sset.predicates[1:])
    inside = member.column(0).to_numpy(zero_copy_only=False)
    return [t for t, ok in zip(frame.column("target_id").to_pylist(), inside, strict=True) if ok]


def resolve_suite(project: Project, ref: str) -> tuple[str, str, list[str]]:
    """``name`` (its newest version) or ``name@version`` to (name, version, members)."""
    name, _, version = ref.partition("@")
    with project.catalog().connect() as con:
        versions = [v for v in Q.suite_versions(con) if v["suite"] == name]
        if not versions:
            raise ValueError(f"no scenario suite {name!r}; make one with `syncline scenarios add {name} ...`")
        if version:
            match = [v for v in versions if v["version"].startswith(version)]
            if len(match) != 1:
                raise ValueError(f"suite {name} has no single version {version!r} "
                                 f"(versions: {', '.join(v['version'] for v in versions)})")
            version = match[0]["version"]
        else:
            version = versions[0]["version"]
        return name, version, Q.suite_members(con, name, version)
