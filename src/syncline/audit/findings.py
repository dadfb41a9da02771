"""What an audit check returns: findings (check, severity, evidence, where, what to do) or the
reason it could not run.

A finding is about a target (an asset, a segment, a label, a field) and, for media, a span of
the entity timeline; ``details`` holds the evidence (frame or sample ranges, statistics,
thresholds) and ``action`` the recommended next step. Its ID is stable per check, target, span
and message, and a re-run replaces the check's findings instead of piling them up. Provenance lists
(``asset_ids``, ``subject_ids``) let a consent withdrawal find them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from syncline.ids import stable_id

Severity = Literal["info", "warning", "error"]


@dataclass(frozen=True)
class Finding:
    check: str                      # e.g. media.video.black
    severity: Severity
    message: str
    action: str
    target_type: str                # asset | segment | label | field
    target_id: str
    entity_id: str | None = None
    t0_ns: int | None = None        # entity timeline
    t1_ns: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    asset_ids: tuple[str, ...] = ()
    subject_ids: tuple[str, ...] = ()

    def row(self, run_id: str) -> dict[str, Any]:
        return {
            "finding_id": stable_id("finding", self.check, self.target_type, self.target_id,
                                    str(self.t0_ns), str(self.t1_ns), self.message),
            "check": self.check, "severity": self.severity, "target_type": self.target_type,
            "target_id": self.target_id, "entity_id": self.entity_id, "t0_ns": self.t0_ns, "t1_ns": self.t1_ns,
            "message": self.message, "details_json": json.dumps(self.details | {"action": self.action},
                                                                 sort_keys=True, default=float),
            "run_id": run_id, "asset_ids": list(self.asset_ids) or None, "subject_ids": list(self.subject_ids) or None,
        }


class CannotRun(Exception):
    """A check that cannot run here: the message says why and what would make it run."""


@dataclass
class CheckResult:
    check: str
    ran: bool
    why_not: str | None = None
    findings: list[Finding] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # per-file problems; the check went on

    def to_json(self) -> dict[str, Any]:
        by_severity: dict[str, int] = {}
        by_kind: dict[str, int] = {}
        for f in self.findings:
            by_severity[f.severity] = by_severity.get(f.severity, 0) + 1
            by_kind[f.check] = by_kind.get(f.check, 0) + 1
        return {"check": self.check, "ran": self.ran, "why_not": self.why_not, "findings": len(self.findings),
                "by_severity": by_severity, "by_kind": dict(sorted(by_kind.items())), "summary": self.summary,
                "errors": self.errors}
