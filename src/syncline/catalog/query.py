"""DuckDB over the catalog's Lance tables.

Each table is registered as a view named after it (Lance datasets are Arrow datasets, so
DuckDB pushes projections and filters down into the Lance scan). ``versions`` pins some or all
tables to exact versions, so a run's numbers can be recomputed on the data it saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

from syncline.catalog.schema import TABLES

if TYPE_CHECKING:
    from syncline.catalog.store import Catalog


def connect(catalog: Catalog, *, versions: dict[str, int] | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in TABLES:
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


def event_assets_without_events(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Event-log assets whose rows are not (yet) in the events table."""
    rows = con.sql(
        "SELECT a.asset_id FROM assets a WHERE a.modality = 'events' AND NOT EXISTS "
        "(SELECT 1 FROM events v WHERE list_contains(v.asset_ids, a.asset_id)) ORDER BY 1").fetchall()
    return [str(a) for (a,) in rows]


# Asset spans on their entity timeline: [offset + start, offset + start + duration).
ASSET_SPANS = """
    SELECT entity_id, modality, asset_id,
           coalesce(clock_offset_ns, 0) + coalesce(start_ns, 0) AS t0_ns,
           coalesce(clock_offset_ns, 0) + coalesce(start_ns, 0) + duration_ns AS t1_ns
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


def aligned_time(con: duckdb.DuckDBPyConnection, required: list[str]) -> dict[str, int]:
    """Per entity, nanoseconds during which every required modality is recorded at once.

    Per (entity, modality) the asset spans are merged (gaps and islands), then a sweep over
    the merged spans' boundaries counts how many modalities are live; time with all of them
    live is aligned. Entities lacking a required modality get 0.
    """
    if not required:
        return {}
    k = len(required)
    mods = ", ".join("'" + m.replace("'", "''") + "'" for m in required)
    rows = con.sql(f"""
        WITH spans AS (SELECT * FROM ({ASSET_SPANS}) WHERE modality IN ({mods})),
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
