"""Writing labels: every label checked against the schema, the annotator's qualification and
the catalog before anything is written; the valid ones in one commit, the others refused with
a one-line reason naming the record.

The writer never chooses a label's kind: it comes from the schema, so a field is perception or
judgment everywhere (stored, exported and evaluated apart). Values are stored as text: class and
ordinal values as they are, numbers as decimals, and lists, boxes, polygons and time spans as
JSON. A label's ID is stable per (field, target, annotator) — plus an ``instance`` key for shapes,
of which an annotator may draw several on one target: relabelling replaces, and ``labels`` keeps
one current value per annotator (and instance). A segment may be named by its ID or by its
entity and exact span (``entity_id``, ``t0_ns``, ``t1_ns``), as tools that label windows by time do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from syncline.annotate.schema import SCHEMA_FILE, SHAPES, FieldSpec, LabelSchema, load_schema
from syncline.catalog import query as Q
from syncline.ids import stable_id
from syncline.project import Project


@dataclass(frozen=True)
class Refused:
    index: int  # position in the input (0-based)
    reason: str


@dataclass
class LabelWrite:
    written: int = 0
    refused: list[Refused] = field(default_factory=list)


def _number(x: Any) -> float:
    """A finite float, or ValueError (an integer too large for a float is not finite either)."""
    try:
        ok = not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(float(x))
    except OverflowError:
        ok = False
    if not ok:
        shown = repr(x) if len(repr(x)) <= 40 else repr(x)[:37] + "..."
        raise ValueError(f"{shown} is not a finite number")
    return float(x)


def _value(spec: FieldSpec, value: Any) -> str:
    """The value as stored, or ValueError saying what the field accepts. A shape of a field
    with classes ends with its class: ``[x0, y0, x1, y1, "cow"]``, ``[t0_ns, t1_ns, "lying"]``."""
    if spec.type in SHAPES and spec.values:
        if not isinstance(value, list) or len(value) < 2 or not isinstance(value[-1], str):
            raise ValueError(f"a {spec.type} of this field ends with its class, one of {spec.values}; got {value!r}")
        if value[-1] not in spec.values:
            raise ValueError(f"class {value[-1]!r} is not one of {spec.values}")
        shape = json.loads(_shape(spec.type, value[:-1]))
        return json.dumps([*shape, value[-1]])
    return _shape(spec.type, value) if spec.type in SHAPES else _plain(spec, value)


def _plain(spec: FieldSpec, value: Any) -> str:
    t = spec.type
    if t in ("class", "ordinal"):
        if value not in spec.values:
            raise ValueError(f"value {value!r} is not one of {spec.values}")
        return str(value)
    if t == "multi_label":
        if not isinstance(value, list) or not value or any(v not in spec.values for v in value):
            raise ValueError(f"value {value!r} must be a non-empty list of {spec.values}")
        return json.dumps(sorted(set(value)))
    if t == "number":
        v = _number(value)
        if (spec.min is not None and v < spec.min) or (spec.max is not None and v > spec.max):
            raise ValueError(f"value {v} is outside [{spec.min}, {spec.max}]")
        return repr(v)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a text value must be a non-empty string")
    return value


def _shape(t: str, value: Any) -> str:
    if t == "box":
        if not isinstance(value, list) or len(value) != 4:
            raise ValueError(f"a box is [x0, y0, x1, y1], got {value!r}")
        x0, y0, x1, y1 = (_number(v) for v in value)
        if not (0 <= x0 < x1 and 0 <= y0 < y1):
            raise ValueError(f"box {value!r} needs 0 <= x0 < x1 and 0 <= y0 < y1")
        return json.dumps([x0, y0, x1, y1])
    if t == "polygon":
        if not isinstance(value, list) or len(value) < 3 or any(not isinstance(p, list) or len(p) != 2 for p in value):
            raise ValueError(f"a polygon is three or more [x, y] points, got {value!r}")
        return json.dumps([[_number(x), _number(y)] for x, y in value])
    if t == "time_span":
        if not isinstance(value, list) or len(value) != 2 or any(isinstance(v, bool) or not isinstance(v, int)
                                                                  for v in value) or value[0] >= value[1]:
            raise ValueError(f"a time span is [t0_ns, t1_ns] with integer t0 < t1, got {value!r}")
        return json.dumps(value)
    raise ValueError(f"{t} is not a shape type")


def write_labels(project: Project, labels: list[dict[str, Any]], *, schema: LabelSchema | None = None) -> LabelWrite:
    """Validate every label, write the valid ones in one commit, refuse the rest with reasons."""
    from syncline.annotate.guidelines import GuidelineError, label_version

    schema = schema or load_schema(project.root / SCHEMA_FILE)
    version = schema.content_hash()
    out = LabelWrite()
    try:
        guideline = label_version(project)
    except GuidelineError as e:  # a change after the freeze: nothing is written under an unknown version
        out.refused = [Refused(i, str(e)) for i in range(len(labels))]
        return out
    checked: list[tuple[int, dict[str, Any], FieldSpec]] = []
    for i, lab in enumerate(labels):
        try:
            checked.append((i, lab, _check(schema, lab)))
        except ValueError as e:
            out.refused.append(Refused(i, str(e)))
    targets: dict[str, dict[str, dict[str, Any]]] = {}
    with project.catalog().connect() as con:
        by_span = Q.segments_by_span(con, [(str(lab["entity_id"]), int(lab["t0_ns"]), int(lab["t1_ns"]))
                                           for _, lab, _ in checked if not lab.get("target_id")])
        for gran in {spec.granularity for _, _, spec in checked}:
            ids = sorted({_target_id(lab, by_span) for _, lab, spec in checked if spec.granularity == gran})
            targets[gran] = Q.label_targets(con, gran, ids)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for i, lab, spec in checked:
        tid = _target_id(lab, by_span)
        target = targets[spec.granularity].get(tid)
        if target is None:
            table = Q.TARGET_TABLES[spec.granularity][0]
            where = repr(tid) if lab.get("target_id") else (
                f"entity {lab['entity_id']!r} [{lab['t0_ns']}, {lab['t1_ns']}) (no segment has exactly that span)")
            out.refused.append(Refused(i, f"target {where}: no such {spec.granularity} in {table}"))
            continue
        try:
            value = _value(spec, lab.get("value"))
        except ValueError as e:
            out.refused.append(Refused(i, f"field {lab['field']!r}: {e}"))
            continue
        if spec.type == "time_span" and target["t0_ns"] is not None:
            t0, t1 = json.loads(value)[:2]
            if t0 < target["t0_ns"] or t1 > target["t1_ns"]:
                out.refused.append(Refused(i, f"field {lab['field']!r}: span [{t0}, {t1}) is outside its "
                                              f"{spec.granularity} [{target['t0_ns']}, {target['t1_ns']})"))
                continue
        if spec.type in ("box", "polygon") and target["width"] and target["height"]:
            shape = json.loads(value)
            xs = shape[0:4:2] if spec.type == "box" else [p[0] for p in shape if isinstance(p, list)]
            ys = shape[1:4:2] if spec.type == "box" else [p[1] for p in shape if isinstance(p, list)]
            if min(xs) < 0 or min(ys) < 0 or max(xs) > target["width"] or max(ys) > target["height"]:
                out.refused.append(Refused(i, f"field {lab['field']!r}: {spec.type} {shape} is outside its "
                                              f"{target['width']}x{target['height']} frame"))
                continue
        who = str(lab["annotator"])
        instance = None if lab.get("instance") is None else str(lab["instance"])
        label_id = stable_id("label", lab["field"], tid, who, *([instance] if instance is not None else []))
        if label_id in seen:
            out.refused.append(Refused(i, f"field {lab['field']!r}: the same label as record {seen[label_id] + 1} "
                                          "(same target and annotator); give each shape its own instance"))
            continue
        seen[label_id] = i
        rows.append({
            "label_id": label_id,
            "target_type": spec.granularity, "target_id": tid, "field": lab["field"], "value": value,
            "kind": spec.kind, "annotator": who, "annotator_tier": schema.annotators[who].tier, "instance": instance,
            "guideline_version": guideline or str(lab.get("guideline_version") or f"schema:{version}"),
            "confidence": None if lab.get("confidence") is None else float(lab["confidence"]),
            "asset_ids": target["asset_ids"],
            "subject_ids": target["subject_ids"],
        })
    if rows:
        project.catalog().upsert("labels", rows)
    out.written = len(rows)
    out.refused.sort(key=lambda r: r.index)
    return out


def resolve_label_ids(project: Project, refs: list[dict[str, Any]]) -> list[str | None]:
    """The label each reference names: its ``label_id``, or its field, target (an ID, or a
    segment's entity and span), annotator and instance — the parts a label ID is made of — so a
    grader's file can name labels the way the labels file did. None where it names none."""
    def span(r: dict[str, Any]) -> tuple[str, int, int] | None:
        try:
            return str(r["entity_id"]), int(r["t0_ns"]), int(r["t1_ns"])
        except (KeyError, TypeError, ValueError, OverflowError):
            return None

    wanted = [s for r in refs if not r.get("label_id") and not r.get("target_id") and (s := span(r)) is not None]
    with project.catalog().connect() as con:
        by_span = Q.segments_by_span(con, [s for s in wanted if abs(s[1]) < 2**63 and abs(s[2]) < 2**63])
    out: list[str | None] = []
    for r in refs:
        if r.get("label_id"):
            out.append(str(r["label_id"]))
            continue
        s = span(r)
        tid = r.get("target_id") or (by_span.get(s) if s else None)
        if not (tid and r.get("field") and r.get("annotator")):
            out.append(None)
            continue
        inst = [] if r.get("instance") is None else [str(r["instance"])]
        out.append(stable_id("label", r["field"], tid, str(r["annotator"]), *inst))
    return out


def _target_id(lab: dict[str, Any], by_span: dict[tuple[str, int, int], str]) -> str:
    if lab.get("target_id"):
        return str(lab["target_id"])
    return by_span.get((str(lab["entity_id"]), int(lab["t0_ns"]), int(lab["t1_ns"])), "")


def _check(schema: LabelSchema, lab: dict[str, Any]) -> FieldSpec:
    missing = [k for k in ("field", "annotator") if not lab.get(k)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    name, who = str(lab["field"]), str(lab["annotator"])
    spec = schema.fields.get(name)
    if spec is None:
        raise ValueError(f"unknown field {name!r}; fields: {', '.join(schema.fields)}")
    if not lab.get("target_id"):
        by_span = spec.granularity == "segment" and all(k in lab for k in ("entity_id", "t0_ns", "t1_ns"))
        if not by_span:
            raise ValueError("missing target_id" + (" (or entity_id, t0_ns and t1_ns of the segment)"
                                                    if spec.granularity == "segment" else ""))
        if any(isinstance(lab[k], bool) or not isinstance(lab[k], int) or abs(lab[k]) >= 2**63
               for k in ("t0_ns", "t1_ns")) or lab["t0_ns"] >= lab["t1_ns"]:
            raise ValueError(f"t0_ns and t1_ns must be integers (nanoseconds) with t0 < t1, got "
                             f"{lab['t0_ns']!r}, {lab['t1_ns']!r}")
    confidence = lab.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))
                                   or not 0 <= confidence <= 1):  # NaN fails the range too
        raise ValueError(f"confidence {confidence!r} must be a number from 0 to 1 (or left out)")
    if lab.get("instance") is not None and spec.type not in SHAPES:
        raise ValueError(f"field {name!r} ({spec.type}): only boxes, polygons and time spans have instances")
    if "kind" in lab and lab["kind"] != spec.kind:
        raise ValueError(f"field {name!r} is a {spec.kind} field; a label cannot make it {lab['kind']}")
    annotator = schema.annotators.get(who)
    if annotator is None:
        raise ValueError(f"unknown annotator {who!r}; register them under annotators in {SCHEMA_FILE}")
    if name not in annotator.fields:
        raise ValueError(f"annotator {who!r} ({annotator.tier}) is not qualified to label {name!r}; "
                         f"qualified for: {', '.join(annotator.fields) or 'nothing'}")
    return spec


def read_jsonl(path: Any) -> tuple[list[dict[str, Any]], list[Refused], list[int]]:
    """(objects, refusals for lines that are not JSON objects, the line number of each object)."""
    from pathlib import Path

    objs, bad, lines = [], [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            bad.append(Refused(n, f"not JSON ({e.msg} at column {e.colno})"))
            continue
        if not isinstance(obj, dict):
            bad.append(Refused(n, "not a JSON object"))
            continue
        objs.append(obj)
        lines.append(n)
    return objs, bad, lines


def import_jsonl(project: Project, path: Any) -> LabelWrite:
    """Labels from a JSON Lines file (one label object per line); a line that is not a JSON
    object is refused like an invalid label. ``Refused.index`` is the 0-based line number."""
    objs, bad, lines = read_jsonl(path)
    return on_lines(write_labels(project, objs), bad, lines)


def on_lines(res: LabelWrite, bad: list[Refused], lines: list[int]) -> LabelWrite:
    """``res`` of writing the objects of a JSON Lines file, its refusals renumbered by line and
    merged with the lines that were not objects."""
    res.refused = sorted([Refused(lines[r.index], r.reason) for r in res.refused] + bad, key=lambda r: r.index)
    return res


def labels_outside(project: Project, schema: LabelSchema) -> list[str]:
    """Stored labels the schema no longer describes — a field removed, a value dropped or
    renamed (classes, multi-label members, a shape's class), a value of another type than the
    field now has — one line per case with how many labels: they still count in exports,
    agreement and evaluation until relabelled or removed."""
    with project.catalog().connect(tables=("labels",)) as con:
        rows = Q.label_value_counts(con)
    gone: dict[str, int] = {}
    out: list[str] = []
    for name, value, n in rows:
        spec = schema.fields.get(name)
        if spec is None:
            gone[name] = gone.get(name, 0) + n
            continue
        why = _outside(spec, value)
        if why:
            out.append(f"{n} label(s) of {name!r} = {value!r}: {why}")
    return [f"{n} label(s) of field {name!r}, which the schema no longer has" for name, n in gone.items()] + out


def _outside(spec: FieldSpec, value: str) -> str | None:
    """Why a stored value does not fit the field as the schema now says, or None."""
    if spec.type in ("class", "ordinal"):
        return None if value in spec.values else "not one of its values any more"
    if spec.type not in ("multi_label", *SHAPES) or (spec.type in SHAPES and not spec.values):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = None
    if not isinstance(parsed, list):
        return f"stored as another type than the {spec.type} the field now is"
    if spec.type == "multi_label":
        extra = sorted({str(v) for v in parsed} - set(spec.values))
        return f"{extra} not among its values any more" if extra else None
    cls = parsed[-1] if parsed else None
    return None if cls in spec.values else f"class {cls!r} not among its values any more"
