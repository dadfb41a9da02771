"""DuckDB over the catalog's Lance tables.

Each table is registered as a view named after it (Lance datasets are Arrow datasets, so
DuckDB pushes projections and filters down into the Lance scan). ``versions`` pins some or all
tables to exact versions, so a run's numbers can be recomputed on the data it saw.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import duckdb

from syncline.catalog.schema import TABLES

if TYPE_CHECKING:
    import pyarrow as pa

    from syncline.catalog.store import Catalog


def connect(catalog: Catalog, *, versions: dict[str, int] | None = None,
            tables: tuple[str, ...] | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with every catalog table (or only ``tables``: opening a Lance dataset
    reads its manifest, ~5 ms each, which a page that needs two tables should not pay twenty times)."""
    con = duckdb.connect()
    for name in tables or TABLES:
        version = (versions or {}).get(name)
        con.register(name, catalog.dataset(name, version=version))
    return con


def entities_missing_a_row(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Entity IDs that assets name but the entities table lacks."""
    rows = con.sql("SELECT DISTINCT a.entity_id FROM assets a LEFT JOIN entities e USING (entity_id) "
                   "WHERE e.entity_id IS NULL ORDER BY 1").fetchall()
    return [str(e) for (e,) in rows]


def origins_from_assets(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """For entities without an origin: the earliest nominal start among their assets."""
    rows = con.sql(
        "SELECT e.entity_id, min(a.nominal_start_utc_ns) FROM entities e JOIN assets a USING (entity_id) "
        "WHERE e.origin_utc_ns IS NULL GROUP BY e.entity_id "
        "HAVING min(a.nominal_start_utc_ns) IS NOT NULL").fetchall()
    return {str(e): int(t) for e, t in rows}


def event_assets_to_load(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Event-log assets whose rows are not (yet) in the events table, or sit under another entity
    than the log does now (a manifest re-filed it): their events are loaded (again) under it.
    The events' files are unnested once and hash-joined, not searched event by event per log."""
    rows = con.sql("""
        WITH u AS (SELECT asset_id, min(entity_id) AS lo, max(entity_id) AS hi
                   FROM (SELECT entity_id, unnest(asset_ids) AS asset_id FROM events) GROUP BY asset_id)
        SELECT a.asset_id FROM assets a LEFT JOIN u USING (asset_id)
        WHERE a.modality = 'events' AND (u.asset_id IS NULL OR u.lo <> a.entity_id OR u.hi <> a.entity_id)
        ORDER BY 1""").fetchall()
    return [str(a) for (a,) in rows]


def segments_listing_foreign_assets(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Segments whose ``asset_ids`` name a file now filed under another entity (a manifest
    re-filed it): each with the files still on its entity, the ones that left, and how many
    labels and scenario memberships (people's choices) target it. One unnest of every segment's
    files: ~0.7 s for 1M segments of 4 files."""
    rows = con.sql("""
        WITH s AS (SELECT segment_id, entity_id, unnest(asset_ids) AS asset_id FROM segments),
        x AS (SELECT s.segment_id,  -- a file not in the catalog (mid-erasure) is not this step's to drop
                     list(s.asset_id ORDER BY s.asset_id) FILTER (WHERE a.entity_id IS NULL
                                                                  OR a.entity_id = s.entity_id) AS kept,
                     list(s.asset_id ORDER BY s.asset_id) FILTER (WHERE a.entity_id <> s.entity_id) AS gone
              FROM s LEFT JOIN assets a USING (asset_id) GROUP BY s.segment_id)
        SELECT x.segment_id, coalesce(x.kept, []) AS kept, x.gone,
               (SELECT count(*) FROM labels l WHERE l.target_type = 'segment' AND l.target_id = x.segment_id)
               + (SELECT count(*) FROM scenarios c WHERE c.target_type = 'segment' AND c.target_id = x.segment_id)
               AS labels
        FROM x WHERE len(x.gone) > 0 ORDER BY x.segment_id""")
    cols = [d[0] for d in rows.description]
    return [dict(zip(cols, r, strict=True)) for r in rows.fetchall()]


def words_of_refiled_transcripts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Transcripts whose refined word timings were fitted under another entity than the one the
    transcript, or the audio they were fitted to (both in ``asset_ids``), is filed under now."""
    rows = con.sql("SELECT DISTINCT w.transcript FROM (SELECT asset_id AS transcript, entity_id, "
                   "unnest(list_append(coalesce(asset_ids, []), asset_id)) AS used FROM words) w "
                   "JOIN assets a ON a.asset_id = w.used WHERE w.entity_id <> a.entity_id ORDER BY 1").fetchall()
    return [str(a) for (a,) in rows]


def assets_in_splits(con: duckdb.DuckDBPyConnection, asset_ids: list[str]) -> set[str]:
    """Which of ``asset_ids`` a stored split assignment names (its targets were made with them)."""
    if not asset_ids:
        return set()
    rows = con.execute("SELECT DISTINCT asset_id FROM (SELECT unnest(asset_ids) AS asset_id FROM splits) "
                       "JOIN (SELECT unnest($ids) AS asset_id) USING (asset_id)", {"ids": asset_ids}).fetchall()
    return {str(a) for (a,) in rows}


def aligned_against(con: duckdb.DuckDBPyConnection, asset_ids: list[str]) -> dict[str, list[str]]:
    """Per asset of ``asset_ids``, the other files whose clock an alignment run set against it."""
    if not asset_ids:
        return {}
    rows = con.execute("SELECT DISTINCT c.reference_asset_id, c.asset_id FROM clocks c "
                       "JOIN (SELECT unnest($ids) AS reference_asset_id) USING (reference_asset_id) "
                       "WHERE c.applied ORDER BY 1, 2", {"ids": asset_ids}).fetchall()
    out: dict[str, list[str]] = {}
    for ref, aid in rows:
        out.setdefault(str(ref), []).append(str(aid))
    return out


def labels_left_behind(con: duckdb.DuckDBPyConnection, asset_ids: list[str]) -> dict[str, list[str]]:
    """Per asset, the entities on which labels made with it target something (the entity, a
    sequence, a segment or an event of it) other than the entity the asset is filed under now:
    one entry per such label."""
    if not asset_ids:
        return {}
    rows = con.execute("""
        WITH l AS (SELECT l.label_id, unnest(l.asset_ids) AS asset_id,
                          coalesce(s.entity_id, v.entity_id,
                                   CASE WHEN l.target_type IN ('entity', 'sequence') THEN l.target_id END) AS on_entity
                   FROM labels l
                   LEFT JOIN segments s ON l.target_type = 'segment' AND s.segment_id = l.target_id
                   LEFT JOIN events v ON l.target_type = 'event' AND v.event_id = l.target_id)
        SELECT l.asset_id, l.on_entity FROM l JOIN assets a USING (asset_id)
        JOIN (SELECT unnest($ids) AS asset_id) USING (asset_id)
        WHERE l.on_entity IS NOT NULL AND l.on_entity <> a.entity_id
        ORDER BY 1, 2""", {"ids": asset_ids}).fetchall()
    out: dict[str, list[str]] = {}
    for aid, ent in rows:
        out.setdefault(str(aid), []).append(str(ent))
    return out


# Asset spans on their entity timeline: [offset + start, offset + start + duration).
ASSET_SPANS = """
    SELECT entity_id, modality, asset_id,
           coalesce(clock_offset_ns, 0) + coalesce(start_ns, 0)
               + round(coalesce(start_ns, 0) * coalesce(clock_drift_ppm, 0) * 1e-6)::BIGINT AS t0_ns,
           coalesce(clock_offset_ns, 0) + coalesce(start_ns, 0) + duration_ns
               + round((coalesce(start_ns, 0) + duration_ns) * coalesce(clock_drift_ppm, 0) * 1e-6)::BIGINT AS t1_ns
    FROM assets WHERE duration_ns IS NOT NULL AND duration_ns > 0 AND entity_id NOT LIKE '\\_%' ESCAPE '\\'
"""


def modality_totals(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per modality: assets, entities, hours of files, bytes."""
    rel = con.sql(
        "SELECT modality, count(*) AS assets, count(DISTINCT entity_id) AS entities, "
        "coalesce(sum(duration_ns), 0) / 3.6e12 AS hours, sum(bytes) AS bytes "
        "FROM assets GROUP BY modality ORDER BY modality")
    rows: list[dict[str, Any]] = rel.to_arrow_table().to_pylist()
    return rows


def entity_modalities(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Which modalities each entity holds (a metadata-table row counts as 'metadata')."""
    rows = con.sql(
        "SELECT entity_id, list(DISTINCT modality ORDER BY modality) AS mods FROM ("
        "  SELECT entity_id, modality FROM assets WHERE entity_id NOT LIKE '\\_%' ESCAPE '\\'"
        "  UNION ALL SELECT entity_id, 'metadata' FROM entities WHERE metadata_json IS NOT NULL"
        ") GROUP BY entity_id ORDER BY entity_id").fetchall()
    entities = con.sql(
        "SELECT entity_id FROM entities WHERE entity_id NOT LIKE '\\_%' ESCAPE '\\' ORDER BY entity_id").fetchall()
    out: dict[str, list[str]] = {e: [] for (e,) in entities}
    out.update({e: list(m) for e, m in rows})
    return out


def entity_streams(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Per entity, its capture streams as ``modality:camera|mic|channel`` (e.g. video:cam2)."""
    rows = con.sql(
        "SELECT entity_id, list(DISTINCT modality || ':' || coalesce(camera, mic, channel) ORDER BY 1) "
        "FROM assets WHERE coalesce(camera, mic, channel) IS NOT NULL AND entity_id NOT LIKE '\\_%' ESCAPE '\\' "
        "GROUP BY entity_id").fetchall()
    return {e: list(s) for e, s in rows}


VERIFIED_CLOCK = "(clock_source = 'anchor' OR clock_source LIKE 'estimated:%')"


def aligned_time(con: duckdb.DuckDBPyConnection, required: list[str], *, verified_only: bool = False) -> dict[str, int]:
    """Per entity, nanoseconds during which every required modality is recorded at once.

    Per (entity, modality) the asset spans are merged (gaps and islands), then a sweep over
    the merged spans' boundaries counts how many modalities are live; time with all of them
    live is aligned. Entities lacking a required modality get 0.
    """
    if not required:
        return {}
    k = len(required)
    mods = ", ".join("'" + m.replace("'", "''") + "'" for m in required)
    verified = f"AND asset_id IN (SELECT asset_id FROM assets WHERE {VERIFIED_CLOCK})" if verified_only else ""
    rows = con.sql(f"""
        WITH spans AS (SELECT * FROM ({ASSET_SPANS}) WHERE modality IN ({mods}) {verified}),
        ordered AS (
            SELECT *, max(t1_ns) OVER (PARTITION BY entity_id, modality ORDER BY t0_ns, t1_ns
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
            FROM spans),
        islands AS (
            SELECT *, sum(CASE WHEN prev_end IS NULL OR t0_ns > prev_end THEN 1 ELSE 0 END)
                      OVER (PARTITION BY entity_id, modality ORDER BY t0_ns, t1_ns) AS island
            FROM ordered),
        merged AS (
            SELECT entity_id, modality, min(t0_ns) AS t0_ns, max(t1_ns) AS t1_ns
            FROM islands GROUP BY entity_id, modality, island),
        edges AS (
            SELECT entity_id, t0_ns AS t, 1 AS d FROM merged
            UNION ALL SELECT entity_id, t1_ns AS t, -1 AS d FROM merged),
        steps AS (
            SELECT entity_id, t, sum(d) AS d FROM edges GROUP BY entity_id, t),
        live AS (
            SELECT entity_id, t, sum(d) OVER (PARTITION BY entity_id ORDER BY t) AS n,
                   lead(t) OVER (PARTITION BY entity_id ORDER BY t) AS t_next
            FROM steps)
        SELECT entity_id, coalesce(sum(CASE WHEN n = {k} THEN t_next - t ELSE 0 END), 0)::BIGINT
        FROM live GROUP BY entity_id ORDER BY entity_id
    """).fetchall()
    return {e: int(ns) for e, ns in rows}


def context_distribution(con: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[tuple[str, str], dict[str, int]]:
    """Per (capture-context key, modality): asset counts per value. Keys are the columns
    device, camera, mic, channel or any ``context_json`` key such as lighting."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for key in keys:
        if key in ("device", "camera", "mic", "channel"):
            expr = key
        else:
            expr = f"json_extract_string(context_json, '$.{key}')"
        rows = con.sql(
            f"SELECT modality, {expr} AS v, count(*) FROM assets WHERE {expr} IS NOT NULL "
            "GROUP BY ALL ORDER BY ALL").fetchall()
        for modality, v, n in rows:
            out.setdefault((key, str(modality)), {})[str(v)] = int(n)
    return out


def entity_extent(con: duckdb.DuckDBPyConnection, required: list[str]) -> dict[str, int]:
    """Per entity, the span from the first to the last recorded instant of any required modality."""
    if not required:
        return {}
    mods = ", ".join("'" + m.replace("'", "''") + "'" for m in required)
    rows = con.sql(f"SELECT entity_id, (max(t1_ns) - min(t0_ns))::BIGINT FROM ({ASSET_SPANS}) "
                   f"WHERE modality IN ({mods}) GROUP BY entity_id ORDER BY entity_id").fetchall()
    return {e: int(ns) for e, ns in rows}


def context_keys(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.sql(
        "SELECT DISTINCT unnest(json_keys(context_json)) FROM assets WHERE context_json IS NOT NULL").fetchall()
    return sorted(str(k) for (k,) in rows)


def segment_coverage(con: duckdb.DuckDBPyConnection, required: list[str]) -> duckdb.DuckDBPyRelation:
    """Per segment, which required modalities overlap it (an interval join on the timeline).

    Returns (segment_id, entity_id, t0_ns, t1_ns, mask, aligned): bit i of ``mask`` is set when
    ``required[i]`` overlaps the segment, ``aligned`` when all of them do. A bitmask keeps the
    group-by to one integer OR per segment instead of building lists.
    """
    bits = " ".join(f"WHEN '{m.replace(chr(39), chr(39) * 2)}' THEN {1 << i}" for i, m in enumerate(required))
    full = (1 << len(required)) - 1
    mods = ", ".join("'" + m.replace("'", "''") + "'" for m in required)
    return con.sql(f"""
        WITH spans AS (
            SELECT entity_id, t0_ns, t1_ns, CASE modality {bits} END AS bit
            FROM ({ASSET_SPANS}) WHERE modality IN ({mods}))
        SELECT s.segment_id, s.entity_id, s.t0_ns, s.t1_ns,
               coalesce(bit_or(a.bit), 0) AS mask, coalesce(bit_or(a.bit), 0) = {full} AS aligned
        FROM segments s LEFT JOIN spans a
          ON a.entity_id = s.entity_id AND a.t0_ns < s.t1_ns AND a.t1_ns > s.t0_ns
        GROUP BY s.segment_id, s.entity_id, s.t0_ns, s.t1_ns
    """)


# Each asset's span on its entity timeline and the numbers that turn entity time back into
# its own frames and samples: local = (entity - offset) / (1 + drift), index from start_ns.
_TUPLE_SPANS = """
    SELECT asset_id, entity_id, modality, camera, mic, fps, sample_rate, managed_path, source_path,
           coalesce(start_ns, 0) AS start_ns, coalesce(clock_offset_ns, 0) AS off,
           1.0 + coalesce(clock_drift_ppm, 0) * 1e-6 AS scale,
           coalesce(clock_source, 'assumed') AS clock_source,
           coalesce(clock_offset_ns, 0) + coalesce(start_ns, 0) AS t0_ns,
           coalesce(clock_offset_ns, 0) + coalesce(start_ns, 0) + duration_ns AS t1_ns
    FROM assets WHERE duration_ns IS NOT NULL AND duration_ns > 0
"""


def aligned_tuples(con: duckdb.DuckDBPyConnection, *, segmenter: str | None = None,
                   entity: str | None = None) -> duckdb.DuckDBPyRelation:
    """For each segment: the part of every overlapping asset — video frame ranges, audio
    sample ranges, transcript words, sensor row ranges, events, the metadata row — with the
    covered fraction per modality, the modalities with at least one asset whose clock alignment
    verified (an anchor or an estimate), and ``in_sync``: every asset in the tuple verified.

    Needs two helper relations registered on ``con``: ``words`` (asset_id, entity_id, t0_ns,
    t1_ns, text; entity time) and ``sensor_rows`` (asset_id, entity_id, row, t_ns; entity time).
    """
    where = []
    if segmenter:
        where.append("s.segmenter = " + _lit(segmenter))
    if entity:
        where.append("s.entity_id = " + _lit(entity))
    seg_filter = ("WHERE " + " AND ".join(where)) if where else ""
    return con.sql(f"""
        WITH seg AS (SELECT segment_id, entity_id, t0_ns, t1_ns, segmenter FROM segments s {seg_filter}),
        spans AS ({_TUPLE_SPANS}),
        parts AS (
            SELECT s.segment_id, a.*,
                   greatest(s.t0_ns, a.t0_ns) AS p0, least(s.t1_ns, a.t1_ns) AS p1,
                   (greatest(s.t0_ns, a.t0_ns) - a.off) / a.scale - a.start_ns AS l0,
                   (least(s.t1_ns, a.t1_ns) - a.off) / a.scale - a.start_ns AS l1
            FROM seg s JOIN spans a
              ON a.entity_id = s.entity_id AND a.t0_ns < s.t1_ns AND a.t1_ns > s.t0_ns),
        per_segment AS (
            SELECT segment_id,
                list({{'asset_id': asset_id, 'camera': camera,
                      'frame_start': floor(l0 * fps / 1e9)::BIGINT, 'frame_end': ceil(l1 * fps / 1e9)::BIGINT}}
                     ORDER BY asset_id) FILTER (WHERE modality = 'video') AS video,
                list({{'asset_id': asset_id, 'mic': mic,
                      'sample_start': floor(l0 * sample_rate / 1e9)::BIGINT,
                      'sample_end': ceil(l1 * sample_rate / 1e9)::BIGINT}}
                     ORDER BY asset_id) FILTER (WHERE modality = 'audio') AS audio,
                list(DISTINCT modality ORDER BY modality) AS modalities,
                list(DISTINCT modality ORDER BY modality) FILTER (WHERE {VERIFIED_CLOCK}) AS synced_modalities,
                bool_and({VERIFIED_CLOCK}) AS in_sync
            FROM parts GROUP BY segment_id),
        coverage AS (
            SELECT segment_id, map(list(modality), list(frac)) AS coverage FROM (
                SELECT p.segment_id, p.modality,
                       least(1.0, sum(p.p1 - p.p0) / (s.t1_ns - s.t0_ns)) AS frac
                FROM parts p JOIN seg s USING (segment_id) GROUP BY p.segment_id, p.modality, s.t0_ns, s.t1_ns)
            GROUP BY segment_id),
        seg_words AS (
            SELECT s.segment_id, list({{'t0_ns': w.t0_ns, 't1_ns': w.t1_ns, 'text': w.text}} ORDER BY w.t0_ns) AS words
            FROM seg s JOIN words w ON w.entity_id = s.entity_id AND w.t0_ns < s.t1_ns AND w.t1_ns > s.t0_ns
            GROUP BY s.segment_id),
        seg_sensor AS (
            SELECT segment_id,
                   list({{'asset_id': asset_id, 'row_start': r0, 'row_end': r1}} ORDER BY asset_id) AS sensor
            FROM (SELECT s.segment_id, r.asset_id, min(r.row) AS r0, max(r.row) + 1 AS r1
                  FROM seg s JOIN sensor_rows r ON r.entity_id = s.entity_id AND r.t_ns >= s.t0_ns AND r.t_ns < s.t1_ns
                  GROUP BY s.segment_id, r.asset_id)
            GROUP BY segment_id),
        seg_events AS (
            SELECT s.segment_id, list({{'t_ns': e.t_ns, 'type': e.type, 'state': e.state}} ORDER BY e.t_ns) AS events
            FROM seg s JOIN events e ON e.entity_id = s.entity_id AND e.t_ns >= s.t0_ns AND e.t_ns < s.t1_ns
            GROUP BY s.segment_id)
        SELECT s.segment_id, s.entity_id, s.t0_ns, s.t1_ns, s.segmenter,
               coalesce(p.modalities, []) AS modalities, coalesce(p.synced_modalities, []) AS synced_modalities,
               c.coverage,
               p.video, p.audio, w.words, x.sensor, v.events, en.metadata_json AS metadata,
               coalesce(p.in_sync, false) AS in_sync
        FROM seg s
        LEFT JOIN per_segment p USING (segment_id)
        LEFT JOIN coverage c USING (segment_id)
        LEFT JOIN seg_words w USING (segment_id)
        LEFT JOIN seg_sensor x USING (segment_id)
        LEFT JOIN seg_events v USING (segment_id)
        LEFT JOIN entities en ON en.entity_id = s.entity_id
        ORDER BY s.entity_id, s.t0_ns, s.segment_id
    """)


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    """``'a', 'b'`` for an ``IN (...)`` filter on the catalog's tables (quotes doubled)."""
    return ", ".join(map(_lit, values))


# ---------------------------------------------------------------- governance


def mention_pattern(tokens: list[str], words: list[str], *, engine: str = "re2") -> str:
    """A pattern that matches any of ``tokens`` as a substring (hex IDs, hashes) or any of
    ``words`` as a whole token (a pseudonym: ``caretaker-01`` but not ``caretaker-010`` or
    ``josé`` for ``jos``; ``p-1.`` at the end of a sentence is a match). Word characters are
    Unicode letters and digits, ``_`` and ``-``. ``engine``: ``re2`` (DuckDB) or ``python``
    (bytes patterns of ``re``, for files: ASCII classes there, so a non-ASCII neighbour never
    hides a match)."""
    import re

    parts = [re.escape(t) for t in tokens]
    if words:
        alt = "|".join(re.escape(w) for w in words)
        word = r"[^\pL\pN_-]" if engine == "re2" else r"[^A-Za-z0-9_-]"
        parts.append(rf"(?:^|{word})(?:{alt})(?:$|{word})")
    return "|".join(parts) if parts else ("(?!)" if engine == "python" else "a^")


def subject_assets(con: duckdb.DuckDBPyConnection, subject_id: str) -> list[dict[str, Any]]:
    """The assets that list ``subject_id`` among their subjects."""
    rel = con.execute(
        "SELECT asset_id, sha256, managed_sha256, managed_path, source_path, duplicate_paths, modality, entity_id "
        "FROM assets WHERE list_contains(subject_ids, ?) ORDER BY asset_id", [subject_id])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def rows_mentioning(con: duckdb.DuckDBPyConnection, table: str, pattern: str) -> list[str]:
    """Keys of the rows of ``table`` in which any text or list-of-text column matches ``pattern``
    (``mention_pattern``): provenance lists, ID columns and free JSON alike."""
    import pyarrow as pa

    ts = TABLES[table]
    preds = []
    for f in ts.schema:
        col = f'"{f.name}"'
        if pa.types.is_string(f.type):
            preds.append(f"regexp_matches(coalesce({col}, ''), $p)")
        elif pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
            preds.append(f"len(list_filter(coalesce({col}, []), lambda x: regexp_matches(x, $p))) > 0")
    if not preds:
        return []
    rows = con.execute(f'SELECT "{ts.key}" FROM {table} WHERE ' + " OR ".join(preds), {"p": pattern}).fetchall()
    return [str(k) for (k,) in rows]


def lineage_children(con: duckdb.DuckDBPyConnection, parents: dict[str, list[str]]) -> dict[str, list[str]]:
    """Rows recorded in ``lineage`` as derived from any of ``parents`` ({table: [keys]})."""
    import pyarrow as pa

    pairs = [(t, k) for t, keys in parents.items() for k in keys]
    if not pairs:
        return {}
    con.register("_parents", pa.table({"t": [t for t, _ in pairs], "k": [k for _, k in pairs]}))
    rows = con.sql("SELECT DISTINCT l.child_table, l.child_id FROM lineage l "
                   "JOIN _parents p ON l.parent_table = p.t AND l.parent_id = p.k").fetchall()
    out: dict[str, list[str]] = {}
    for t, k in rows:
        out.setdefault(str(t), []).append(str(k))
    return out


def run_ids_of(con: duckdb.DuckDBPyConnection, table: str, keys: list[str]) -> list[str]:
    """The distinct ``run_id`` values of the given rows of ``table``."""
    import pyarrow as pa

    con.register("_keys", pa.table({"k": keys}))
    key = TABLES[table].key
    rows = con.sql(f'SELECT DISTINCT t.run_id FROM {table} t JOIN _keys ON t."{key}" = _keys.k '
                   "WHERE t.run_id IS NOT NULL").fetchall()
    return [str(r) for (r,) in rows]


def subject_summary(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every subject with its latest consent record and how many assets list it."""
    rel = con.execute("""
        WITH n AS (SELECT s AS subject_id, count(*) AS assets FROM (SELECT unnest(subject_ids) AS s FROM assets)
                   GROUP BY s),
             ids AS (SELECT subject_id FROM subjects UNION SELECT subject_id FROM consent
                     UNION SELECT subject_id FROM n)
        SELECT ids.subject_id, c.status, c.scope, coalesce(c.jurisdiction, s.jurisdiction) AS jurisdiction,
               c.granted_at, c.withdrawn_at, coalesce(n.assets, 0) AS assets
        FROM ids LEFT JOIN subjects s USING (subject_id) LEFT JOIN consent c USING (subject_id)
        LEFT JOIN n USING (subject_id) ORDER BY ids.subject_id""")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def retention_candidates(con: duckdb.DuckDBPyConnection, default_days: int | None,
                         by_modality: dict[str, int], by_jurisdiction: dict[str, int]) -> list[dict[str, Any]]:
    """Assets with a retention period (the shortest rule that applies: the default, their
    modality's, their jurisdiction's, their subjects' consent records'), dated by capture time
    or else the nominal start (``dated_utc_ns`` null: cannot tell its age)."""
    import pyarrow as pa

    con.register("_mod", pa.table({"modality": list(by_modality), "days": list(by_modality.values())},
                                  schema=pa.schema([("modality", pa.string()), ("days", pa.int64())])))
    con.register("_jur", pa.table({"jurisdiction": list(by_jurisdiction), "days": list(by_jurisdiction.values())},
                                  schema=pa.schema([("jurisdiction", pa.string()), ("days", pa.int64())])))
    rel = con.execute("""
        WITH subj AS (SELECT x.asset_id, min(c.retention_days) AS days
                      FROM (SELECT asset_id, unnest(subject_ids) AS sid FROM assets) x
                      JOIN consent c ON c.subject_id = x.sid GROUP BY x.asset_id),
             ruled AS (
            SELECT a.asset_id, a.sha256, a.managed_sha256, a.managed_path, a.source_path, a.duplicate_paths,
                   a.modality, a.entity_id, coalesce(a.capture_time_utc_ns, a.nominal_start_utc_ns) AS dated_utc_ns,
                   least(?::BIGINT, m.days, j.days, s.days) AS days
            FROM assets a LEFT JOIN _mod m USING (modality) LEFT JOIN _jur j USING (jurisdiction)
            LEFT JOIN subj s USING (asset_id))
        SELECT * FROM ruled WHERE days IS NOT NULL ORDER BY asset_id""", [default_days])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def stage_blocks(con: duckdb.DuckDBPyConnection, stage: str,
                 jurisdictions: list[str] | None = None) -> list[dict[str, Any]]:
    """Assets that may not be used for ``stage`` (collection, annotation, training, evaluation,
    publication), one row per reason: a subject without a consent record, with consent not
    granted, or whose scope lacks the stage; with ``jurisdictions``, an asset tagged otherwise
    (or not at all). Assets without subjects are blocked only by jurisdiction."""
    rows = con.execute("""
        WITH s AS (SELECT asset_id, unnest(subject_ids) AS subject_id FROM assets
                   WHERE len(coalesce(subject_ids, [])) > 0),
             consent_rules AS (
            SELECT s.asset_id, s.subject_id,
                   CASE WHEN c.subject_id IS NULL THEN 'no consent record'
                        WHEN c.status <> 'granted' THEN 'consent ' || c.status
                        WHEN NOT list_contains(coalesce(c.scope, []), $stage) THEN 'consent scope lacks ' || $stage
                   END AS reason
            FROM s LEFT JOIN consent c USING (subject_id)),
             jur AS (
            SELECT asset_id, NULL AS subject_id,
                   'jurisdiction ' || coalesce(jurisdiction, 'untagged') || ' not allowed for ' || $stage AS reason
            FROM assets WHERE $check_jur AND NOT list_contains($jurs, coalesce(jurisdiction, '')))
        SELECT * FROM consent_rules WHERE reason IS NOT NULL
        UNION ALL SELECT * FROM jur ORDER BY asset_id, subject_id""",
                       {"stage": stage, "check_jur": jurisdictions is not None,
                        "jurs": list(jurisdictions or [])}).fetchall()
    return [{"asset_id": str(a), "subject_id": s, "reason": str(r)} for a, s, r in rows]


def events_without(con: duckdb.DuckDBPyConnection, asset_ids: list[str]) -> pa.Table:
    """The events table less the rows read from any of ``asset_ids``."""
    return con.sql("SELECT * FROM events WHERE NOT list_has_any(coalesce(asset_ids, []::VARCHAR[]), ?::VARCHAR[])",
                   params=[asset_ids]).to_arrow_table()


def assets_by_ids(con: duckdb.DuckDBPyConnection, asset_ids: list[str]) -> list[dict[str, Any]]:
    """Asset rows (the columns ``subject_assets`` returns) by ID."""
    rel = con.execute(
        "SELECT asset_id, sha256, managed_sha256, managed_path, source_path, duplicate_paths, modality, entity_id "
        "FROM assets WHERE list_contains(?, asset_id) ORDER BY asset_id", [asset_ids])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


REFERENCE_SKIP = ("entity_id", "run_id", "subject_id")  # an entity, a run or a person is not derived from a row


def rows_referencing(con: duckdb.DuckDBPyConnection, table: str, keys: list[str]) -> list[str]:
    """Keys of the rows of ``table`` whose ``*_id`` columns (not its own key, not entity, run or
    subject) hold one of ``keys``: a grade of a removed label, a label of a removed segment, a
    lineage edge touching a removed row."""
    import pyarrow as pa

    ts = TABLES[table]
    cols = [f.name for f in ts.schema if pa.types.is_string(f.type) and f.name.endswith("_id")
            and f.name != ts.key and f.name not in REFERENCE_SKIP]
    if not cols or not keys:
        return []
    con.register("_removed", pa.table({"k": keys}))
    preds = " OR ".join(f'"{c}" IN (SELECT k FROM _removed)' for c in cols)
    return [str(k) for (k,) in con.sql(f'SELECT "{ts.key}" FROM {table} WHERE {preds}').fetchall()]


def field_labels(con: duckdb.DuckDBPyConnection, field: str, kind: str | None = None) -> list[tuple[str, str, str]]:
    """(target_id, annotator, value) of every label of ``field`` (the latest per target and
    annotator when one relabelled), optionally only of one ``kind`` (perception | judgment)."""
    rows = con.execute("""
        SELECT target_id, annotator, value FROM labels
        WHERE field = $field AND annotator IS NOT NULL AND value IS NOT NULL
          AND ($kind IS NULL OR kind = $kind)
        ORDER BY target_id, annotator""", {"field": field, "kind": kind}).fetchall()
    return [(str(t), str(a), str(v)) for t, a, v in rows]


TARGET_TABLES = {"entity": ("entities", "entity_id"), "segment": ("segments", "segment_id"),
                 "event": ("events", "event_id"), "region": ("assets", "asset_id"),
                 "sequence": ("entities", "entity_id")}


def label_targets(con: duckdb.DuckDBPyConnection, granularity: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The rows a label of ``granularity`` may be attached to, by ID, with what validation and
    provenance need: a span (segments, events, an entity's recorded extent), a frame size
    (assets), provenance lists (segments, events, assets)."""
    import pyarrow as pa

    table, key = TARGET_TABLES[granularity]
    con.register("_ids", pa.table({"k": ids}))
    no_size = "NULL::BIGINT AS width, NULL::BIGINT AS height"
    cols = {"segments": f"t0_ns, t1_ns, asset_ids, subject_ids, {no_size}",
            "events": f"t_ns AS t0_ns, t_ns AS t1_ns, asset_ids, subject_ids, {no_size}",
            "assets": "NULL AS t0_ns, NULL AS t1_ns, [asset_id] AS asset_ids, subject_ids, width, height",
            "entities": f"x.t0_ns, x.t1_ns, NULL AS asset_ids, NULL AS subject_ids, {no_size}"}[table]
    extent = (f"LEFT JOIN (SELECT entity_id, min(t0_ns) AS t0_ns, max(t1_ns) AS t1_ns FROM ({ASSET_SPANS}) "
              "GROUP BY entity_id) x USING (entity_id)") if table == "entities" else ""
    rel = con.sql(f"SELECT {key} AS id, {cols} FROM {table} {extent} WHERE {key} IN (SELECT k FROM _ids)")
    names = [d[0] for d in rel.description]
    return {str(r[0]): dict(zip(names, r, strict=True)) for r in rel.fetchall()}


def segments_by_span(con: duckdb.DuckDBPyConnection,
                     spans: list[tuple[str, int, int]]) -> dict[tuple[str, int, int], str]:
    """Segment IDs by (entity_id, t0_ns, t1_ns); a span several segmenters cut alike goes to the
    first segmenter by name, so the answer does not depend on storage order."""
    import pyarrow as pa

    if not spans:
        return {}
    con.register("_spans", pa.table({"e": [s[0] for s in spans], "t0": [s[1] for s in spans],
                                     "t1": [s[2] for s in spans]}))
    rows = con.sql("""SELECT e, t0, t1, arg_min(segment_id, segmenter || segment_id) FROM _spans
                      JOIN segments s ON s.entity_id = e AND s.t0_ns = t0 AND s.t1_ns = t1
                      GROUP BY ALL""").fetchall()
    return {(str(e), int(t0), int(t1)): str(sid) for e, t0, t1, sid in rows}


ASSET_COLUMNS = ("device", "camera", "mic", "channel", "modality", "jurisdiction")


def target_slices(con: duckdb.DuckDBPyConnection, field: str, key: str) -> dict[str, str]:
    """Per labelled target of ``field``, its value of a capture condition ``key``: an asset
    column (camera, device...), an asset ``context_json`` key (lighting...), an entity
    attribute, or ``entity``. The target's assets (a segment's or event's sources, a region's
    asset, an entity's files) and its entity are consulted; several distinct values make
    ``mixed``, none ``unknown``."""
    asset_value = key if key in ASSET_COLUMNS else "json_extract_string(a.context_json, $path)"
    entity_value = "te.entity_id" if key == "entity" else "json_extract_string(en.attrs_json, $path)"
    rows = con.execute(f"""
        WITH t AS (SELECT DISTINCT target_type, target_id FROM labels WHERE field = $field),
        te AS (SELECT t.target_id, coalesce(s.entity_id, e.entity_id, a.entity_id,
                      CASE WHEN t.target_type IN ('entity', 'sequence') THEN t.target_id END) AS entity_id
               FROM t LEFT JOIN segments s ON t.target_type = 'segment' AND s.segment_id = t.target_id
                      LEFT JOIN events e ON t.target_type = 'event' AND e.event_id = t.target_id
                      LEFT JOIN assets a ON t.target_type = 'region' AND a.asset_id = t.target_id),
        ta AS (SELECT t.target_id, unnest(s.asset_ids) AS asset_id FROM t
                   JOIN segments s ON t.target_type = 'segment' AND s.segment_id = t.target_id
               UNION ALL SELECT t.target_id, unnest(e.asset_ids) FROM t
                   JOIN events e ON t.target_type = 'event' AND e.event_id = t.target_id
               UNION ALL SELECT target_id, target_id FROM t WHERE target_type = 'region'
               UNION ALL SELECT t.target_id, a.asset_id FROM t
                   JOIN assets a ON t.target_type IN ('entity', 'sequence') AND a.entity_id = t.target_id),
        v AS (SELECT ta.target_id, {asset_value} AS v FROM ta JOIN assets a USING (asset_id)
              UNION ALL SELECT te.target_id, {entity_value} FROM te LEFT JOIN entities en USING (entity_id))
        SELECT t.target_id, CASE WHEN count(DISTINCT v.v) = 1 THEN min(v.v)
                                 WHEN count(DISTINCT v.v) > 1 THEN 'mixed' ELSE 'unknown' END
        FROM t LEFT JOIN v USING (target_id) GROUP BY t.target_id""",
                       {"field": field, "path": '$."' + key.replace('"', '') + '"'}).fetchall()
    return {str(t): str(v) for t, v in rows}


def audit_assets(con: duckdb.DuckDBPyConnection, modalities: list[str]) -> list[dict[str, Any]]:
    """Assets of ``modalities`` with what a media audit needs: where the bytes are, the clock
    onto the entity timeline, provenance."""
    rel = con.execute("""
        SELECT asset_id, entity_id, modality, format, source_path, managed_path, media_json, start_ns, duration_ns,
               clock_offset_ns, clock_drift_ppm, clock_source, subject_ids
        FROM assets WHERE list_contains(?, modality) AND entity_id NOT LIKE '\\_%' ESCAPE '\\'
        ORDER BY asset_id""", [modalities])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def segment_quality(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per segment and media defect kind, the share of the segment its findings cover: the
    findings clipped to the segment and merged where they overlap (three sensor columns stuck at
    once, two cameras black together cover the time once), an interval join and a gaps-and-
    islands union in SQL."""
    rel = con.sql("""
        WITH c AS (
            SELECT s.segment_id, replace(substr(f."check", 7), '.', '_') AS kind,
                   greatest(s.t0_ns, f.t0_ns) AS c0, least(s.t1_ns, f.t1_ns) AS c1
            FROM segments s JOIN findings f
              ON starts_with(f."check", 'media.') AND f.entity_id = s.entity_id
                 AND f.t0_ns < s.t1_ns AND f.t1_ns > s.t0_ns),
        o AS (SELECT *, max(c1) OVER (PARTITION BY segment_id, kind ORDER BY c0, c1
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach FROM c),
        i AS (SELECT *, sum(CASE WHEN reach IS NULL OR c0 > reach THEN 1 ELSE 0 END)
                        OVER (PARTITION BY segment_id, kind ORDER BY c0, c1) AS island FROM o),
        u AS (SELECT segment_id, kind, sum(e - b) AS covered
              FROM (SELECT segment_id, kind, island, min(c0) AS b, max(c1) AS e FROM i GROUP BY ALL) GROUP BY ALL)
        SELECT s.segment_id, s.entity_id, s.segmenter, s.t0_ns, s.t1_ns, s.asset_ids, s.subject_ids, u.kind,
               least(1.0, coalesce(u.covered, 0) / greatest(1, s.t1_ns - s.t0_ns)) AS share
        FROM segments s LEFT JOIN u USING (segment_id)
        ORDER BY s.segment_id""")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def latest_alignment(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The verdict of the most recent alignment run for every (asset, reference) pair whose two
    files are still filed under the entity they were aligned on (a verdict says nothing about a
    file a manifest has since re-filed, nor about one aligned against a file that left)."""
    rel = con.sql("""
        WITH r AS (SELECT run_id, started_utc_ns FROM runs WHERE kind = 'align')
        SELECT c.entity_id, c.asset_id, c.reference_asset_id, c.method, c.verdict, c.lag_ns, c.uncertainty_ns,
               c.applied, c.asset_ids, c.subject_ids
        FROM clocks c JOIN r USING (run_id) JOIN assets a ON a.asset_id = c.asset_id AND a.entity_id = c.entity_id
        LEFT JOIN assets f ON f.asset_id = c.reference_asset_id
        WHERE f.asset_id IS NULL OR f.entity_id = c.entity_id  -- nor one against a reference that left
        QUALIFY row_number() OVER (PARTITION BY c.asset_id, c.reference_asset_id, c.method
                                   ORDER BY r.started_utc_ns DESC) = 1
        ORDER BY c.entity_id, c.asset_id""")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def class_conditions(con: duckdb.DuckDBPyConnection, field: str, key: str) -> list[tuple[str, str, str, str]]:
    """(target_id, entity_id, value, condition) for the labels of ``field``: each target's
    majority value (ties broken by the value's name, so the answer is stable) and its capture
    condition ``key`` (see ``target_slices``)."""
    rows = con.execute("""
        SELECT target_id, value FROM (
            SELECT target_id, value, count(*) AS n FROM labels
            WHERE field = $field AND annotator IS NOT NULL AND value IS NOT NULL GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY target_id ORDER BY n DESC, value) = 1
        ORDER BY target_id""", {"field": field}).fetchall()  # ordered: audits shuffle and fold these rows
    slices = target_slices(con, field, key)
    entities = target_slices(con, field, "entity")
    return [(str(t), entities.get(str(t), "unknown"), str(v), slices.get(str(t), "unknown")) for t, v in rows]


def label_target_spans(con: duckdb.DuckDBPyConnection, field: str) -> list[dict[str, Any]]:
    """Every labelled target of ``field`` with its entity, span on the entity timeline (a
    segment's, an event's instant, a region asset's or an entity's recorded extent) and the
    assets it comes from (as ``target_slices`` finds them)."""
    rel = con.execute(f"""
        WITH t AS (SELECT DISTINCT target_type, target_id FROM labels WHERE field = $field),
        x AS (SELECT entity_id, min(t0_ns) AS t0_ns, max(t1_ns) AS t1_ns FROM ({ASSET_SPANS}) GROUP BY entity_id),
        a1 AS (SELECT asset_id, entity_id, t0_ns, t1_ns FROM ({ASSET_SPANS}))
        SELECT t.target_id,
               coalesce(s.entity_id, e.entity_id, a.entity_id,
                        CASE WHEN t.target_type IN ('entity', 'sequence') THEN t.target_id END) AS entity_id,
               coalesce(s.t0_ns, e.t_ns, a1.t0_ns, x.t0_ns) AS t0_ns,
               coalesce(s.t1_ns, e.t_ns, a1.t1_ns, x.t1_ns) AS t1_ns,
               coalesce(s.asset_ids, e.asset_ids, CASE WHEN t.target_type = 'region' THEN [t.target_id] END,
                        (SELECT list(asset_id) FROM assets z WHERE z.entity_id = t.target_id)) AS asset_ids
        FROM t LEFT JOIN segments s ON t.target_type = 'segment' AND s.segment_id = t.target_id
               LEFT JOIN events e ON t.target_type = 'event' AND e.event_id = t.target_id
               LEFT JOIN assets a ON t.target_type = 'region' AND a.asset_id = t.target_id
               LEFT JOIN a1 ON t.target_type = 'region' AND a1.asset_id = t.target_id
               LEFT JOIN x ON t.target_type IN ('entity', 'sequence') AND x.entity_id = t.target_id
        ORDER BY t.target_id""", {"field": field})
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def text_labels(con: duckdb.DuckDBPyConnection, fields: list[str]) -> list[tuple[str, str, str]]:
    """(target_id, field, text) of free-text labels (notes, captions) of ``fields``."""
    rows = con.execute("SELECT target_id, field, value FROM labels WHERE list_contains(?, field) AND value IS NOT NULL "
                       "ORDER BY target_id, field, value", [fields]).fetchall()
    return [(str(t), str(f), str(v)) for t, f, v in rows]


def asset_metadata(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """What a metadata-only shortcut model may see of each asset: its file name, device and
    capture context, its start on the wall clock, and its entity's attributes."""
    rel = con.sql("""
        SELECT a.asset_id, a.entity_id, a.source_path, a.device, a.camera, a.mic, a.context_json,
               coalesce(a.capture_time_utc_ns, a.nominal_start_utc_ns) AS start_utc_ns, en.attrs_json
        FROM assets a LEFT JOIN entities en USING (entity_id) ORDER BY a.asset_id""")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def split_targets(con: duckdb.DuckDBPyConnection, field: str) -> list[dict[str, Any]]:
    """The labelled targets of ``field`` with their entity and provenance: their assets, and the
    subjects of those assets (a label on an entity or a photo names no subject itself)."""
    spans = label_target_spans(con, field)
    subjects = {str(a): list(s or []) for a, s in con.sql("SELECT asset_id, subject_ids FROM assets").fetchall()}
    return [{"target_id": str(r["target_id"]), "entity_id": r["entity_id"], "asset_ids": r["asset_ids"],
             "subject_ids": sorted({s for a in r["asset_ids"] or [] for s in subjects.get(str(a), [])}) or None}
            for r in spans]


def split_members(con: duckdb.DuckDBPyConnection, split_set: str) -> list[dict[str, Any]]:
    """Every target of a split set with its split, entity, assets and subjects."""
    rel = con.execute("SELECT target_id, entity_id, split, asset_ids, subject_ids FROM splits WHERE split_set = ? "
                      "ORDER BY target_id", [split_set])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def target_embeddings(con: duckdb.DuckDBPyConnection, field: str) -> dict[str, list[float]]:
    """Vectors of the labelled targets of ``field`` from the representation that covers most of
    them (ties: the representation ID), by target ID."""
    rows = con.execute("""
        WITH t AS (SELECT DISTINCT target_id FROM labels WHERE field = $field),
        e AS (SELECT e.representation_id, e.target_id, e.vector FROM embeddings e JOIN t USING (target_id)),
        best AS (SELECT representation_id FROM e GROUP BY 1 ORDER BY count(*) DESC, representation_id LIMIT 1)
        SELECT target_id, vector FROM e JOIN best USING (representation_id)""", {"field": field}).fetchall()
    return {str(t): list(v) for t, v in rows}


def media_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """What a labelling tool needs of every asset: name, size, rate, first presentation, clock."""
    rel = con.sql("SELECT asset_id, entity_id, source_path, modality, width, height, fps, start_ns, duration_ns, "
                  "clock_offset_ns, clock_drift_ppm, clock_source FROM assets ORDER BY asset_id")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def labels_with_targets(con: duckdb.DuckDBPyConnection, fields: list[str] | None) -> list[dict[str, Any]]:
    """Labels with an annotator and a value (optionally of some fields) and the entity of each
    target: the segment's, the event's, the asset's, or the entity itself."""
    rel = con.execute("""
        SELECT l.label_id, l.target_type, l.target_id, l.field, l.value, l.kind, l.annotator, l.annotator_tier,
               l.instance, l.guideline_version, l.confidence,
               coalesce(s.entity_id, e.entity_id, a.entity_id,
                        CASE WHEN l.target_type IN ('entity', 'sequence') THEN l.target_id END) AS entity_id,
               s.t0_ns AS segment_t0_ns, s.t1_ns AS segment_t1_ns
        FROM labels l
        LEFT JOIN segments s ON l.target_type = 'segment' AND s.segment_id = l.target_id
        LEFT JOIN events e ON l.target_type = 'event' AND e.event_id = l.target_id
        LEFT JOIN assets a ON l.target_type = 'region' AND a.asset_id = l.target_id
        WHERE l.annotator IS NOT NULL AND l.value IS NOT NULL AND ($fields IS NULL OR list_contains($fields, l.field))
        ORDER BY l.field, entity_id, l.target_id, l.annotator, l.instance""", {"fields": fields})
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def labels_by_id(con: duckdb.DuckDBPyConnection, label_ids: list[str]) -> dict[str, dict[str, Any]]:
    rel = con.execute("SELECT label_id, field, target_id, annotator, value, guideline_version, asset_ids, subject_ids "
                      "FROM labels WHERE list_contains(?, label_id)", [label_ids])
    cols = [d[0] for d in rel.description]
    return {str(r[0]): dict(zip(cols, r, strict=True)) for r in rel.fetchall()}


def graded_labels(con: duckdb.DuckDBPyConnection, field: str) -> list[dict[str, Any]]:
    """Labels of ``field`` with their grades folded in: verdict ``reject`` if any grader rejected,
    ``fix`` if any fixed (the fix is a label of its own), else ``accept`` or null; mean score."""
    rel = con.execute("""
        WITH g AS (SELECT label_id, bool_or(verdict = 'reject') AS rejected, bool_or(verdict = 'fix') AS fixed,
                          bool_or(verdict = 'accept') AS accepted, avg(score) AS score
                   FROM grades GROUP BY label_id)
        SELECT l.label_id, l.target_id, l.annotator, l.value,
               CASE WHEN g.rejected THEN 'reject' WHEN g.fixed THEN 'fix' WHEN g.accepted THEN 'accept' END AS verdict,
               g.score
        FROM labels l LEFT JOIN g USING (label_id)
        WHERE l.field = ? AND l.annotator IS NOT NULL AND l.value IS NOT NULL
        ORDER BY l.target_id, l.annotator""", [field])
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def pilot_candidates(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(segment_id, capture-condition signature) of every segment: the signature joins the
    capture context of the segment's source assets (lighting, weather, camera...), so a pilot
    can cover every condition."""
    rows = con.sql("""
        WITH s AS (SELECT segment_id, unnest(coalesce(asset_ids, [])) AS asset_id FROM segments)
        SELECT s.segment_id,
               string_agg(DISTINCT coalesce(a.context_json, '') || '|' || coalesce(a.camera, '') || '|'
                          || coalesce(a.device, ''), ';' ORDER BY coalesce(a.context_json, '') || '|'
                          || coalesce(a.camera, '') || '|' || coalesce(a.device, '')) AS signature
        FROM s JOIN assets a USING (asset_id) GROUP BY s.segment_id ORDER BY s.segment_id""").fetchall()
    return [(str(sid), str(sig or "")) for sid, sig in rows]


def findings_with_prefix(con: duckdb.DuckDBPyConnection, prefix: str) -> list[dict[str, Any]]:
    """Findings whose check starts with ``prefix``: check, target ID and the parsed details."""
    rows = con.execute("""SELECT "check", target_id, details_json FROM findings WHERE starts_with("check", ?)""",
                       [prefix]).fetchall()
    return [{"check": str(c), "target_id": str(t), "details": json.loads(d)} for c, t, d in rows]


def segment_starts(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, int]]:
    """``{segment_id: (entity_id, t0_ns)}`` of every segment."""
    return {str(s): (str(e), int(t0)) for s, e, t0 in con.sql(
        "SELECT segment_id, entity_id, t0_ns FROM segments").fetchall()}


def most_annotators_per_target(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per field, the most distinct annotators any one of its targets has."""
    return {str(f): int(n) for f, n in con.sql("""
        SELECT field, max(n) FROM (SELECT field, target_id, count(DISTINCT annotator) AS n
                                   FROM labels WHERE annotator IS NOT NULL GROUP BY ALL)
        GROUP BY field""").fetchall()}


def split_entities(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(split set, entity, split) of every split row."""
    rows = con.sql("SELECT split_set, entity_id, split FROM splits").fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def asset_paths(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """``{asset_id: source_path}``."""
    return {str(a): str(p) for a, p in con.sql("SELECT asset_id, source_path FROM assets").fetchall()}


def representation_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The config hash stored under each representation ID."""
    return {str(r): str(h) for r, h in con.sql("SELECT representation_id, config_hash FROM representations").fetchall()}


def embedded_assets(con: duckdb.DuckDBPyConnection, representation_id: str) -> set[str]:
    """Assets embedded under ``representation_id`` (with windows, or marked as giving none)."""
    rows = con.execute("SELECT DISTINCT asset_ids[1] FROM embeddings WHERE representation_id = ? "
                       "AND target_type IN ('asset_window', 'asset_empty')", [representation_id]).fetchall()
    return {str(r[0]) for r in rows}


def asset_windows(con: duckdb.DuckDBPyConnection, representation_id: str) -> pa.Table:
    """Every window vector of a representation with its asset's entity and clock, the window's
    span on the file's own clock parsed from the target ID, ordered by asset and time."""
    return con.sql("""
        SELECT a.asset_id, a.entity_id, a.clock_offset_ns, a.clock_drift_ppm, a.clock_source,
               CAST(split_part(e.target_id, ':', 2) AS BIGINT) AS t0_ns,
               CAST(split_part(e.target_id, ':', 3) AS BIGINT) AS t1_ns, e.vector
        FROM embeddings e JOIN assets a ON a.asset_id = e.asset_ids[1]
        WHERE e.representation_id = ? AND e.target_type = 'asset_window'
        ORDER BY a.asset_id, t0_ns""", params=[representation_id]).to_arrow_table()


def segment_spans(con: duckdb.DuckDBPyConnection, segmenter: str | None = None) -> pa.Table:
    """Segments (ID, entity, span, segmenter), optionally of one segmenter, by entity and time."""
    query = """SELECT segment_id, entity_id, t0_ns, t1_ns, segmenter FROM segments
               WHERE $seg IS NULL OR segmenter = $seg ORDER BY entity_id, t0_ns, segmenter, segment_id"""
    return con.sql(query, params={"seg": segmenter}).to_arrow_table()


def representation_usage(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each stored representation: its vectors and assets, and the runs pinned to it."""
    rel = con.sql("""
        WITH e AS (SELECT representation_id, count(*) FILTER (WHERE target_type <> 'asset_empty') AS vectors,
                          count(DISTINCT asset_ids[1]) AS assets FROM embeddings GROUP BY 1),
        r AS (SELECT u.representation_id, list(run_id ORDER BY run_id) AS runs
              FROM (SELECT run_id, unnest(representation_ids) AS representation_id FROM runs) u GROUP BY 1)
        SELECT p.representation_id, p.name, p.version, p.modality, p.dim, p.config_hash,
               coalesce(e.vectors, 0) AS vectors, coalesce(e.assets, 0) AS assets, coalesce(r.runs, []) AS runs
        FROM representations p LEFT JOIN e USING (representation_id) LEFT JOIN r USING (representation_id)
        ORDER BY p.name, p.version""")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, row, strict=True)) for row in rel.fetchall()]


def representation_modalities(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The modality of each registered representation (no scan of the vectors)."""
    return {str(r): str(m) for r, m in con.sql("SELECT representation_id, modality FROM representations").fetchall()}


def asset_subjects(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The subjects of every asset that has any."""
    rows = con.sql("SELECT asset_id, subject_ids FROM assets WHERE len(subject_ids) > 0").fetchall()
    return {str(a): [str(s) for s in subs] for a, subs in rows}


def predicted_targets(con: duckdb.DuckDBPyConnection, run_id: str) -> set[str]:
    """Targets that already have a prediction in ``run_id`` (what a resumed run skips)."""
    return {str(r[0]) for r in con.execute("SELECT DISTINCT target_id FROM predictions WHERE run_id = ?",
                                           [run_id]).fetchall()}


def run_row(con: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Any] | None:
    rel = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    cols = [d[0] for d in rel.description]
    rows = rel.fetchall()
    return dict(zip(cols, rows[0], strict=True)) if rows else None


def run_counts(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """A run's predictions by route, and its traces by stage and status."""
    routes = {str(r): int(n) for r, n in con.execute(
        "SELECT route, count(*) FROM predictions WHERE run_id = ? GROUP BY 1 ORDER BY 1", [run_id]).fetchall()}
    stages: dict[str, dict[str, int]] = {}
    for stage, status, n in con.execute("SELECT stage, status, count(*) FROM traces WHERE run_id = ? GROUP BY ALL "
                                        "ORDER BY 1, 2", [run_id]).fetchall():
        stages.setdefault(str(stage), {})[str(status)] = int(n)
    return routes, stages


def audio_formats(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """(sample rate, channels) of every audio asset that has them."""
    return [(int(r), int(c or 1)) for r, c in con.sql(
        "SELECT sample_rate, channels FROM assets WHERE modality = 'audio' AND sample_rate > 0").fetchall()]


def run_costs(con: duckdb.DuckDBPyConnection, run_id: str) -> tuple[list[tuple[str, float, float]], tuple[Any, Any]]:
    """Per stage of a run, output bytes and milliseconds per segment (each trace row carries its
    batch's totals: its share is total / rows), and the median and p95 of its predictions'
    latency — each segment's is its batch's mean, so the p95 is of batch means."""
    rows = con.execute("""SELECT stage, avg(output_bytes / batch_rows), avg(batch_seconds / batch_rows) * 1000
                          FROM traces WHERE run_id = ? GROUP BY stage ORDER BY stage""", [run_id]).fetchall()
    lat = con.execute("SELECT median(latency_ms), quantile_cont(latency_ms, 0.95) FROM predictions WHERE run_id = ?",
                      [run_id]).fetchall()[0]
    return [(str(s), float(b), float(m)) for s, b, m in rows], (lat[0], lat[1])


def runs_with_prefix(con: duckdb.DuckDBPyConnection, prefix: str) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id",
                                           [prefix]).fetchall()]


# -- evaluation ------------------------------------------------------------------------------------

FRAME_PREFIXES = ("attrs.", "metadata.", "context.", "quality.", "coverage.")
FILE_COLUMNS = (*ASSET_COLUMNS, "codec", "format", "width", "height", "fps", "sample_rate", "channels")
FRAME_COLUMNS = ("entity_id", "target_type", "split", "hour", *FILE_COLUMNS)


def frame_column_is_list(column: str) -> bool:
    """Whether a frame column holds the values of all the target's files (a list): the asset
    columns and ``context.*``; a slice condition on it holds when it holds for any of them."""
    return column in FILE_COLUMNS or column.startswith("context.")


def frame_column_problem(column: str) -> str | None:
    """Why an evaluation slice cannot read ``column`` (None when it can)."""
    from syncline.catalog.schema import QUALITY_KINDS

    if column in FRAME_COLUMNS:
        return None
    head, _, rest = column.partition(".")
    if f"{head}." in FRAME_PREFIXES and rest and "." not in rest:
        if head == "quality" and rest not in QUALITY_KINDS:
            return f"no quality column {rest!r}; allowed: {', '.join(QUALITY_KINDS)}"
        return None
    return (f"unknown column {column!r}; allowed: {', '.join(FRAME_COLUMNS)}, or attrs.KEY, metadata.KEY "
            "(the entity's), context.KEY (its files' capture context), quality.KIND (the audit's share of the "
            "segment), coverage.MODALITY (true when the target has a file of it)")


def prediction_frame(con: duckdb.DuckDBPyConnection, run_id: str, field: str, columns: list[str],
                     split_set: str = "default") -> Any:
    """One row per prediction of ``field`` in ``run_id`` with the catalog columns slices read:
    ``columns`` (checked by ``frame_column_problem``) come back as top-level columns or structs
    (``context.lighting`` as ``context.lighting``). A file-level column (camera, context.*) holds
    the distinct values of all the target's files, as a list (``frame_column_is_list``): a segment
    seen by two cameras has both."""
    import json as _json

    def path(key: str) -> str:
        return "'" + ('$."' + key.replace('"', "").replace("'", "") + '"') + "'"

    asset_cols = [c for c in columns if c in FILE_COLUMNS]
    groups: dict[str, list[str]] = {}
    for c in columns:
        head, _, rest = c.partition(".")
        if rest:
            groups.setdefault(head, []).append(rest)

    def agg(expr: str) -> str:
        return f"list_sort(list(DISTINCT {expr}) FILTER (WHERE {expr} IS NOT NULL))"

    per_asset = [f"{agg(f'a.{c}')} AS \"{c}\"" for c in asset_cols]
    per_asset += [f"{agg(f'json_extract_string(a.context_json, {path(k)})')} AS \"context.{k}\""
                  for k in groups.get("context", [])]
    per_asset += [f"bool_or(a.modality = '{m.replace(chr(39), '')}') AS \"coverage.{m}\""
                  for m in groups.get("coverage", [])]
    structs = []
    for head in ("context", "coverage"):
        if head in groups:
            fields = ", ".join(_json.dumps(k) + ' := ta."' + head + "." + k + '"' for k in groups[head])
            structs.append(f"struct_pack({fields}) AS {head}")
    for head, src in (("attrs", "en.attrs_json"), ("metadata", "en.metadata_json")):
        if head in groups:
            fields = ", ".join(f"{_json.dumps(k)} := json_extract_string({src}, {path(k)})" for k in groups[head])
            structs.append(f"struct_pack({fields}) AS {head}")
    if "quality" in groups:
        structs.append(f"struct_pack({', '.join(f'{_json.dumps(k)} := q.{k}' for k in groups['quality'])}) AS quality")
    top = [f'ta."{c}"' for c in asset_cols]
    if "split" in columns:
        top.append("sp.split")
    if "hour" in columns:
        top.append("CAST(floor(((en.origin_utc_ns + coalesce(s.t0_ns, 0)) / 3.6e12) % 24) AS BIGINT) AS hour")
    sql = f"""
        WITH p AS (SELECT prediction_id, target_type, target_id, value, score, abstained, route, latency_ms,
                          asset_ids AS p_assets
                   FROM predictions WHERE run_id = $run AND field = $field),
        t AS (SELECT p.prediction_id, p.target_type, p.target_id,
                     coalesce(s.entity_id, CASE WHEN p.target_type = 'entity' THEN p.target_id END) AS entity_id,
                     coalesce(s.asset_ids, p.p_assets) AS t_assets
              FROM p LEFT JOIN segments s ON p.target_type = 'segment' AND s.segment_id = p.target_id),
        ta0 AS (SELECT prediction_id, unnest(t_assets) AS asset_id FROM t WHERE target_type <> 'entity'
                UNION ALL SELECT t.prediction_id, a.asset_id FROM t
                    JOIN assets a ON t.target_type = 'entity' AND a.entity_id = t.entity_id),
        ta AS (SELECT ta0.prediction_id {''.join(', ' + x for x in per_asset)}
               FROM ta0 JOIN assets a USING (asset_id) GROUP BY ta0.prediction_id)
        SELECT p.prediction_id, p.target_type, p.target_id, t.entity_id, s.t0_ns, s.t1_ns, p.value, p.score,
               p.abstained, p.route, p.latency_ms {''.join(', ' + x for x in top + structs)}
        FROM p JOIN t USING (prediction_id) LEFT JOIN ta USING (prediction_id)
             LEFT JOIN segments s ON p.target_type = 'segment' AND s.segment_id = p.target_id
             LEFT JOIN entities en ON en.entity_id = t.entity_id
             {"LEFT JOIN quality q ON q.segment_id = p.target_id" if "quality" in groups else ""}
             {"LEFT JOIN (SELECT target_id, any_value(split) AS split FROM splits WHERE split_set = $set "
              "GROUP BY target_id) sp ON sp.target_id = p.target_id" if "split" in columns else ""}
        ORDER BY p.target_id"""
    params = {"run": run_id, "field": field}
    if "split" in columns:
        params["set"] = split_set
    return con.sql(sql, params=params).to_arrow_table()


def slice_membership(con: duckdb.DuckDBPyConnection, frame: Any, predicates: list[str]) -> Any:
    """Per frame row, whether it lies in each slice (``predicates`` are DuckDB boolean
    expressions over the frame; NULL is outside), as an Arrow table of boolean columns s0..sN."""
    con.register("_frame", frame)
    try:
        cols = ", ".join(f"coalesce(({p}), false) AS s{i}" for i, p in enumerate(predicates)) or "true AS s0"
        return con.sql(f"SELECT {cols} FROM _frame").to_arrow_table()
    finally:
        con.unregister("_frame")


def target_provenance(con: duckdb.DuckDBPyConnection, target_type: str,
                      ids: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """(asset IDs, subject IDs) of each existing segment or entity among ``ids``."""
    import pyarrow as pa

    if not ids:
        return {}
    con.register("_ids", pa.table({"id": ids}))
    try:
        if target_type == "segment":
            sql = "SELECT s.segment_id, s.asset_ids, s.subject_ids FROM segments s JOIN _ids ON s.segment_id = _ids.id"
        else:
            sql = """SELECT e.entity_id, list_sort(list(DISTINCT a.asset_id) FILTER (a.asset_id IS NOT NULL)),
                            list_sort(flatten(list(coalesce(a.subject_ids, []))))
                     FROM entities e JOIN _ids ON e.entity_id = _ids.id LEFT JOIN assets a USING (entity_id)
                     GROUP BY e.entity_id"""
        return {str(r[0]): (list(r[1] or []), sorted(set(r[2] or []))) for r in con.sql(sql).fetchall()}
    finally:
        con.unregister("_ids")


def join_on_target(con: duckdb.DuckDBPyConnection, frame: Any, other: Any) -> Any:
    """``frame`` with ``other``'s columns (all but ``target_id``) joined on by target, ordered by
    target (Arrow's own join cannot carry the frame's struct columns)."""
    con.register("_frame", frame)
    con.register("_other", other)
    try:
        cols = ", ".join(f'o."{c}"' for c in other.column_names if c != "target_id")
        return con.sql(f"SELECT f.*, {cols} FROM _frame f LEFT JOIN _other o USING (target_id) "
                       "ORDER BY f.target_id").to_arrow_table()
    finally:
        con.unregister("_frame")
        con.unregister("_other")


def slice_candidates(con: duckdb.DuckDBPyConnection, max_values: int = 12) -> list[str]:
    """Frame columns worth searching for underperforming slices: entity attributes and files'
    capture context keys, and file columns, that take between 2 and ``max_values`` values."""
    out: list[str] = []
    for prefix, table, col in (("attrs", "entities", "attrs_json"), ("context", "assets", "context_json")):
        rows = con.sql(f"""
            WITH k AS (SELECT unnest(json_keys({col})) AS key, {col} AS j FROM {table}
                       WHERE {col} IS NOT NULL AND json_type({col}) = 'OBJECT')
            SELECT key, count(DISTINCT json_extract_string(j, '$."' || replace(key, '"', '') || '"')) AS n
            FROM k GROUP BY key ORDER BY key""").fetchall()
        out += [f"{prefix}.{k}" for k, n in rows if 2 <= n <= max_values and "." not in k and k.isidentifier()]
    for c in ("camera", "device", "mic", "channel", "codec", "jurisdiction"):
        got = con.sql(f"SELECT count(DISTINCT {c}) FROM assets").fetchall()
        if got and 2 <= int(got[0][0]) <= max_values:
            out.append(c)
    return out


def frame_values(con: duckdb.DuckDBPyConnection, frame: Any, column: str, is_list: bool, limit: int = 12) -> list[Any]:
    """The distinct non-null values of a prediction-frame column (of the files' values, for a
    list column), at most ``limit`` + 1 of them so a caller can tell there were too many."""
    col = ".".join(f'"{part}"' for part in column.split("."))
    expr = f"unnest({col})" if is_list else col
    con.register("_frame", frame)
    try:
        rows = con.sql(f"SELECT DISTINCT v FROM (SELECT {expr} AS v FROM _frame) WHERE v IS NOT NULL "
                       f"ORDER BY v LIMIT {int(limit) + 1}").fetchall()
    finally:
        con.unregister("_frame")
    return [r[0] for r in rows]


def frame_groups(con: duckdb.DuckDBPyConnection, frame: Any, columns: list[str]) -> tuple[Any, Any]:
    """Rows of ``frame`` grouped by their values of ``columns`` (top-level columns: a struct or a
    list is one value): (group code per row, one representative row per group). Slice
    predicates then run on the representatives only. Rows are grouped by DuckDB's 64-bit hash of
    their values, lists and structs serialised as JSON (two different combinations share a hash
    with probability ~n²/2⁶⁵: 1e-12 for 10,000 combinations; hashing lists directly would not do,
    as it folds the elements of adjacent lists together), numbered by Arrow's hash table, not a
    sort."""
    import numpy as np
    import pyarrow as pa

    if not columns:
        return np.zeros(frame.num_rows, np.int64), np.zeros(min(1, frame.num_rows), np.int64)
    con.register("_frame", frame)
    try:
        # hash() of several list values folds their elements together (['a','b'], NULL hashes as ['a'], ['b']):
        # a list or struct goes in as its JSON text, which cannot fold; plain values go in as they are
        nested = {f.name for f in frame.schema if pa.types.is_list(f.type) or pa.types.is_struct(f.type)}
        parts = ", ".join(f'to_json("{c}")' if c in nested else f'"{c}"' for c in columns)
        h = con.sql(f"SELECT hash({parts}) AS h FROM _frame").to_arrow_table().column("h").to_numpy()
    finally:
        con.unregister("_frame")
    codes = pa.array(h).dictionary_encode().indices.to_numpy(zero_copy_only=False).astype(np.int64)  # a hash table
    first = np.empty(int(codes.max()) + 1 if len(codes) else 0, np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)  # the last write per group is its first row
    return codes, first


def run_traces(con: duckdb.DuckDBPyConnection, run_id: str, target_ids: list[str]) -> list[tuple[str, str, str, Any]]:
    """(target, stage, status, outputs_json) of a pipeline run's traces for ``target_ids``."""
    import pyarrow as pa

    if not target_ids:
        return []
    con.register("_targets", pa.table({"target_id": pa.array(target_ids, pa.string())}))
    try:
        rows = con.execute("""SELECT t.target_id, t.stage, t.status, t.outputs_json FROM traces t
                              JOIN _targets USING (target_id) WHERE t.run_id = ?""", [run_id]).fetchall()
    finally:
        con.unregister("_targets")
    return [(str(a), str(b), str(c), d) for a, b, c, d in rows]


def label_values(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Each labelled field's distinct values."""
    rows = con.sql("SELECT field, list(DISTINCT value ORDER BY value) FROM labels WHERE value IS NOT NULL "
                   "GROUP BY field").fetchall()
    return {str(f): [str(v) for v in vals] for f, vals in rows}


def suite_versions(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every scenario suite version: members, when it was made, newest first per suite."""
    rel = con.sql("""SELECT suite, version, count(*) AS targets, min(created_utc_ns) AS created_utc_ns,
                            any_value(description) AS description
                     FROM scenarios GROUP BY suite, version ORDER BY suite, created_utc_ns DESC, version""")
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def suite_members(con: duckdb.DuckDBPyConnection, suite: str, version: str) -> list[str]:
    return [str(r[0]) for r in con.execute("SELECT target_id FROM scenarios WHERE suite = ? AND version = ? "
                                           "ORDER BY target_id", [suite, version]).fetchall()]


def label_value_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(field, value, labels) for every value stored, in order."""
    rows = con.execute("SELECT field, value, count(*) FROM labels GROUP BY field, value ORDER BY field, value")
    return [(str(f), str(v), int(n)) for f, v, n in rows.fetchall()]
