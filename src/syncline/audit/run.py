"""``syncline audit``: run the checks, write their findings into the catalog, pin the run.

Each check is independent: one that cannot run (no labels, one class, a modality missing) says
why and what would make it run, and the others go on. A check's new findings replace that
check's old ones (written first, then the old run's rows removed — a crash in between leaves
both, never neither). The run is a ``runs`` row pinned to the table versions it read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from syncline.audit.findings import CannotRun, CheckResult
from syncline.ids import stable_id
from syncline.project import Project


def _media(project: Project) -> CheckResult:
    from syncline.audit.media_check import media_quality

    return media_quality(project)


def _alignment(project: Project) -> CheckResult:
    from syncline.audit.alignment_check import alignment_summary

    return alignment_summary(project)


def _imbalance(project: Project) -> CheckResult:
    from syncline.audit.imbalance import imbalance

    return imbalance(project)


def _leakage(project: Project) -> CheckResult:
    from syncline.audit.leakage import leakage

    return leakage(project)


def _split(project: Project) -> CheckResult:
    from syncline.audit.split_leakage import split_leakage

    return split_leakage(project)


def _label_noise(project: Project) -> CheckResult:
    from syncline.audit.label_noise_check import label_noise

    return label_noise(project)


def _dominance(project: Project) -> CheckResult:
    from syncline.audit.dominance import modality_dominance

    return modality_dominance(project)


CHECKS: dict[str, Callable[[Project], CheckResult]] = {
    "media": _media, "alignment": _alignment, "label_noise": _label_noise, "imbalance": _imbalance,
    "leakage": _leakage, "split": _split, "dominance": _dominance}


@dataclass
class AuditReport:
    run_id: str
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "seconds": round(self.seconds, 2),
                "checks": [r.to_json() for r in self.results]}


def run_audit(project: Project, checks: list[str] | None = None) -> AuditReport:
    names = checks or list(CHECKS)
    unknown = [c for c in names if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; checks: {', '.join(CHECKS)}")
    cat = project.catalog()
    started = time.time_ns()
    snapshot = cat.snapshot()
    report = AuditReport(stable_id("audit", str(started), *names))
    for name in names:
        try:
            result = CHECKS[name](project)
        except CannotRun as e:
            result = CheckResult(name, ran=False, why_not=str(e))
        except Exception as e:  # one check's failure is reported; the others go on (rule 2)
            first = (str(e).splitlines() or [""])[0]
            result = CheckResult(name, ran=False, why_not=f"failed: {type(e).__name__}: {first} — please report it")
        report.results.append(result)
        if result.ran:
            rows = [f.row(report.run_id) for f in result.findings]
            if rows:
                cat.upsert("findings", rows)
            prefix = name.replace("'", "''") + "."
            cat.delete("findings", f"starts_with(`check`, '{prefix}') AND (run_id IS NULL OR "  # backticks: a column
                                   f"run_id != '{report.run_id}')")
            if name == "media":
                from syncline.audit.quality_columns import write_quality

                result.summary["quality_rows"] = write_quality(project, report.run_id)
    report.seconds = (time.time_ns() - started) / 1e9
    cat.upsert("runs", [{
        "run_id": report.run_id, "kind": "audit", "started_utc_ns": started, "finished_utc_ns": time.time_ns(),
        "status": "done", "table_versions_json": json.dumps(snapshot, sort_keys=True),
        "config_json": json.dumps({"checks": names}, sort_keys=True),
    }])
    return report
