"""Alignment noise: a summary of the latest alignment verdicts, so a quality report says how
much of the data is verified in sync, how much abstained, and which streams may belong to
another entity. The alignment run already wrote a finding for every pair it could not
verify; this check adds one per entity whose streams are mostly unverified."""

from __future__ import annotations

from collections import Counter

from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.catalog import query as Q
from syncline.project import Project


def alignment_summary(project: Project) -> CheckResult:
    with project.catalog().connect() as con:
        rows = Q.latest_alignment(con)
    if not rows:
        raise CannotRun("no alignment run in the catalog: run `syncline align` first")
    result = CheckResult("alignment", ran=True)
    verdicts = Counter(r["verdict"] for r in rows)
    lags = sorted(abs(int(r["lag_ns"])) for r in rows if r["verdict"] == "aligned" and r["lag_ns"] is not None)
    result.summary = {
        "pairs": len(rows), "verdicts": dict(sorted(verdicts.items())),
        "verified_share": round(verdicts.get("aligned", 0) / len(rows), 3),
        "median_abs_offset_s": round(lags[len(lags) // 2] / 1e9, 3) if lags else None,
        "max_abs_offset_s": round(lags[-1] / 1e9, 3) if lags else None,
        "no_plausible_alignment": sorted({r["asset_id"] for r in rows if r["verdict"] == "no_plausible_alignment"}),
    }
    by_entity: dict[str, list[str]] = {}
    for r in rows:
        by_entity.setdefault(r["entity_id"], []).append(r["verdict"])
    for entity, vs in sorted(by_entity.items()):
        unverified = sum(1 for v in vs if v != "aligned")
        if unverified * 2 > len(vs):
            result.findings.append(Finding(
                "alignment.unverified", "warning",
                f"{entity}: {unverified} of {len(vs)} stream pairs are not verified in sync",
                "add sync cues (a clap, a door), check the mis-attached streams, or keep the entity out of "
                "multimodal training until its streams verify", "entity", entity, entity,
                details={"verdicts": dict(Counter(vs))}))
    return result
