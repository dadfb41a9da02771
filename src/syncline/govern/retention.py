"""``syncline retention apply``: purge what has outlived its retention period, the way a consent
withdrawal does (``govern.purge``): files, every derived row, old table versions; runs flagged.

Periods come from ``syncline.yaml`` (``retention``: a default, per modality, per jurisdiction)
and from subjects' consent records (``retention_days``); the shortest that applies wins. Age
counts from the capture time, else the nominal start the manifest gave; a file with a period
but neither date is reported as undated and kept — deleting on a guess is not retention.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncline.catalog import query as Q
from syncline.govern.footprint import Footprint, collect
from syncline.govern.keys import keyed_hash, project_key
from syncline.govern.purge import finish_pending, purge
from syncline.project import Project

NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass
class RetentionReport:
    now_utc: str
    dry_run: bool
    expired: list[dict[str, Any]] = field(default_factory=list)
    undated: list[str] = field(default_factory=list)
    footprint: Footprint | None = None
    elapsed_s: float = 0.0

    def to_json(self, root: Path) -> dict[str, Any]:
        out: dict[str, Any] = {
            "now_utc": self.now_utc, "dry_run": self.dry_run, "elapsed_s": self.elapsed_s,
            "expired": [{k: a[k] for k in ("asset_id", "modality", "entity_id", "days", "age_days")}
                        for a in self.expired],
            "undated": self.undated,
        }
        if self.footprint is not None:
            out |= {"footprint": self.footprint.to_json(root)}
        return out


def apply(project: Project, *, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    started = time.monotonic()
    if not dry_run:
        finish_pending(project)  # a purge killed part way (old versions may still hold expired rows)
    now = now or datetime.now(UTC)
    now_ns = int(now.timestamp() * 1e9)
    policy = project.settings.retention
    with project.catalog().connect() as con:
        rows = Q.retention_candidates(con, policy.days, dict(policy.by_modality), dict(policy.by_jurisdiction))
    report = RetentionReport(now.isoformat(), dry_run)
    for r in rows:
        if r["dated_utc_ns"] is None:
            report.undated.append(str(r["asset_id"]))
        elif now_ns - int(r["dated_utc_ns"]) > int(r["days"]) * NS_PER_DAY:
            report.expired.append(r | {"age_days": round((now_ns - int(r["dated_utc_ns"])) / NS_PER_DAY, 1)})
    if report.expired:
        report.footprint = collect(project, report.expired, words=[], label="retention")
        if not dry_run:
            key = project_key(project.root, must_exist=project.catalog().count("withdrawn") > 0)
            group = keyed_hash(key, f"retention:{now.isoformat()}")
            purge(project, report.footprint, group_hash=group, action="retention.apply")
    report.elapsed_s = round(time.monotonic() - started, 3)
    return report
