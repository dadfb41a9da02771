"""COCO object-detection JSON, in and out, for region boxes and polygons on images.

Why COCO: it is what detection tooling reads and writes (pycocotools, CVAT, FiftyOne,
Detectron2, MMDetection). Exporting to it lets a model be scored against syncline labels with
the standard ``COCOeval``; importing from it brings a tool's boxes back under syncline's checks.

Mapping. An image is an asset (``file_name`` is its file name, ``syncline_asset_id`` its ID). A
category is a field and, for a field with classes, one class: ``{name: class, supercategory:
field}``; a field without classes is one category ``{name: field, supercategory: field}``. An
annotation is one label: ``bbox`` is ``[x, y, w, h]`` in pixels; a polygon's ``segmentation`` is
one flat ring ``[[x0, y0, x1, y1, ...]]`` (a box's is ``[]``); ``area`` is the box's or the
polygon's (shoelace) area. Keys COCO tools ignore keep what COCO has no place for: ``annotator``,
``instance`` and, when the label has one, its confidence as ``score``. A box comes back as
``[x, y, x + w, y + h]`` written as the shortest decimal that gives ``w`` back, so the box that
was exported is the box that returns.

Import takes any COCO file. An image is found by ``syncline_asset_id``, else by file name; a
category by its supercategory (a field) and name (a class), or, for files made elsewhere, by a
name that is a field without classes or a class of exactly one box/polygon field. An annotation
that cannot be a label is refused naming ``annotation <id>``; the rest is written in one commit
through ``write_labels`` (which also refuses shapes outside the image).
"""

from __future__ import annotations

import math
from typing import Any

from syncline.annotate.interop.common import (
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

REGION_SHAPES = ("box", "polygon")
Category = tuple[str, str | None]  # (field, class) — class None for a field without classes


# --- export ------------------------------------------------------------------------------------


def export_coco(project: Project, fields: list[str]) -> dict[str, Any]:
    """A COCO dataset of the current labels of ``fields`` (region box or polygon fields).

    ``images`` holds every image asset (so an image nobody boxed is a true negative) and any
    other asset a label is drawn on; a label on an asset with no frame size cannot be placed in
    pixels and is listed under ``info.syncline_skipped`` instead."""
    specs = _region_fields(schema_of(project), fields)
    items = media(project)
    categories = _categories(specs)
    cat_ids = {(c["supercategory"], c["name"]): int(c["id"]) for c in categories}
    rows = [r for r in export_rows(project, list(specs)) if r["target_type"] == "region"]
    placeable = [r for r in rows if _has_frame(items.get(r["target_id"]))]
    shown = sorted({m.asset_id for m in items.values() if m.modality == "image" and _has_frame(m)}
                   | {r["target_id"] for r in placeable})
    images = [_image(n, items[a]) for n, a in enumerate(shown, 1)]
    image_ids = {img["syncline_asset_id"]: int(img["id"]) for img in images}
    annotations = [_annotation(n, r, specs[r["field"]], image_ids, cat_ids) for n, r in enumerate(placeable, 1)]
    kept = {r["label_id"] for r in placeable}
    skipped = [{"label_id": r["label_id"], "reason": f"asset {r['target_id']} is gone or has no frame size"}
               for r in rows if r["label_id"] not in kept]
    return {"info": {"description": "syncline labels", "syncline_fields": list(specs), "syncline_skipped": skipped},
            "images": images, "categories": categories, "annotations": annotations}


def _region_fields(schema: LabelSchema, fields: list[str]) -> dict[str, FieldSpec]:
    if not fields:
        raise ValueError("name the box or polygon fields to export")
    out: dict[str, FieldSpec] = {}
    for name in fields:
        spec = schema.fields.get(name)
        if spec is None:
            raise ValueError(f"unknown field {name!r}; fields: {', '.join(schema.fields)}")
        if spec.granularity != "region" or spec.type not in REGION_SHAPES:
            raise ValueError(f"field {name!r} ({spec.granularity} {spec.type}): COCO carries only region box "
                             "and polygon fields")
        out[name] = spec
    return out


def _categories(specs: dict[str, FieldSpec]) -> list[dict[str, Any]]:
    pairs = [(f, name) for f, spec in specs.items() for name in (spec.values or [f])]
    return [{"id": n, "name": name, "supercategory": f} for n, (f, name) in enumerate(pairs, 1)]


def _has_frame(m: Media | None) -> bool:
    return m is not None and bool(m.width) and bool(m.height)


def _image(n: int, m: Media) -> dict[str, Any]:
    return {"id": n, "file_name": m.name, "width": m.width, "height": m.height, "syncline_asset_id": m.asset_id}


def _annotation(n: int, row: dict[str, Any], spec: FieldSpec, image_ids: dict[str, int],
                cat_ids: dict[tuple[str, str], int]) -> dict[str, Any]:
    value = list(row["value"])
    shape, name = (value[:-1], str(value[-1])) if spec.values else (value, row["field"])
    if spec.type == "box":
        x0, y0, x1, y1 = (float(v) for v in shape)
        bbox, segmentation, area = [x0, y0, x1 - x0, y1 - y0], [], (x1 - x0) * (y1 - y0)
    else:
        xs, ys = [float(p[0]) for p in shape], [float(p[1]) for p in shape]
        bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
        segmentation, area = [[c for x, y in zip(xs, ys, strict=True) for c in (x, y)]], _shoelace(xs, ys)
    ann = {"id": n, "image_id": image_ids[row["target_id"]], "category_id": cat_ids[(row["field"], name)],
           "bbox": bbox, "area": area, "iscrowd": 0, "segmentation": segmentation,
           "annotator": row["annotator"], "instance": row["instance"]}
    if row["confidence"] is not None:
        ann["score"] = float(row["confidence"])
    return ann


def _shoelace(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    return abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n))) / 2


# --- import ------------------------------------------------------------------------------------


def import_coco(project: Project, data: dict[str, Any], *, annotator: str | None = None) -> Imported:
    """Labels from a COCO dataset; ``annotator`` is who drew annotations that carry no
    ``annotator`` key (without it, such annotations are refused)."""
    _require_coco(data)
    schema = schema_of(project)
    images = _image_index(data["images"], media(project))
    categories = _category_index(data["categories"], schema)
    items: list[tuple[str, dict[str, Any]]] = []
    bad: list[tuple[str, str]] = []
    seen: dict[tuple[str, str, str, str | None], str] = {}
    for n, ann in enumerate(data["annotations"]):
        where = f"annotation {ann['id']}" if isinstance(ann, dict) and "id" in ann else f"annotation #{n + 1}"
        try:
            lab = _label(ann, images, categories, schema, annotator)
            _once(lab, where, seen)
        except ValueError as e:
            bad.append((where, str(e)))
            continue
        items.append((where, lab))
    return write_converted(project, items, bad, schema)


def _require_coco(data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"a COCO file is a JSON object with images, categories and annotations; got a "
                         f"{type(data).__name__}")
    missing = [k for k in ("images", "categories", "annotations") if not isinstance(data.get(k), list)]
    if missing:
        raise ValueError(f"not a COCO dataset: no list of {', '.join(missing)} (a COCO file has images, "
                         "categories and annotations lists)")


def _image_index(images: list[Any], items: dict[str, Media]) -> dict[Any, Media | str]:
    """Image ID → its asset, or why it has none (each annotation on it is refused with that)."""
    names = by_name(items)
    out: dict[Any, Media | str] = {}
    for img in images:
        if not isinstance(img, dict) or "id" not in img:
            continue  # an annotation pointing at it is refused as naming an unknown image
        try:
            out[img["id"]] = _image_asset(img, items, names)
        except ValueError as e:
            out[img["id"]] = f"image {img['id']}: {e}"
    return out


def _image_asset(img: dict[str, Any], items: dict[str, Media], names: dict[str, list[Media]]) -> Media:
    ref = img.get("syncline_asset_id")
    if ref not in items:
        ref = img.get("file_name")
    if not ref:
        raise ValueError("names no file_name (nor a syncline_asset_id of this project)")
    m = resolve(str(ref), items, names)
    w, h = img.get("width"), img.get("height")
    if m.width and m.height and w and h and (w, h) != (m.width, m.height):
        raise ValueError(f"is {w}x{h} in the file but {m.name} is {m.width}x{m.height}: its pixel coordinates "
                         "belong to another size; rescale them to the asset first")
    return m


def _category_index(categories: list[Any], schema: LabelSchema) -> dict[Any, Category | str]:
    """Category ID → (field, class), or why it matches no field."""
    shapes = {f: s for f, s in schema.fields.items() if s.granularity == "region" and s.type in REGION_SHAPES}
    out: dict[Any, Category | str] = {}
    for cat in categories:
        if isinstance(cat, dict) and "id" in cat:
            out[cat["id"]] = _category(str(cat.get("name") or ""), str(cat.get("supercategory") or ""), shapes)
    return out


def _category(name: str, sup: str, shapes: dict[str, FieldSpec]) -> Category | str:
    what = f"category {name!r} (supercategory {sup!r})"
    if sup in shapes:
        spec = shapes[sup]
        if spec.values and name in spec.values:
            return sup, name
        if not spec.values and name == sup:
            return sup, None
        allowed = f"one of {spec.values}" if spec.values else f"{sup!r}"
        return f"{what}: field {sup!r} takes names {allowed}"
    if name in shapes and not shapes[name].values:
        return name, None
    owners = [f for f, spec in shapes.items() if name in spec.values]
    if len(owners) == 1:
        return owners[0], name
    if owners:
        return f"{what}: class {name!r} belongs to fields {owners}; set supercategory to the field"
    return (f"{what} matches no region box or polygon field of labels.yaml ({', '.join(shapes) or 'none'}); "
            "set supercategory to a field and name to one of its classes")


def _label(ann: Any, images: dict[Any, Media | str], categories: dict[Any, Category | str], schema: LabelSchema,
           annotator: str | None) -> dict[str, Any]:
    if not isinstance(ann, dict):
        raise ValueError("not a JSON object")
    m = images.get(ann.get("image_id"))
    if m is None:
        raise ValueError(f"image_id {ann.get('image_id')!r} is not among the file's images")
    if isinstance(m, str):
        raise ValueError(m)
    cat = categories.get(ann.get("category_id"))
    if cat is None:
        raise ValueError(f"category_id {ann.get('category_id')!r} is not among the file's categories")
    if isinstance(cat, str):
        raise ValueError(cat)
    field, cls = cat
    who = ann.get("annotator") or annotator
    if not who:
        raise ValueError("names no annotator: add an \"annotator\" key to it or pass the annotator of the file")
    if ann.get("iscrowd"):
        raise ValueError("is a crowd region (iscrowd 1); syncline stores single boxes and polygons")
    shape = _box(ann) if schema.fields[field].type == "box" else _polygon(ann)
    lab: dict[str, Any] = {"field": field, "target_id": m.asset_id, "annotator": str(who),
           "value": [*shape, cls] if cls is not None else shape, "instance": _instance(ann)}
    if ann.get("score") is not None:
        lab["confidence"] = _finite(ann["score"], "score")
    return lab


def _instance(ann: dict[str, Any]) -> str | None:
    if "instance" not in ann:
        return f"coco-{ann.get('id')}"
    inst = ann["instance"]
    if inst is not None and not isinstance(inst, str):
        raise ValueError(f"instance {inst!r} must be a string")
    return inst


def _box(ann: dict[str, Any]) -> list[float]:
    bbox = ann.get("bbox")
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ValueError(f"bbox {bbox!r} is not [x, y, width, height]")
    x, y, w, h = (_finite(v, "bbox") for v in bbox)
    if w <= 0 or h <= 0:
        raise ValueError(f"bbox {bbox} needs a positive width and height")
    return [x, y, _end(x, w), _end(y, h)]


def _end(x: float, w: float) -> float:
    """``x + w`` as the shortest decimal whose distance from ``x`` is ``w``: the edge the box was
    exported from, not ``x + w`` with a rounding error in the last place."""
    s = x + w
    for digits in range(1, 18):
        c = float(f"{s:.{digits}g}")
        if c - x == w:
            return c
    return s


def _polygon(ann: dict[str, Any]) -> list[list[float]]:
    seg = ann.get("segmentation")
    if not isinstance(seg, list) or not seg:
        raise ValueError("has no segmentation polygon, and its field takes polygons")
    if len(seg) > 1:
        raise ValueError(f"segmentation has {len(seg)} polygons; syncline stores one polygon per label — "
                         "split it into one annotation per polygon")
    ring = seg[0]
    if not isinstance(ring, list) or len(ring) < 6 or len(ring) % 2:
        raise ValueError("segmentation is not a flat [x0, y0, x1, y1, ...] ring of three or more points")
    coords = [_finite(v, "segmentation") for v in ring]
    return [[coords[i], coords[i + 1]] for i in range(0, len(coords), 2)]


def _finite(v: Any, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"{what} holds {v!r}, not a finite number")
    return float(v)


def _once(lab: dict[str, Any], where: str, seen: dict[tuple[str, str, str, str | None], str]) -> None:
    """Two annotations that would be the same label (field, image, annotator, instance) would
    silently replace one another: the second is refused."""
    key = (lab["field"], lab["target_id"], lab["annotator"], lab["instance"])
    if key in seen:
        raise ValueError(f"is the same label as {seen[key]} (field {key[0]!r}, annotator {key[2]!r}, "
                         f"instance {key[3]!r}); give each shape its own instance")
    seen[key] = where
