"""COCO in and out: region boxes and polygons on real images become a COCO dataset that
pycocotools reads and scores against itself at AP 1.0; it comes back into a fresh project with
the same media label for label; and a file made elsewhere imports its valid annotations while
each bad one is refused naming ``annotation <id>``."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.draw
import yaml
from mediafiles import make_image, make_tone
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from syncline.annotate.interop.coco import export_coco, import_coco
from syncline.annotate.labels import write_labels
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

SCHEMA = {
    "version": 1,
    "fields": {
        "injury": {"kind": "perception", "granularity": "region", "type": "box"},
        "animal": {"kind": "perception", "granularity": "region", "type": "box", "values": ["cow", "calf"]},
        "outline": {"kind": "perception", "granularity": "region", "type": "polygon", "values": ["cow", "calf"]},
        "call": {"kind": "perception", "granularity": "entity", "type": "time_span"},
    },
    "annotators": {
        "vet-a": {"tier": "expert", "fields": ["injury", "animal", "outline", "call"]},
        "crowd-c": {"tier": "crowd", "fields": ["injury", "animal"]},
    },
}
FIELDS = ["injury", "animal", "outline"]
A_SIZE, B_SIZE = (160, 120), (200, 100)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of real media, ingested by every project of this module (same asset IDs)."""
    root = tmp_path_factory.mktemp("coco-media")
    stall = root / "stall-1"
    stall.mkdir()
    make_image(stall, "a.png", size=A_SIZE)
    make_image(stall, "b.jpg", size=B_SIZE)
    make_tone(stall, "mic.wav", seconds=2.0)
    return root


def _project(root: Path, media_dir: Path) -> tuple[Project, dict[str, str]]:
    p = init_project(root)
    ingest(p, [media_dir])
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    assets = {Path(r["source_path"]).name: r["asset_id"] for r in p.catalog().read("assets").to_pylist()}
    return p, assets


def _truth(assets: dict[str, str]) -> list[dict[str, Any]]:
    a, b = assets["a.png"], assets["b.jpg"]
    return [
        {"field": "injury", "target_id": a, "annotator": "vet-a", "instance": "i1", "value": [10, 20, 40, 60]},
        {"field": "injury", "target_id": a, "annotator": "vet-a", "instance": "i2", "value": [12.25, 30.1, 50.3, 70.7],
         "confidence": 0.75},
        {"field": "injury", "target_id": a, "annotator": "crowd-c", "value": [5, 5, 25, 25]},  # no instance
        {"field": "animal", "target_id": b, "annotator": "vet-a", "instance": "c1", "value": [0, 0, 100, 50, "cow"]},
        {"field": "animal", "target_id": b, "annotator": "vet-a", "instance": "c2",
         "value": [120.5, 10, 199, 99.9, "calf"]},
        {"field": "animal", "target_id": b, "annotator": "crowd-c", "instance": "c1",
         "value": [5.52, 4.48, 52.74, 49.38, "cow"]},  # x + (x1 - x) != x1 in floating point
        {"field": "outline", "target_id": a, "annotator": "vet-a", "instance": "p1",
         "value": [[10, 10], [60, 10], [60, 50], [10, 50], "cow"]},
        {"field": "outline", "target_id": a, "annotator": "vet-a", "instance": "p2",
         "value": [[100, 20], [150, 20], [125, 100], "calf"]},
    ]


@pytest.fixture()
def labelled(tmp_path: Path, media_dir: Path) -> tuple[Project, dict[str, str]]:
    p, assets = _project(tmp_path / "p", media_dir)
    res = write_labels(p, _truth(assets))
    assert res.written == 8 and not res.refused, res.refused
    return p, assets


def _rows(p: Project) -> list[tuple[Any, ...]]:
    keep = ("field", "target_id", "annotator", "instance", "value", "confidence", "kind", "target_type")
    return sorted(tuple(r[k] for k in keep) for r in p.catalog().read("labels").to_pylist())


def _by_instance(coco: dict[str, Any]) -> dict[tuple[str, str, str | None], dict[str, Any]]:
    cats = {c["id"]: c for c in coco["categories"]}
    return {(cats[a["category_id"]]["supercategory"], a["annotator"], a["instance"]): a for a in coco["annotations"]}


def _normal(coco: dict[str, Any]) -> dict[str, Any]:
    """The dataset with every numeric ID replaced by what it points at, lists sorted."""
    images = {i["id"]: i["file_name"] for i in coco["images"]}
    cats = {c["id"]: (c["supercategory"], c["name"]) for c in coco["categories"]}
    anns = [json.dumps({**{k: v for k, v in a.items() if k != "id"}, "image_id": images[a["image_id"]],
                        "category_id": cats[a["category_id"]]}, sort_keys=True) for a in coco["annotations"]]
    return {"info": coco["info"], "images": sorted(json.dumps({k: v for k, v in i.items() if k != "id"},
                                                              sort_keys=True) for i in coco["images"]),
            "categories": sorted(cats.values()), "annotations": sorted(anns)}


def test_export_maps_images_categories_and_shapes_to_coco(labelled: tuple[Project, dict[str, str]]) -> None:
    p, assets = labelled
    coco = export_coco(p, FIELDS)
    images = {i["file_name"]: i for i in coco["images"]}
    assert sorted(images) == ["a.png", "b.jpg"]  # the WAV has no frame: not an image
    assert (images["a.png"]["width"], images["a.png"]["height"]) == A_SIZE
    assert (images["b.jpg"]["width"], images["b.jpg"]["height"]) == B_SIZE
    assert images["b.jpg"]["syncline_asset_id"] == assets["b.jpg"]
    assert [(c["supercategory"], c["name"]) for c in coco["categories"]] == [
        ("injury", "injury"), ("animal", "cow"), ("animal", "calf"), ("outline", "cow"), ("outline", "calf")]
    anns = _by_instance(coco)
    assert len(anns) == 8 and coco["info"]["syncline_skipped"] == []
    box = anns[("injury", "vet-a", "i2")]
    assert box["bbox"] == pytest.approx([12.25, 30.1, 50.3 - 12.25, 70.7 - 30.1])
    assert box["area"] == pytest.approx((50.3 - 12.25) * (70.7 - 30.1)) and box["segmentation"] == []
    assert box["score"] == 0.75 and box["iscrowd"] == 0 and box["image_id"] == images["a.png"]["id"]
    assert anns[("injury", "crowd-c", None)]["bbox"] == [5, 5, 20, 20]
    calf = anns[("animal", "vet-a", "c2")]
    assert {c["id"]: c["name"] for c in coco["categories"]}[calf["category_id"]] == "calf"
    tri = anns[("outline", "vet-a", "p2")]
    assert tri["segmentation"] == [[100, 20, 150, 20, 125, 100]]
    assert tri["bbox"] == [100, 20, 50, 80] and tri["area"] == 2000  # half of 50 x 80
    assert anns[("outline", "vet-a", "p1")]["area"] == 50 * 40


def test_pycocotools_reads_the_export_and_scores_it_against_itself_at_ap_1(
        labelled: tuple[Project, dict[str, str]], tmp_path: Path) -> None:
    p, _ = labelled
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(export_coco(p, FIELDS)), encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(path))
    assert len(gt.getImgIds()) == 2 and len(gt.getAnnIds()) == 8
    for ann in gt.loadAnns(gt.getAnnIds(catIds=gt.getCatIds(supNms=["outline"]))):
        mask = gt.annToMask(ann).astype(bool)  # pycocotools' rasterisation of the exported ring
        ring = np.array(ann["segmentation"][0], float).reshape(-1, 2)
        ours = np.zeros_like(mask)
        ours[skimage.draw.polygon(ring[:, 1], ring[:, 0], mask.shape)] = True  # scikit-image's, of the same ring
        assert (mask & ours).sum() / (mask | ours).sum() > 0.95
        assert abs(int(mask.sum()) - ann["area"]) <= 0.02 * ann["area"]
    assert _ap(gt, gt.loadAnns(gt.getAnnIds()), "bbox") == pytest.approx(1.0)
    assert _ap(gt, gt.loadAnns(gt.getAnnIds(catIds=gt.getCatIds(supNms=["outline"]))), "segm") == pytest.approx(1.0)
    moved = [dict(a, bbox=[a["bbox"][0] + a["bbox"][2] / 2, *a["bbox"][1:]]) for a in gt.loadAnns(gt.getAnnIds())]
    assert _ap(gt, moved, "bbox") < 0.5  # the check can fail: boxes shifted by half their width


def _ap(gt: COCO, anns: list[dict[str, Any]], iou: str) -> float:
    """COCO AP@[.5:.95] of ``anns`` as detections (score 1) against ``gt``."""
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": list(a["bbox"]), "score": 1.0,
             **({"segmentation": a["segmentation"]} if iou == "segm" else {})} for a in anns]
    with contextlib.redirect_stdout(io.StringIO()):
        ev = COCOeval(gt, gt.loadRes(dets), iou)
        ev.params.catIds = sorted({d["category_id"] for d in dets})
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])


def test_export_import_into_a_fresh_project_gives_the_same_labels_and_the_same_file(
        labelled: tuple[Project, dict[str, str]], tmp_path: Path, media_dir: Path) -> None:
    p, _ = labelled
    first = export_coco(p, FIELDS)
    fresh, _ = _project(tmp_path / "fresh", media_dir)
    res = import_coco(fresh, json.loads(json.dumps(first)))  # through JSON text, as a file would go
    assert (res.written, res.refused) == (8, [])
    assert _rows(fresh) == _rows(p)
    assert _normal(export_coco(fresh, FIELDS)) == _normal(first)


def _foreign(assets: dict[str, str]) -> dict[str, Any]:
    """A COCO file made by another tool: images by file name only, categories by class name."""
    return {
        "images": [{"id": 1, "file_name": "stall-1/a.png", "width": 160, "height": 120},
                   {"id": 2, "file_name": "nope.png", "width": 160, "height": 120},
                   {"id": 3, "file_name": "b.jpg", "width": 400, "height": 200}],
        "categories": [{"id": 1, "name": "cow", "supercategory": "animal"},
                       {"id": 2, "name": "injury", "supercategory": "lesion"},
                       {"id": 3, "name": "zebra", "supercategory": "animal"},
                       {"id": 4, "name": "calf", "supercategory": "mammal"},
                       {"id": 5, "name": "cow", "supercategory": "outline"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40], "annotator": "vet-a"},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 160, 120], "annotator": "crowd-c"},
            {"id": 3, "image_id": 99, "category_id": 1, "bbox": [10, 20, 30, 40], "annotator": "vet-a"},
            {"id": 4, "image_id": 1, "category_id": 3, "bbox": [10, 20, 30, 40], "annotator": "vet-a"},
            {"id": 5, "image_id": 1, "category_id": 1, "bbox": [10, 20, 0, 40], "annotator": "vet-a"},
            {"id": 6, "image_id": 1, "category_id": 1, "bbox": [150, 100, 30, 30], "annotator": "vet-a"},
            {"id": 7, "image_id": 1, "category_id": 2, "bbox": [1, 2, 3, 4]},
            {"id": 8, "image_id": 1, "category_id": 42, "bbox": [10, 20, 30, 40], "annotator": "vet-a"},
            {"id": 9, "image_id": 1, "category_id": 5, "annotator": "crowd-c",
             "segmentation": [[10, 10, 50, 10, 30, 40]], "bbox": [10, 10, 40, 30]},
            {"id": 10, "image_id": 2, "category_id": 1, "bbox": [10, 20, 30, 40], "annotator": "vet-a"},
            {"id": 11, "image_id": 3, "category_id": 1, "bbox": [10, 20, 30, 40], "annotator": "vet-a"},
            {"id": 12, "image_id": 1, "category_id": 4, "bbox": [10, 20, 30, 40], "annotator": "vet-a"},
        ],
    }


def test_import_writes_the_valid_annotations_and_refuses_each_bad_one_by_id(
        tmp_path: Path, media_dir: Path) -> None:
    p, assets = _project(tmp_path / "p", media_dir)
    res = import_coco(p, _foreign(assets))
    assert res.written == 2
    why = dict(res.refused)
    assert sorted(why, key=lambda w: int(w.split()[1])) == [f"annotation {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11,
                                                                                      12)]
    assert "image_id 99" in why["annotation 3"]
    assert "'zebra'" in why["annotation 4"] and "one of ['cow', 'calf']" in why["annotation 4"]
    assert "positive width and height" in why["annotation 5"]
    assert "outside its 160x120 frame" in why["annotation 6"]
    assert "no annotator" in why["annotation 7"]
    assert "category_id 42" in why["annotation 8"]
    assert "not qualified to label 'outline'" in why["annotation 9"]
    assert "no asset named 'nope.png'" in why["annotation 10"]
    assert "400x200" in why["annotation 11"] and "200x100" in why["annotation 11"]
    assert "belongs to fields ['animal', 'outline']" in why["annotation 12"]
    a = assets["a.png"]
    assert _rows(p) == sorted([
        ("animal", a, "vet-a", "coco-1", json.dumps([10.0, 20.0, 40.0, 60.0, "cow"]), None, "perception", "region"),
        ("injury", a, "crowd-c", "coco-2", json.dumps([0.0, 0.0, 160.0, 120.0]), None, "perception", "region"),
    ])
    again = import_coco(p, {**_foreign(assets), "annotations": [_foreign(assets)["annotations"][6]]},
                        annotator="crowd-c")  # annotation 7 with the file's annotator given
    assert (again.written, again.refused) == (1, [])
    assert ("injury", a, "crowd-c", "coco-7", json.dumps([1.0, 2.0, 4.0, 6.0]), None, "perception",
            "region") in _rows(p)


def test_a_dict_that_is_not_coco_and_a_field_coco_cannot_carry_are_errors(
        labelled: tuple[Project, dict[str, str]]) -> None:
    p, _ = labelled
    with pytest.raises(ValueError, match="no list of categories, annotations"):
        import_coco(p, {"images": []})
    with pytest.raises(ValueError, match="no list of images, categories, annotations"):
        import_coco(p, {"tasks": [1]})
    with pytest.raises(ValueError, match="got a list"):
        import_coco(p, [])  # type: ignore[arg-type]  # a list, as a Label Studio file is
    with pytest.raises(ValueError, match=r"'call' \(entity time_span\): COCO carries only region"):
        export_coco(p, ["call"])
    with pytest.raises(ValueError, match="unknown field 'mood'"):
        export_coco(p, ["mood"])
    assert len(_rows(p)) == 8  # nothing written by the failed imports
