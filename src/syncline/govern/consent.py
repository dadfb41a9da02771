"""The consent registry as people read it, and as the pipeline enforces it.

``list_subjects``: each subject, its consent record, its assets. ``blocked_for``: the assets a
stage (collection, annotation, training, evaluation, publication) may not use — consent not
granted, a scope that lacks the stage, or a jurisdiction the project's policy
(``syncline.yaml`` ``stage_jurisdictions``) does not allow for it. Exports for a stage leave
those assets out (``syncline tuples --stage training``).
"""

from __future__ import annotations

from typing import Any

from syncline.catalog import query as Q
from syncline.project import Project


def list_subjects(project: Project) -> list[dict[str, Any]]:
    with project.catalog().connect() as con:
        return Q.subject_summary(con)


STAGES = ("collection", "annotation", "training", "evaluation", "publication")


def blocked_for(project: Project, stage: str) -> list[dict[str, Any]]:
    """One row per (asset, reason) that keeps an asset out of ``stage``."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    jurisdictions = project.settings.stage_jurisdictions.get(stage)
    with project.catalog().connect() as con:
        return Q.stage_blocks(con, stage, jurisdictions)
