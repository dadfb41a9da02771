"""Label Studio JSON, in and out: tasks with annotations, one annotation per annotator.

One task per labelled target. ``data`` names the media the tool shows (``image``, ``video`` or
``audio``, by file name) and carries syncline's keys (``syncline_target_id``,
``syncline_target_type``, ``syncline_time_base``), so an exported file comes back to the same
targets. Result types per field type::

    class, ordinal, multi_label  choices          {"choices": [...]}
    number                       number           {"number": x}
    text                         textarea         {"text": [s]}
    box                          rectanglelabels  {"x", "y", "width", "height" (% of the image), "rectanglelabels"}
    polygon                      polygonlabels    {"points": [[x%, y%], ...], "polygonlabels"}
    time_span on a video         timelinelabels   {"ranges": [{"start": frame, "end": frame}], "timelinelabels"}
    time_span on audio           labels           {"start": s, "end": s, "labels"}

``from_name`` is the field; a shape's region label is its class, or the field's name for a
field without classes; a shape's result ``id`` is its ``instance``.

Time bases: Label Studio counts in player time of the media it shows — seconds for audio,
1-based frame numbers for the video timeline (frame ``f`` covers ``[(f-1)/fps, f/fps)``).
syncline converts through the asset's clock (``interop.common``). Round trips are exact for
seconds (float64 holds nanoseconds of hours exactly) and for frame-aligned spans; a span that
is not frame-aligned is widened to whole frames on export. Percent coordinates come back to
pixels rounded to 1e-6 px.

Annotators: ``completed_by`` is a number in Label Studio. Exports add ``syncline_annotator``;
imports of files made elsewhere map ``completed_by`` (an ID or an e-mail) with
``annotator_map``. A record that cannot be converted is refused with its task, annotation and
result named; the rest is written in one commit.
"""

from __future__ import annotations

import math
from typing import Any

from syncline.annotate.interop.common import (
    NS,
    Imported,
    Media,
    by_name,
    export_rows,
    media,
    resolve,
    schema_of,
    write_converted,
)
from syncline.annotate.schema import FieldSpec, LabelSchema
from syncline.project import Project

CHOICE_TYPES = ("class", "ordinal", "multi_label")
MEDIA_KEYS = ("video", "audio", "image")


def export_label_studio(project: Project, fields: list[str] | None = None,
                        skipped: list[str] | None = None) -> list[dict[str, Any]]:
    """Label Studio tasks for the current labels of ``fields`` (all when None). A label that no
    file can show (a span outside the entity's time-base video or audio, a box on an asset with
    no size) is left out and named in ``skipped``."""
    schema = schema_of(project)
    items = media(project)
    bases = _time_bases(items)
    tasks: dict[str, dict[str, Any]] = {}
    people: dict[str, int] = {}
    for row in export_rows(project, fields):
        spec = schema.fields.get(row["field"])
        if spec is None:
            continue
        task = tasks.get(row["target_id"])
        if task is None:
            task = tasks[row["target_id"]] = _task(len(tasks) + 1, row, items, bases)
        who = row["annotator"]
        ann = next((a for a in task["annotations"] if a["syncline_annotator"] == who), None)
        if ann is None:
            ann = {"id": len(task["annotations"]) + 1, "completed_by": people.setdefault(who, len(people) + 1),
                   "syncline_annotator": who, "result": []}
            task["annotations"].append(ann)
        base = items.get(task["data"].get("syncline_time_base") or task["data"].get("syncline_asset_id") or "")
        try:
            ann["result"].append(_result(row, spec, base))
        except ValueError as e:
            if skipped is None:
                raise
            skipped.append(str(e))
    return list(tasks.values())


def _time_bases(items: dict[str, Media]) -> dict[str, Media]:
    """Per entity, the media a timeline is shown on: its first video by name, else its first audio."""
    out: dict[str, Media] = {}
    for m in sorted(items.values(), key=lambda m: (m.modality != "video", m.name)):
        if m.modality in ("video", "audio") and m.entity_id not in out:
            out[m.entity_id] = m
    return out


def _task(n: int, row: dict[str, Any], items: dict[str, Media], bases: dict[str, Media]) -> dict[str, Any]:
    data: dict[str, Any] = {"syncline_target_id": row["target_id"], "syncline_target_type": row["target_type"],
                            "entity_id": row["entity_id"]}
    shown = items.get(row["target_id"]) if row["target_type"] == "region" else bases.get(row["entity_id"] or "")
    if shown is not None:
        data[shown.modality if shown.modality in MEDIA_KEYS else "image"] = shown.name
        data["syncline_asset_id" if row["target_type"] == "region" else "syncline_time_base"] = shown.asset_id
    if row["segment_t0_ns"] is not None:
        data["syncline_t0_ns"], data["syncline_t1_ns"] = row["segment_t0_ns"], row["segment_t1_ns"]
    return {"id": n, "data": data, "annotations": []}


def _region_name(spec: FieldSpec, value: list[Any], field: str) -> tuple[list[Any], list[str]]:
    if spec.values:
        return value[:-1], [str(value[-1])]
    return value, [field]


def _result(row: dict[str, Any], spec: FieldSpec, base: Media | None) -> dict[str, Any]:
    field, value, t = row["field"], row["value"], spec.type
    out: dict[str, Any] = {"from_name": field, "to_name": _to_name(base)}
    if t in CHOICE_TYPES:
        return out | {"type": "choices", "value": {"choices": value if t == "multi_label" else [value]}}
    if t == "number":
        return out | {"type": "number", "value": {"number": float(value)}}
    if t == "text":
        return out | {"type": "textarea", "value": {"text": [value]}}
    shape, names = _region_name(spec, value, field)
    if row["instance"] is not None:
        out["id"] = row["instance"]
    if t in ("box", "polygon"):
        if base is None or not base.width or not base.height:
            raise ValueError(f"label {row['label_id']}: a {t} needs its image's size, and the asset has none")
        w, h = float(base.width), float(base.height)
        out |= {"original_width": base.width, "original_height": base.height, "image_rotation": 0}
        if t == "box":
            x0, y0, x1, y1 = shape
            return out | {"type": "rectanglelabels", "value": {
                "x": x0 / w * 100, "y": y0 / h * 100, "width": (x1 - x0) / w * 100, "height": (y1 - y0) / h * 100,
                "rotation": 0, "rectanglelabels": names}}
        return out | {"type": "polygonlabels", "value": {"points": [[x / w * 100, y / h * 100] for x, y in shape],
                                                         "polygonlabels": names}}
    if base is None:
        raise ValueError(f"label {row['label_id']}: entity {row['entity_id']} has no video or audio to show a span on")
    p0, p1 = base.to_player(int(shape[0])), base.to_player(int(shape[1]))
    if not (base.fits(p0) and base.fits(p1)):
        raise ValueError(f"label {row['label_id']}: its span is outside {base.name}, the file the entity's "
                         "timeline is shown on")
    if base.modality == "video" and base.fps:
        f0, f1 = math.floor(p0 * base.fps / NS + 1e-6) + 1, math.ceil(p1 * base.fps / NS - 1e-6)
        return out | {"type": "timelinelabels", "value": {"ranges": [{"start": f0, "end": max(f0, f1)}],
                                                          "timelinelabels": names}}
    return out | {"type": "labels", "value": {"start": p0 / NS, "end": p1 / NS, "channel": 0, "labels": names}}


def _to_name(base: Media | None) -> str:
    return base.modality if base is not None and base.modality in MEDIA_KEYS else "image"


# --- import -------------------------------------------------------------------------------------


def import_label_studio(project: Project, tasks: Any, *, annotator_map: dict[str, str] | None = None) -> Imported:
    """Labels from a Label Studio JSON export (a list of tasks)."""
    if not isinstance(tasks, list):
        raise ValueError("a Label Studio export is a JSON list of tasks, each with data and annotations")
    schema = schema_of(project)
    items = media(project)
    ctx = _Ctx(schema, items, by_name(items), {str(k): v for k, v in (annotator_map or {}).items()})
    converted: list[tuple[str, dict[str, Any]]] = []
    bad: list[tuple[str, str]] = []
    for n, task in enumerate(tasks):
        where = f"task {task.get('id', n + 1) if isinstance(task, dict) else n + 1}"
        try:
            target, base = _target(task, ctx)
        except ValueError as e:
            bad.append((where, str(e)))
            continue
        anns = task.get("annotations") or []
        if not isinstance(anns, list):
            bad.append((where, "annotations must be a list"))
            continue
        for a, ann in enumerate(anns):
            here = f"{where} annotation {ann.get('id', a + 1) if isinstance(ann, dict) else a + 1}"
            try:
                who = _annotator(ann, ctx)
            except ValueError as e:
                bad.append((here, str(e)))
                continue
            results = ann.get("result") or []
            if not isinstance(results, list):
                bad.append((here, "result must be a list"))
                continue
            for r, res in enumerate(results):
                there = f"{here} result {res.get('id', r + 1) if isinstance(res, dict) else r + 1}"
                try:
                    converted.append((there, _label(res, target, base, who, ctx)))
                except (ValueError, KeyError, TypeError, OverflowError) as e:
                    bad.append((there, _why(e)))
    return write_converted(project, converted, bad, schema)


class _Ctx:
    def __init__(self, schema: LabelSchema, items: dict[str, Media], names: dict[str, list[Media]],
                 people: dict[str, str]) -> None:
        self.schema, self.items, self.names, self.people = schema, items, names, people


def _why(e: Exception) -> str:
    return f"missing key {e}" if isinstance(e, KeyError) else str(e)


def _target(task: Any, ctx: _Ctx) -> tuple[dict[str, Any], Media | None]:
    """What the task's labels attach to, and the media its times count on."""
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise ValueError("not a Label Studio task (no data object)")
    data = task["data"]
    ref = data.get("syncline_time_base") or data.get("syncline_asset_id") or next(
        (data[k] for k in MEDIA_KEYS if data.get(k)), None)
    base = resolve(str(ref), ctx.items, ctx.names) if ref else None
    if data.get("syncline_target_id"):
        return {"target_id": str(data["syncline_target_id"])}, base
    if base is None:
        raise ValueError("the task names no syncline_target_id and no video, audio or image the catalog knows")
    return {"asset": base}, base


def _annotator(ann: Any, ctx: _Ctx) -> str:
    if not isinstance(ann, dict):
        raise ValueError("not an annotation object")
    if ann.get("syncline_annotator"):
        return str(ann["syncline_annotator"])
    by = ann.get("completed_by")
    keys = [str(by.get("email")), str(by.get("id"))] if isinstance(by, dict) else [str(by)]
    for k in keys:
        if k in ctx.people:
            return ctx.people[k]
        if k in ctx.schema.annotators:
            return k
    raise ValueError(f"completed_by {keys[0]!r} is no registered annotator; "
                     f"map it, e.g. --annotator-map {keys[0]}=NAME")


def _label(res: Any, target: dict[str, Any], base: Media | None, who: str, ctx: _Ctx) -> dict[str, Any]:
    if not isinstance(res, dict) or not isinstance(res.get("value"), dict):
        raise ValueError("not a result object with a value")
    field = str(res.get("from_name"))
    spec = ctx.schema.fields.get(field)
    if spec is None:
        raise ValueError(f"from_name {field!r} is no field of the label schema")
    lab: dict[str, Any] = {"field": field, "annotator": who, "value": _value(res, spec, field, base)}
    if "target_id" in target:
        lab["target_id"] = target["target_id"]
    elif spec.granularity == "region":
        lab["target_id"] = target["asset"].asset_id
    elif spec.granularity in ("entity", "sequence"):
        lab["target_id"] = target["asset"].entity_id
    else:
        raise ValueError(f"field {field!r} labels {spec.granularity}s; the task needs a syncline_target_id")
    if spec.type in ("box", "polygon", "time_span") and res.get("id"):
        lab["instance"] = str(res["id"])
    return lab


def _value(res: dict[str, Any], spec: FieldSpec, field: str, base: Media | None) -> Any:
    v, t = res["value"], spec.type
    if t in CHOICE_TYPES:
        choices = v["choices"]
        return list(choices) if t == "multi_label" else (choices[0] if len(choices) == 1 else choices)
    if t == "number":
        return v["number"]
    if t == "text":
        text = v["text"]
        return "\n".join(text) if isinstance(text, list) else text
    names: Any = next((v[k] for k in ("rectanglelabels", "polygonlabels", "timelinelabels", "labels") if k in v), [])
    cls = _class(names, spec, field)
    if t in ("box", "polygon"):
        w, h = _size(res, base)
        if t == "box":
            x, y = float(v["x"]) * w / 100, float(v["y"]) * h / 100
            shape: list[Any] = [_px(x), _px(y), _px(x + float(v["width"]) * w / 100),
                                _px(y + float(v["height"]) * h / 100)]
            if float(v.get("rotation") or 0):
                raise ValueError("a rotated rectangle is not a box; un-rotate it or label a polygon")
        else:
            shape = [[_px(float(px) * w / 100), _px(float(py) * h / 100)] for px, py in v["points"]]
        return shape + cls
    if base is None:
        raise ValueError("a time span needs the video or audio it was drawn on (data.video or data.audio)")
    if "ranges" in v:
        if not base.fps:
            raise ValueError(f"{base.name} has no frame rate to turn frame numbers into time")
        ranges = v["ranges"]
        if len(ranges) != 1:
            raise ValueError(f"a time span is one range, got {len(ranges)}; split it into one region per range")
        f0, f1 = int(ranges[0]["start"]), int(ranges[0]["end"])
        p0, p1 = round((f0 - 1) * NS / base.fps), round(f1 * NS / base.fps)
    else:
        p0, p1 = round(float(v["start"]) * NS), round(float(v["end"]) * NS)
    if not (base.fits(p0) and base.fits(p1)) or p1 <= p0:
        raise ValueError(f"span [{p0 / NS:.3f}, {p1 / NS:.3f}) s is not a forward span inside {base.name} "
                         f"(0 to {(base.duration_ns or 0) / NS:.3f} s)")
    return [base.to_entity(p0), base.to_entity(p1)] + cls


def _class(found: Any, spec: FieldSpec, field: str) -> list[str]:
    names: list[Any] = list(found) if isinstance(found, list) else [found]
    if not spec.values:
        if names and names != [field]:
            raise ValueError(f"field {field!r} has no classes; its regions are labelled {field!r}, got {names}")
        return []
    if len(names) != 1:
        raise ValueError(f"a region of {field!r} has one class of {spec.values}, got {names}")
    return [str(names[0])]


def _size(res: dict[str, Any], base: Media | None) -> tuple[float, float]:
    w = (base.width if base else None) or res.get("original_width")  # percent of the image itself,
    h = (base.height if base else None) or res.get("original_height")  # whatever size a tool showed
    if not w or not h:
        raise ValueError("percent coordinates need the image size (original_width/height or a known image)")
    return float(w), float(h)


def _px(x: float) -> float:
    return round(x, 6) + 0.0
