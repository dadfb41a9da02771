"""Per-segment quality columns: the share of each segment a media defect covers.

The media check's findings become columns of the ``quality`` table (``video_blurred``,
``audio_clipped``, ``sensor_gap``...), one row per segment, so that evaluation can slice by
them ("low light", "crowd noise", "sensor glitch") with the same SQL as any other column.
"""

from __future__ import annotations

from typing import Any

from syncline.catalog import query as Q
from syncline.catalog.schema import QUALITY_KINDS
from syncline.project import Project


def write_quality(project: Project, run_id: str) -> int:
    """Recompute the quality rows of every segment from the current media findings."""
    with project.catalog().connect() as con:
        shares = Q.segment_quality(con)
    rows: dict[str, dict[str, Any]] = {}
    for r in shares:
        row = rows.setdefault(r["segment_id"], {
            "segment_id": r["segment_id"], "entity_id": r["entity_id"], "segmenter": r["segmenter"],
            "t0_ns": r["t0_ns"], "t1_ns": r["t1_ns"], "run_id": run_id, "asset_ids": r["asset_ids"],
            "subject_ids": r["subject_ids"], **{k: 0.0 for k in QUALITY_KINDS}})
        if r["kind"] in QUALITY_KINDS:
            row[r["kind"]] = float(r["share"])
    if rows:
        project.catalog().upsert("quality", list(rows.values()))
    return len(rows)
