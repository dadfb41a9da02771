"""Inventory: what data the project really has, before anyone trains anything.

Answers, from the catalog alone: per modality counts, hours and bytes; which entity holds
which modalities (the coverage matrix, and its UpSet-style combination counts, also as a PNG);
how many hours are *aligned* — every modality the task requires recorded at once on the same
entity — as opposed to hours of files; how capture conditions are distributed and how
imbalanced they are; and the gaps: missing modalities and uncovered time.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from syncline.catalog import query as Q
from syncline.project import Project
from syncline.task import TaskSpecError, load_task

NS_PER_HOUR = 3_600_000_000_000
IMBALANCE_RATIO = 2.0
"""A capture condition whose most common value outnumbers its rarest by this much is flagged."""
MIN_ASSETS_TO_JUDGE = 10
"""Below this many assets a split says nothing (rule 3): it is shown, marked too few to judge."""


@dataclass(frozen=True)
class ContextBalance:
    key: str
    modality: str
    counts: dict[str, int]
    ratio: float              # most common / rarest
    entropy: float            # normalised Shannon entropy in [0, 1]; 1 = perfectly balanced
    imbalanced: bool
    too_few: bool


@dataclass
class Inventory:
    required: list[str]
    modalities: list[dict[str, Any]]
    coverage: dict[str, list[str]]
    combinations: list[dict[str, Any]]
    hours_of_files: float
    aligned_hours: float
    aligned_by_entity: dict[str, float]
    complete_entities: list[str]
    missing: dict[str, list[str]]
    missing_streams: dict[str, list[str]]
    context: list[ContextBalance]
    unaligned_hours_by_entity: dict[str, float]
    quarantined: int
    png: str | None = None
    notes: list[str] = field(default_factory=list)
    privacy_register: list[dict[str, Any]] = field(default_factory=list)  # the task's cross-modal inference risks
    consent: dict[str, int] = field(default_factory=dict)  # subjects per consent status

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _balance(key: str, modality: str, counts: dict[str, int]) -> ContextBalance:
    values = list(counts.values())
    total = sum(values)
    ratio = max(values) / min(values) if values else 1.0
    if len(values) > 1:
        h = -sum((v / total) * math.log(v / total) for v in values if v)
        entropy = h / math.log(len(values))
    else:
        entropy = 0.0
    return ContextBalance(key, modality, counts, round(ratio, 3), round(entropy, 3),
                          imbalanced=total >= MIN_ASSETS_TO_JUDGE and len(values) > 1 and ratio >= IMBALANCE_RATIO,
                          too_few=total < MIN_ASSETS_TO_JUDGE)


def _missing_streams(entities: list[str], streams: dict[str, list[str]]) -> dict[str, list[str]]:
    """Streams (modality:camera/mic) that most entities have but these lack: a camera that was
    off, a microphone never set up. 'Most' = more than half of the entities."""
    counts = Counter(s for ss in streams.values() for s in set(ss))
    usual = sorted(s for s, n in counts.items() if n > len(entities) / 2)
    out = {e: [s for s in usual if s not in streams.get(e, [])] for e in entities}
    return {e: m for e, m in out.items() if m}


def required_modalities(project: Project) -> tuple[list[str], list[str]]:
    """The task's required modalities, and a note if the task spec cannot be read."""
    if not project.task_path.exists():
        return [], [f"no task spec at {project.task_path}; aligned hours need required modalities"]
    try:
        task = load_task(project.task_path)
    except TaskSpecError as e:
        return [], [f"task spec invalid, aligned hours skipped: {str(e).splitlines()[0]}"]
    return sorted(str(m) for m in task.modalities.required), []


def _privacy_register(project: Project) -> list[dict[str, Any]]:
    try:
        task = load_task(project.task_path)
    except (TaskSpecError, OSError):
        return []
    return [r.model_dump() | {"open": not r.mitigation.strip()} for r in task.privacy.inferences]


def _consent(con: Any) -> tuple[dict[str, int], list[str]]:
    """Subjects per consent status, and a note for each withdrawn subject whose files remain."""
    counts: dict[str, int] = {}
    notes = []
    for r in Q.subject_summary(con):
        status = str(r.get("status") or "no record")
        counts[status] = counts.get(status, 0) + 1
        if status == "withdrawn" and r["assets"]:
            notes.append(f"consent of {r['subject_id']} is withdrawn but {r['assets']} file(s) remain: "
                         f"run `syncline consent withdraw {r['subject_id']}`")
    return counts, notes


def build_inventory(project: Project, *, required: list[str] | None = None, png: bool = True) -> Inventory:
    notes: list[str] = []
    if required is None:
        required, notes = required_modalities(project)
    cat = project.catalog()
    with cat.connect() as con:
        totals = Q.modality_totals(con)
        coverage = Q.entity_modalities(con)
        streams = Q.entity_streams(con)
        aligned = Q.aligned_time(con, required)
        keys = ["device", "camera", "mic", *Q.context_keys(con)]
        dist = Q.context_distribution(con, keys)
        extent = Q.entity_extent(con, required)
        consent, consent_notes = _consent(con)
    combos = Counter(tuple(m) for m in coverage.values())
    combinations = [{"modalities": list(k), "entities": n} for k, n in combos.most_common()]
    missing = {e: [m for m in required if m not in mods] for e, mods in coverage.items()}
    missing = {e: m for e, m in missing.items() if m}
    complete = sorted(e for e in coverage if e not in missing) if required else []
    missing_streams = _missing_streams(list(coverage), streams)
    hours_of_files = sum(float(row["hours"]) for row in totals)
    inv = Inventory(
        required=required, modalities=totals, coverage=coverage, combinations=combinations,
        hours_of_files=round(hours_of_files, 4),
        aligned_hours=round(sum(aligned.values()) / NS_PER_HOUR, 4),
        aligned_by_entity={e: round(ns / NS_PER_HOUR, 5) for e, ns in aligned.items()},
        complete_entities=complete, missing=missing, missing_streams=missing_streams,
        context=[_balance(k, m, v) for (k, m), v in dist.items() if len(v) > 1],
        unaligned_hours_by_entity={e: round((extent.get(e, 0) - aligned.get(e, 0)) / NS_PER_HOUR, 5)
                                   for e in extent if extent.get(e, 0) > aligned.get(e, 0)},
        quarantined=cat.count("quarantine"), notes=notes + consent_notes,
        privacy_register=_privacy_register(project), consent=consent,
    )
    if png and coverage:
        from syncline.inventory_plot import plot_upset

        project.reports_dir.mkdir(exist_ok=True)
        out = project.reports_dir / "coverage_upset.png"
        plot_upset(inv.combinations, sorted({m for ms in coverage.values() for m in ms}), out,
                   title=f"Entity x modality coverage ({len(coverage)} entities)")
        inv.png = str(out)
    return inv


def write_json(inv: Inventory, path: Path) -> None:
    import json

    path.write_text(json.dumps(inv.to_json(), indent=2, sort_keys=True), encoding="utf-8")
