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

from syncline.annotate.schema import SchemaError
from syncline.audit.findings import CannotRun, CheckResult
from syncline.ids import stable_id
from syncline.project import Project
from syncline.task.errors import TaskSpecError

CHECKS: dict[str, str] = {  # name -> module:function, imported when the check runs (heavy imports stay lazy)
    "media": "media_check:media_quality", "alignment": "alignment_check:alignment_summary",
    "label_noise": "label_noise_check:label_noise", "imbalance": "imbalance:imbalance", "leakage": "leakage:leakage",
    "split": "split_leakage:split_leakage", "dominance": "dominance:modality_dominance"}


def _check(name: str) -> Callable[[Project], CheckResult]:
    from importlib import import_module

    module, function = CHECKS[name].split(":")
    fn: Callable[[Project], CheckResult] = getattr(import_module(f"syncline.audit.{module}"), function)
    return fn


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
            result = _check(name)(project)
        except CannotRun as e:
            result = CheckResult(name, ran=False, why_not=str(e))
        except TaskSpecError as e:  # labels.yaml or task.yaml is invalid: the user's to fix, not a bug
            what = "`syncline schema check`" if isinstance(e, SchemaError) else "`syncline task check`"
            more = " (and more)" if len(e.problems) > 1 else ""
            result = CheckResult(name, ran=False, why_not=f"{e.problems[0]}{more} — fix it; {what} lists every problem")
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
