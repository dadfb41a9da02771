"""Writing: labels (as the caller, within their qualification), the grader queue (accept / fix
/ reject), and the human-review queue whose answers are written back as labels."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from syncline.annotate.guidelines import GuidelineError
from syncline.annotate.schema import SchemaError
from syncline.catalog import views as V
from syncline.server.app import Limit, Offset, Proj, Who, Writer
from syncline.server.writer import WriterClosed

router = APIRouter()


class LabelIn(BaseModel):
    """A label as the page sends it; who wrote it is the login, never a field of the body."""

    model_config = ConfigDict(extra="forbid")
    field: str = Field(max_length=200)
    value: Any = None
    target_id: str | None = Field(None, max_length=300)
    entity_id: str | None = Field(None, max_length=300)
    t0_ns: int | None = Field(None, ge=-(2**62), le=2**62)
    t1_ns: int | None = Field(None, ge=-(2**62), le=2**62)
    instance: str | None = Field(None, max_length=100)
    confidence: float | None = Field(None, ge=0, le=1)


class LabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[LabelIn] = Field(min_length=1, max_length=1000)


class GradeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label_id: str = Field(max_length=300)
    verdict: str = Field(max_length=20)
    value: Any = None
    score: float | None = None


class GradesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grades: list[GradeIn] = Field(min_length=1, max_length=1000)


def _write(writer: Any, kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Through the group writer; a project that cannot take labels at all (no or a broken
    label schema, a guideline changed after its freeze) is a 422 that says why."""
    try:
        res = writer.submit(kind, rows)
    except (SchemaError, GuidelineError, FileNotFoundError, ValueError) as e:
        raise HTTPException(422, str(e).splitlines()[0] if str(e) else type(e).__name__) from e
    except (WriterClosed, TimeoutError) as e:
        raise HTTPException(503, f"not written: {e or 'the catalog did not answer in time'}; try again") from e
    return {"written": res.written, "refused": [{"index": r.index, "reason": r.reason} for r in res.refused]}


@router.post("/labels")
def post_labels(body: LabelsIn, who: Who, project: Proj, writer: Writer) -> dict[str, Any]:
    """Write labels as the caller; the schema, their qualification and the target are checked
    per label (``annotate.labels.write_labels``); refused ones come back with the reason."""
    if who.is_owner:
        raise HTTPException(403, "the owner's login reads and grades; label with an annotator's login link")
    rows = [lab.model_dump(exclude_none=True) | {"annotator": who.name} for lab in body.labels]
    return _write(writer, "labels", rows)


@router.get("/queue/grading")
def grading(who: Who, project: Proj, offset: Offset = 0, limit: Limit = 50) -> Any:
    fields = None if who.is_owner else list(who.grades)
    with project.catalog().connect(tables=V.GRADING) as con:
        if fields is None:
            fields = sorted({str(f) for (f,) in con.sql("SELECT DISTINCT field FROM labels").fetchall()})
        return V.grading_queue(con, fields, offset, limit,
                               None if who.is_owner else who.name)


@router.post("/grades")
def post_grades(body: GradesIn, who: Who, project: Proj, writer: Writer) -> dict[str, Any]:
    """Grade as the caller (``annotate.grading.grade_labels`` checks they may grade the field
    and that the label is not their own)."""
    if who.is_owner:
        raise HTTPException(403, "grades carry a grader's name: grade with a grader's login link")
    rows = [g.model_dump(exclude_none=True) | {"grader": who.name} for g in body.grades]
    return _write(writer, "grades", rows)


@router.get("/queue/review")
def review(who: Who, project: Proj, offset: Offset = 0, limit: Limit = 50) -> Any:
    """Decisions a pipeline routed to people; answering one is posting a label of its field
    on its segment (the feedback loop)."""
    with project.catalog().connect(tables=V.REVIEW) as con:
        return V.review_queue(con, offset, limit, None if who.is_owner else list(who.fields))
