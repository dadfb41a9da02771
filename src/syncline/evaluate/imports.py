"""Predictions from any model: a Parquet, CSV or JSONL file keyed by segment or entity ID becomes
an ``import`` run whose predictions ``syncline eval`` evaluates like a pipeline run's.

Columns: ``segment_id`` or ``entity_id`` (or ``target_id`` with ``target_type``), ``value`` (or a
column named after the field; empty = no answer), optional ``score`` (or ``confidence``, in
[0, 1]), ``abstained`` (routed to a person), ``latency_ms``. Every row is checked — the target
exists, the value is a class of the field, the score is a probability, the target appears once
— and a bad row is refused with its line and reason while the others go in. The run ID derives
from the file's bytes, the model and the field, so importing the same file twice is one run.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from syncline.catalog import query as Q
from syncline.ids import stable_id
from syncline.project import Project
from syncline.task.spec import load_task

READERS = (".parquet", ".csv", ".jsonl", ".json")


@dataclass
class ImportResult:
    run_id: str
    written: int
    refused: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id if self.written else None, "written": self.written, "refused": self.refused}


TEXT = ("segment_id", "entity_id", "target_id", "target_type", "value", "abstained")  # never guessed as numbers


def read_table(path: Path, field_name: str = "value") -> pa.Table:
    """The file as a table; IDs, values and flags are read as text (a CSV's "0042" stays "0042",
    a class "true" stays "true")."""
    suffix = path.suffix.lower()
    text = {c: pa.string() for c in (*TEXT, field_name)}
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        if suffix == ".csv":
            from pyarrow import csv

            return csv.read_csv(path, convert_options=csv.ConvertOptions(strings_can_be_null=True,
                                                                          column_types=text))
        if suffix in (".jsonl", ".json"):
            from pyarrow import json as pj

            t = pj.read_json(path)
            return pa.table({c: _as_text(t.column(c)) if c in text else t.column(c) for c in t.column_names})
    except (pa.ArrowInvalid, OSError) as e:
        raise ValueError(f"{path}: cannot read it as {suffix[1:]}: {str(e).splitlines()[0]}") from None
    raise ValueError(f"{path}: unknown format {suffix or '(no suffix)'}; give one of {', '.join(READERS)}")


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A JSON column as text, booleans as JSON writes them ("true", not "True")."""
    if pa.types.is_boolean(col.type):
        return pc.if_else(col, "true", "false")
    return pc.cast(col, pa.string())


def _flag(x: object) -> bool:
    """An abstained flag as files write it: true/false, 1/0, yes/no (text or not)."""
    if isinstance(x, str):
        return x.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(x)


def _column(t: pa.Table, *names: str) -> pa.ChunkedArray | None:
    for n in names:
        if n in t.column_names:
            return t.column(n)
    return None


def import_predictions(project: Project, path: Path, *, field_name: str, model: str, version: str) -> ImportResult:
    spec = load_task(project.task_path)
    if field_name not in spec.labels:
        raise ValueError(f"field {field_name!r} is not in the task spec's labels ({', '.join(spec.labels)})")
    classes = list(spec.labels[field_name].values)
    path = Path(path)
    t = read_table(path, field_name)
    if "segment_id" in t.column_names:
        ttype, ids = "segment", t.column("segment_id")
    elif "entity_id" in t.column_names:
        ttype, ids = "entity", t.column("entity_id")
    elif "target_id" in t.column_names and "target_type" in t.column_names:
        types = set(t.column("target_type").to_pylist())
        if len(types) != 1 or not types <= {"segment", "entity"}:
            raise ValueError(f"{path}: target_type must be one of segment, entity for every row; "
                             f"got {sorted(map(str, types))}")
        ttype, ids = types.pop(), t.column("target_id")
    else:
        raise ValueError(f"{path}: no key column; give segment_id, entity_id, or target_id with target_type "
                         f"(columns found: {', '.join(t.column_names)})")
    values = _column(t, "value", field_name)
    if values is None:
        raise ValueError(f"{path}: no prediction column; name it 'value' or {field_name!r}")
    scores = _column(t, "score", "confidence")
    ids_l = [None if x is None else str(x) for x in ids.to_pylist()]
    vals_l = [None if v is None or str(v) == "" else str(v) for v in values.to_pylist()]
    try:
        score_l = (pc.cast(scores, pa.float64()).to_pylist() if scores is not None else [None] * t.num_rows)
    except pa.ArrowInvalid:
        raise ValueError(f"{path}: the score column holds something that is not a number") from None
    abst = _column(t, "abstained")
    abst_l = [_flag(x) for x in abst.to_pylist()] if abst is not None else [False] * t.num_rows
    lat = _column(t, "latency_ms")
    try:
        lat_l = pc.cast(lat, pa.float64()).to_pylist() if lat is not None else [None] * t.num_rows
    except pa.ArrowInvalid:
        raise ValueError(f"{path}: the latency_ms column holds something that is not a number") from None
    cat = project.catalog()
    with cat.connect() as con:
        known = Q.target_provenance(con, ttype, sorted({i for i in ids_l if i}))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    run_id = stable_id("import", digest, model, version, field_name)
    refused, rows, seen = [], [], set()
    line0 = 2 if path.suffix.lower() == ".csv" else 1  # a CSV's first line is its header
    for i, (tid, v, s, a, lt) in enumerate(zip(ids_l, vals_l, score_l, abst_l, lat_l, strict=True)):
        where = f"{path.name} line {i + line0}"
        why = (f"no {ttype} ID" if not tid else f"unknown {ttype} {tid!r}" if tid not in known
               else f"{ttype} {tid!r} appears twice (first kept)" if tid in seen
               else f"value {v!r} is not a class of {field_name!r} ({', '.join(classes)})" if v is not None
               and v not in classes
               else f"score {s!r} is not a probability in [0, 1]" if s is not None and not 0 <= s <= 1
               else f"latency_ms {lt!r} is not a duration (a finite number of milliseconds, 0 or more)"
               if lt is not None and not math.isnan(lt) and not 0 <= lt < math.inf
               else "")
        if why:
            refused.append(f"{where}: {why}")
            continue
        seen.add(tid)
        assets, subjects = known[str(tid)]
        rows.append({"prediction_id": f"{run_id}|{tid}|{field_name}", "run_id": run_id, "target_type": ttype,
                     "target_id": tid, "field": field_name, "value": v, "score": s,
                     "abstained": bool(a) or v is None, "asset_ids": assets,
                     "latency_ms": None if lt is None or math.isnan(lt) else lt,  # NaN: not measured
                     "subject_ids": subjects, "route": "abstain" if v is None else "review" if a else "act",
                     "details_json": json.dumps({"source": path.name, "line": i + line0})})
    if rows:
        cat.upsert("predictions", rows)
        cat.upsert("runs", [{"run_id": run_id, "kind": "import", "started_utc_ns": time.time_ns(),
                             "finished_utc_ns": time.time_ns(), "status": "finished",
                             "task_hash": spec.content_hash(), "model_name": model, "model_version": version,
                             "representation_ids": [], "table_versions_json": json.dumps(cat.snapshot()),
                             "config_json": json.dumps({"field": field_name, "file": str(path), "sha256": digest,
                                                        "rows": len(rows), "refused": len(refused)})}])
    return ImportResult(run_id, len(rows), refused)
