"""Aligned tuples: for each segment, the part of every asset that overlaps it.

The join itself is one DuckDB query (``catalog.query.aligned_tuples``); this module prepares
the two relations it needs beyond the catalog tables — transcript words and sensor row times on
the entity timeline, read once per asset through each asset's clock — and exports the result
as Parquet or as a WebDataset-style folder of tar shards (one ``<segment_id>.json`` and, when
the segment has speech, ``<segment_id>.txt`` per sample; media stay in managed storage and are
referenced by path and frame/sample ranges, never copied).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from syncline.align.segment import clock_of
from syncline.catalog import query as Q
from syncline.media.types import MediaError, MediaErrorKind
from syncline.project import Project

_WORDS = pa.schema([("asset_id", pa.string()), ("entity_id", pa.string()), ("t0_ns", pa.int64()),
                    ("t1_ns", pa.int64()), ("text", pa.string())])
_SENSOR = pa.schema([("asset_id", pa.string()), ("entity_id", pa.string()), ("row", pa.int64()),
                     ("t_ns", pa.int64())])


def has_media(asset: dict[str, Any]) -> bool:
    """False for an asset the project keeps as embeddings only (``embeddings_only`` setting)."""
    return not json.loads(asset.get("media_json") or "{}").get("embeddings_only")


def asset_path(project: Project, asset: dict[str, Any]) -> Path:
    """The managed (scrubbed) copy when there is one, else the original file; an asset kept
    as embeddings only has neither, by design (``MediaError``)."""
    if not has_media(asset):
        raise MediaError(MediaErrorKind.UNSUPPORTED, f"{Path(str(asset.get('source_path'))).name} is kept as "
                         "embeddings only (privacy setting): there is no media to decode")
    if asset.get("managed_path"):
        return project.media_dir / str(asset["managed_path"])
    return Path(str(asset["source_path"]))


def words_table(project: Project, transcripts: list[dict[str, Any]]) -> pa.Table:
    """Words on the entity timeline: forced-aligned words from the catalog where alignment
    refined them, else the transcript file's own word timings, else whole cues."""
    from syncline.media.transcript import read_transcript

    cat = project.catalog()
    cols: dict[str, list[Any]] = {n: [] for n in _WORDS.names}
    for asset in transcripts:
        clock = clock_of(asset)
        refined = cat.read("words", where=f"asset_id = '{asset['asset_id']}' AND word_index >= 0").to_pylist()
        if refined:
            refined.sort(key=lambda w: (w["cue_index"], w["word_index"]))
            items = [(w["t0_ns"], w["t1_ns"], w["text"]) for w in refined]
        else:
            items = []
            for cue in read_transcript(asset_path(project, asset)):
                items += [(w.t0_ns, w.t1_ns, w.text) for w in cue.words] or [(cue.t0_ns, cue.t1_ns, cue.text)]
        if items:
            for t0, t1, text in items:
                cols["asset_id"].append(asset["asset_id"])
                cols["entity_id"].append(asset["entity_id"])
                cols["t0_ns"].append(clock.to_entity(local_ns=t0))
                cols["t1_ns"].append(clock.to_entity(local_ns=t1))
                cols["text"].append(text)
    return pa.table(cols, schema=_WORDS)


def sensor_table(project: Project, sensors: list[dict[str, Any]]) -> pa.Table:
    from syncline.media.sensor import read_sensor

    parts = []
    for asset in sensors:
        t = read_sensor(asset_path(project, asset)).column("t_ns").to_numpy().astype(np.int64)
        clock = clock_of(asset)
        t_entity = clock.offset_ns + t + np.round(t * clock.drift_ppm * 1e-6).astype(np.int64)
        n = len(t)
        parts.append(pa.table({
            "asset_id": pa.array([asset["asset_id"]] * n), "entity_id": pa.array([asset["entity_id"]] * n),
            "row": pa.array(np.arange(n, dtype=np.int64)), "t_ns": pa.array(t_entity)}, schema=_SENSOR))
    return pa.concat_tables(parts) if parts else _SENSOR.empty_table()


def build_tuples(project: Project, *, segmenter: str | None = None, entity: str | None = None,
                 stage: str | None = None) -> pa.Table:
    """Aligned tuples; with ``stage``, only of the assets whose consent and jurisdiction allow
    that stage (``govern.consent.blocked_for``): the others are not in the tuples at all."""
    cat = project.catalog()
    where = "entity_id = '" + entity.replace("'", "''") + "'" if entity else None
    table = cat.read("assets", where=where)
    if stage is not None:
        from syncline.govern.consent import blocked_for

        blocked = sorted({b["asset_id"] for b in blocked_for(project, stage)})
        table = table.filter(pc.invert(pc.is_in(table.column("asset_id"), pa.array(blocked, pa.string()))))
    assets = table.to_pylist()
    words = words_table(project, [a for a in assets if a["modality"] == "transcript"])
    sensor = sensor_table(project, [a for a in assets if a["modality"] == "sensor"])
    with cat.connect() as con:
        if stage is not None:  # the stage sees neither the blocked files nor the events read from them
            events = Q.events_without(con, blocked)
            con.register("assets", table)
            con.register("events", events)
        con.register("words", words)
        con.register("sensor_rows", sensor)
        return Q.aligned_tuples(con, segmenter=segmenter, entity=entity).to_arrow_table()


def export_parquet(table: pa.Table, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "tuples.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def export_webdataset(table: pa.Table, out: Path, *, per_shard: int = 1000) -> list[Path]:
    """Tar shards ``tuples-000000.tar`` …: per sample ``KEY.json`` (the whole tuple) and
    ``KEY.txt`` (its words, when it has speech). Each shard is written to a temp name first."""
    out.mkdir(parents=True, exist_ok=True)
    rows = table.to_pylist()
    shards = []
    for i in range(0, max(len(rows), 1), per_shard):
        path = out / f"tuples-{i // per_shard:06d}.tar"
        tmp = path.with_suffix(".tar.tmp")
        with tarfile.open(tmp, "w") as tar:
            for row in rows[i:i + per_shard]:
                key = row["segment_id"]
                _add(tar, f"{key}.json", json.dumps(row, sort_keys=True, default=str).encode())
                if row.get("words"):
                    _add(tar, f"{key}.txt", " ".join(w["text"] for w in row["words"]).encode())
        tmp.replace(path)
        shards.append(path)
    return shards


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def export(table: pa.Table, out: Path, fmt: str) -> list[Path]:
    if fmt == "parquet":
        return [export_parquet(table, out)]
    if fmt == "webdataset":
        return export_webdataset(table, out)
    raise ValueError(f"--format {fmt!r}: choose parquet or webdataset")


def summarize(table: pa.Table, written: list[Path]) -> dict[str, Any]:
    in_sync = sum(1 for v in table.column("in_sync").to_pylist() if v)
    return {"tuples": table.num_rows, "in_sync": in_sync, "written": [str(p) for p in written]}
