"""The consent registry as people read it: each subject, its consent record, its assets."""

from __future__ import annotations

from typing import Any

from syncline.catalog import query as Q
from syncline.project import Project


def list_subjects(project: Project) -> list[dict[str, Any]]:
    with project.catalog().connect() as con:
        return Q.subject_summary(con)
