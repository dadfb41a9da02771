"""Read models for the web app: pages of entities and findings, one entity's timeline, the
grading and review queues, the latest evaluation — each one DuckDB query over the catalog.

Pages are keyset-free ``LIMIT/OFFSET`` over a sorted key with a ``total`` (the lists are
entity-, finding- and label-sized, and a page of 50 at any offset of 100k entities is one
sorted scan of one column). Nothing here writes.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

# the tables each read needs (``Catalog.connect(tables=...)`` opens only those)
ENTITY_PAGE = ("entities", "assets")
TIMELINE = ("entities", "assets", "clocks", "runs", "segments", "events", "words", "labels", "grades",
            "predictions", "findings")
ASSET = ("assets",)
FINDINGS = ("findings",)
GRADING = ("labels", "segments", "events", "assets", "grades")
REVIEW = ("predictions", "runs", "segments", "labels")
EVALUATION = ("runs", "metrics")


def _rows(rel: Any) -> list[dict[str, Any]]:
    """Rows of a DuckDB result (relation or executed connection) as dicts."""
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def entity_page(con: duckdb.DuckDBPyConnection, offset: int, limit: int, search: str = "") -> dict[str, Any]:
    """Entities sorted by ID (optionally those whose ID contains ``search``), with each one's
    modalities and asset count, and how many match in all. Project-level holders (``_project``:
    a metadata table for every entity) are not entities anyone records and are left out."""
    where = "WHERE NOT starts_with(e.entity_id, '_')"
    if search:
        where += " AND contains(lower(e.entity_id), lower(?))"
    params: list[Any] = [search] if search else []
    total = con.execute(f"SELECT count(*) FROM entities e {where}", params).fetchall()[0][0]
    rel = con.execute(f"""
        WITH page AS (SELECT entity_id FROM entities e {where} ORDER BY entity_id LIMIT ? OFFSET ?)
        SELECT p.entity_id,
               coalesce(list_sort(list_distinct(list(a.modality) FILTER (a.modality IS NOT NULL))), []) AS modalities,
               count(a.asset_id) AS assets, max(a.duration_ns) AS longest_ns
        FROM page p LEFT JOIN assets a USING (entity_id)
        GROUP BY p.entity_id ORDER BY p.entity_id""", [*params, limit, offset])
    return {"total": int(total), "offset": offset, "limit": limit, "items": _rows(rel)}


def entity_exists(con: duckdb.DuckDBPyConnection, entity_id: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM entities WHERE entity_id = ?", [entity_id]).fetchall()[0][0])


def entity_assets(con: duckdb.DuckDBPyConnection, entity_id: str) -> list[dict[str, Any]]:
    """The entity's files with their clocks: the offset and drift in force now, and the raw
    offset they had before any applied alignment correction (the oldest applied row's old offset)."""
    return _rows(con.execute("""
        WITH first_fix AS (
            SELECT c.asset_id, arg_min(c.old_offset_ns, r.started_utc_ns) AS raw_offset_ns,
                   arg_min(c.old_drift_ppm, r.started_utc_ns) AS raw_drift_ppm
            FROM clocks c JOIN runs r USING (run_id)
            WHERE c.entity_id = ? AND c.applied GROUP BY c.asset_id)
        SELECT a.asset_id, a.modality, a.format, a.codec, a.duration_ns, a.start_ns, a.width, a.height, a.fps,
               a.sample_rate, a.channels, a.camera, a.mic, a.channel, a.device,
               coalesce(a.clock_offset_ns, 0) AS offset_ns, coalesce(a.clock_drift_ppm, 0.0) AS drift_ppm,
               a.clock_source, coalesce(f.raw_offset_ns, a.clock_offset_ns, 0) AS raw_offset_ns,
               coalesce(f.raw_drift_ppm, a.clock_drift_ppm, 0.0) AS raw_drift_ppm,
               a.managed_path IS NOT NULL OR a.source_path IS NOT NULL AS has_media
        FROM assets a LEFT JOIN first_fix f USING (asset_id)
        WHERE a.entity_id = ? ORDER BY a.modality, a.asset_id""", [entity_id, entity_id]))


def entity_segments(con: duckdb.DuckDBPyConnection, entity_id: str, limit: int = 5000) -> list[dict[str, Any]]:
    return _rows(con.execute("""
        SELECT segment_id, t0_ns, t1_ns, segmenter FROM segments WHERE entity_id = ?
        ORDER BY t0_ns, segmenter, segment_id LIMIT ?""", [entity_id, limit]))


def entity_events(con: duckdb.DuckDBPyConnection, entity_id: str, limit: int = 5000) -> list[dict[str, Any]]:
    return _rows(con.execute("""
        SELECT event_id, t_ns, type, state, actor FROM events WHERE entity_id = ? ORDER BY t_ns LIMIT ?""",
                             [entity_id, limit]))


def entity_words(con: duckdb.DuckDBPyConnection, entity_id: str, limit: int = 20000) -> list[dict[str, Any]]:
    """Forced-aligned words (on their transcript's own time; the transcript's clock places them)."""
    return _rows(con.execute("""
        SELECT asset_id, cue_index, word_index, t0_ns, t1_ns, text FROM words
        WHERE entity_id = ? AND word_index >= 0 ORDER BY asset_id, t0_ns LIMIT ?""", [entity_id, limit]))


def entity_labels(con: duckdb.DuckDBPyConnection, entity_id: str) -> list[dict[str, Any]]:
    """Labels on the entity, its segments, files (regions) and events, with the span they cover and their
    grades (``grader:verdict`` each; a grade given to an older value of the label is not shown)."""
    return _rows(con.execute("""
        WITH spans AS (
            SELECT 'segment' AS target_type, segment_id AS target_id, t0_ns, t1_ns FROM segments WHERE entity_id = ?
            UNION ALL SELECT 'region', asset_id, coalesce(clock_offset_ns, 0),
                             coalesce(clock_offset_ns, 0) + coalesce(duration_ns, 0) FROM assets WHERE entity_id = ?
            UNION ALL SELECT 'event', event_id, t_ns, t_ns FROM events WHERE entity_id = ?
            UNION ALL SELECT 'entity', ?, NULL, NULL UNION ALL SELECT 'sequence', ?, NULL, NULL),
        g AS (SELECT g.label_id, string_agg(g.grader || ':' || g.verdict, ', ' ORDER BY g.grader) AS grades
              FROM grades g JOIN labels l USING (label_id)
              WHERE g.graded_value IS NULL OR g.graded_value = l.value GROUP BY g.label_id)
        SELECT l.label_id, l.target_type, l.target_id, l.field, l.value, l.kind, l.annotator, s.t0_ns, s.t1_ns,
               g.grades AS grade
        FROM labels l JOIN spans s USING (target_type, target_id) LEFT JOIN g USING (label_id)
        ORDER BY s.t0_ns NULLS FIRST, l.field, l.annotator, l.label_id""", [entity_id] * 5))


def entity_predictions(con: duckdb.DuckDBPyConnection, entity_id: str, limit: int = 5000) -> list[dict[str, Any]]:
    """Predictions of the latest finished pipeline run per field on the entity's segments."""
    return _rows(con.execute("""
        WITH latest AS (
            SELECT p.field, arg_max(p.run_id, r.started_utc_ns) AS run_id
            FROM predictions p JOIN runs r USING (run_id) JOIN segments s ON s.segment_id = p.target_id
            WHERE s.entity_id = ? AND r.status = 'finished' GROUP BY p.field)
        SELECT p.prediction_id, p.run_id, p.field, p.value, p.score, p.route, p.abstained, s.t0_ns, s.t1_ns
        FROM predictions p JOIN latest USING (field, run_id) JOIN segments s ON s.segment_id = p.target_id
        WHERE s.entity_id = ? ORDER BY s.t0_ns, p.field LIMIT ?""", [entity_id, entity_id, limit]))


def entity_findings(con: duckdb.DuckDBPyConnection, entity_id: str) -> list[dict[str, Any]]:
    return _rows(con.execute("""
        SELECT finding_id, "check", severity, target_type, target_id, t0_ns, t1_ns, message FROM findings
        WHERE entity_id = ? ORDER BY t0_ns NULLS FIRST, "check" """, [entity_id]))


def asset_row(con: duckdb.DuckDBPyConnection, asset_id: str) -> dict[str, Any] | None:
    rows = _rows(con.execute("""SELECT asset_id, entity_id, modality, format, managed_path, source_path, media_json
                                FROM assets WHERE asset_id = ?""", [asset_id]))
    return rows[0] if rows else None


def findings_page(con: duckdb.DuckDBPyConnection, offset: int, limit: int, severity: str = "",
                  fields: list[str] | None = None, annotator: str | None = None) -> dict[str, Any]:
    """Findings, worst first. ``fields`` (None: everything) limits what is about labels: findings
    on a field (``field`` or ``field@slice``) only for those fields, and findings about an
    annotator only about ``annotator``; findings about the data (files, entities, splits) stay."""
    conds: list[str] = []
    params: list[Any] = []
    if severity:
        conds.append("severity = ?")
        params.append(severity)
    if fields is not None:
        conds.append("""(coalesce(target_type, '') NOT IN ('field', 'annotator')
                         OR (target_type = 'field' AND list_contains(?, split_part(target_id, '@', 1)))
                         OR (target_type = 'annotator' AND target_id = ?))""")
        params += [fields, annotator]
    where = ("WHERE " + " AND ".join(conds)) if conds else ""
    total = con.execute(f"SELECT count(*) FROM findings {where}", params).fetchall()[0][0]
    rel = con.execute(f"""
        SELECT finding_id, "check", severity, target_type, target_id, entity_id, t0_ns, t1_ns, message, details_json
        FROM findings {where}
        ORDER BY CASE severity WHEN 'error' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, "check", finding_id
        LIMIT ? OFFSET ?""", [*params, limit, offset])
    items = _rows(rel)
    for it in items:
        it["details"] = json.loads(it.pop("details_json") or "{}")
    return {"total": int(total), "offset": offset, "limit": limit, "items": items}


def grading_queue(con: duckdb.DuckDBPyConnection, fields: list[str], offset: int, limit: int,
                  exclude_annotator: str | None = None) -> dict[str, Any]:
    """Labels of ``fields`` that no grade covers yet — never graded, or relabelled since (a grade
    records the value it judged) — but not the grader's own, in timeline order."""
    ungraded = """
        WITH covered AS (SELECT g.label_id FROM grades g JOIN labels l USING (label_id)
                         WHERE g.graded_value IS NULL OR g.graded_value = l.value),
        ungraded AS (SELECT * FROM labels l WHERE list_contains(?, l.field)
                     AND (? IS NULL OR l.annotator IS DISTINCT FROM ?)
                     AND l.label_id NOT IN (SELECT label_id FROM covered))"""
    params = [fields, exclude_annotator, exclude_annotator]
    total = con.execute(f"{ungraded} SELECT count(*) FROM ungraded", params).fetchall()[0][0]
    rel = con.execute(f"""{ungraded},
        spans AS (SELECT 'segment' AS target_type, segment_id AS target_id, entity_id, t0_ns, t1_ns FROM segments
                  UNION ALL SELECT 'event', event_id, entity_id, t_ns, t_ns FROM events
                  UNION ALL SELECT 'region', asset_id, entity_id, clock_offset_ns, clock_offset_ns FROM assets)
        SELECT u.label_id, u.field, u.value, u.kind, u.annotator, u.target_type, u.target_id,
               coalesce(s.entity_id, CASE WHEN u.target_type IN ('entity', 'sequence') THEN u.target_id END)
                 AS entity_id, s.t0_ns, s.t1_ns
        FROM ungraded u LEFT JOIN spans s USING (target_type, target_id)
        ORDER BY entity_id, s.t0_ns NULLS FIRST, u.label_id LIMIT ? OFFSET ?""", [*params, limit, offset])
    return {"total": int(total), "offset": offset, "limit": limit, "items": _rows(rel)}


def review_queue(con: duckdb.DuckDBPyConnection, offset: int, limit: int,
                 fields: list[str] | None = None) -> dict[str, Any]:
    """Decisions the latest finished run of each field routed to people (``route = 'review'``)
    that no label of the field answers yet (optionally only of ``fields``)."""
    base = """
        WITH latest AS (
            SELECT p.field, arg_max(p.run_id, r.started_utc_ns) AS run_id
            FROM predictions p JOIN runs r USING (run_id)
            WHERE r.status = 'finished' AND r.kind = 'pipeline' AND p.route IS NOT NULL GROUP BY p.field)
        SELECT p.prediction_id, p.run_id, p.field, p.value, p.score, p.target_type, p.target_id, s.entity_id,
               s.t0_ns, s.t1_ns, p.details_json
        FROM predictions p JOIN latest USING (field, run_id) JOIN segments s ON s.segment_id = p.target_id
        WHERE p.route = 'review' AND (? IS NULL OR list_contains(?, p.field)) AND NOT EXISTS (
            SELECT 1 FROM labels l WHERE l.target_id = p.target_id AND l.field = p.field)"""
    params = [fields, fields]
    total = con.execute(f"SELECT count(*) FROM ({base})", params).fetchall()[0][0]
    rel = con.execute(f"{base} ORDER BY s.entity_id, s.t0_ns, p.field LIMIT ? OFFSET ?", [*params, limit, offset])
    return {"total": int(total), "offset": offset, "limit": limit, "items": _rows(rel)}


def latest_evaluation(con: duckdb.DuckDBPyConnection, fields: list[str] | None = None) -> dict[str, Any] | None:
    """The newest finished evaluation run (of one of ``fields``, when given): its row and every
    metric it stored."""
    runs = _rows(con.execute("""
        SELECT r.run_id, r.started_utc_ns, r.config_json, r.model_name, r.model_version,
               (SELECT any_value(m.field) FROM metrics m WHERE m.run_id = r.run_id) AS field
        FROM runs r WHERE r.kind = 'eval' AND r.status = 'finished'
          AND (? IS NULL OR list_contains(?, (SELECT any_value(m.field) FROM metrics m WHERE m.run_id = r.run_id)))
        ORDER BY r.started_utc_ns DESC LIMIT 1""", [fields, fields]))
    if not runs:
        return None
    run = runs[0]
    metrics = _rows(con.execute("""
        SELECT slice, metric, label, value, lo, hi, n, k, method, field, evaluated_run_id FROM metrics
        WHERE run_id = ? ORDER BY slice, metric, label""", [run["run_id"]]))
    run["config"] = json.loads(run.pop("config_json") or "{}")
    return {"run": run, "metrics": metrics}
