"""Read-only pages: who am I, inventory, entities, one entity's timeline, findings, evaluation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from syncline.annotate.schema import SCHEMA_FILE, load_schema
from syncline.catalog import views as V
from syncline.server.app import Limit, Offset, Proj, Who
from syncline.timeline import NotFound, entity_timeline

router = APIRouter()


@router.get("/me")
def me(who: Who, project: Proj) -> dict[str, Any]:
    """The caller and the schema fields they may see, with each field's values."""
    path = project.root / SCHEMA_FILE
    fields: dict[str, Any] = {}
    if path.exists():
        schema = load_schema(path)
        fields = {n: {"kind": f.kind, "granularity": f.granularity, "type": f.type, "values": list(f.values or []),
                      "label": n in who.fields, "grade": who.is_owner or n in who.grades}
                  for n, f in schema.fields.items() if who.may_see(n)}
    return {"name": who.name, "role": who.role, "tier": who.tier, "fields": fields, "project": project.root.name}


@router.get("/inventory")
def inventory(project: Proj) -> dict[str, Any]:
    """The coverage matrix as modality combinations, aligned against unaligned hours, capture
    distributions (the per-entity maps stay on the entity pages)."""
    from syncline.inventory import build_inventory

    inv = build_inventory(project, png=False).to_json()
    return {k: inv[k] for k in ("required", "modalities", "combinations", "hours_of_files", "aligned_hours",
                                "context", "quarantined", "notes", "consent")} | {
        "entities": len(inv["coverage"]), "complete_entities": len(inv["complete_entities"]),
        "unaligned_hours": round(sum(inv["unaligned_hours_by_entity"].values()), 4)}


@router.get("/entities")
def entities(project: Proj, offset: Offset = 0, limit: Limit = 50, q: str = "") -> Any:
    with project.catalog().connect(tables=V.ENTITY_PAGE) as con:
        return V.entity_page(con, offset, limit, q)


@router.get("/entities/{entity_id}/timeline")
def timeline(entity_id: str, who: Who, project: Proj) -> Any:
    try:
        out = entity_timeline(project, entity_id)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    out["labels"] = [lab for lab in out["labels"] if who.may_see_label(lab["field"], lab["annotator"])]
    out["predictions"] = [p for p in out["predictions"] if who.may_see_model(p["field"])]
    return out


@router.get("/findings")
def findings(who: Who, project: Proj, offset: Offset = 0, limit: Limit = 50, severity: str = "") -> Any:
    if severity not in ("", "info", "warning", "error"):
        raise HTTPException(422, "severity is one of info, warning, error")
    with project.catalog().connect(tables=V.FINDINGS) as con:
        page = V.findings_page(con, offset, limit, severity, who.visible_fields(), who.name)
    for it in page["items"]:  # label-noise evidence lists other people's labels: for graders of the field only
        field_name = str(it.get("target_id") or "").split("@")[0] if it.get("target_type") == "field" else None
        if "suspects" in it["details"] and not (field_name and who.may_see_label(field_name, None)):
            it["details"].pop("suspects")
    return page


@router.get("/evaluation")
def evaluation(who: Who, project: Proj) -> Any:
    """The latest evaluation's metrics per slice, and its report's five answers when one was
    written (an annotator: of the fields they grade only)."""
    import json

    fields = None if who.is_owner else list(who.grades)
    with project.catalog().connect(tables=V.EVALUATION) as con:
        ev = V.latest_evaluation(con, fields)
        hidden = ev is None and fields is not None and V.latest_evaluation(con) is not None
    if ev is None:
        note = ("the evaluations are of fields you do not grade" if hidden
                else "no evaluation yet: run `syncline eval` or `syncline report`")
        return {"run": None, "metrics": [], "report": None, "note": note}
    reports = sorted(project.reports_dir.glob("*.json"), key=lambda p: p.stat().st_mtime) \
        if project.reports_dir.exists() else []
    report = None
    for path in reversed(reports):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "answers" in doc:
            evals = doc.get("evaluations") or [{}]
            if fields is not None and evals[0].get("field") not in fields:
                continue
            report = {"file": path.name, "answers": doc["answers"], "gates": evals[0].get("gates", []),
                      "redteam": doc.get("redteam")}
            break
    return ev | {"report": report}
