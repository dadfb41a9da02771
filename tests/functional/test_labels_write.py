"""Labels go into the catalog only through the schema: kind from the schema, qualified
annotators only, values of the field's type, real targets, spans inside their segment; the
valid rest of a file is imported in one commit and each refusal names its line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mediafiles import make_tone

from syncline.align.segment import run_segmenters
from syncline.annotate.labels import import_jsonl, write_labels
from syncline.annotate.schema import SchemaError, load_schema
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

SCHEMA = {
    "version": 1,
    "fields": {
        "animal_state": {"kind": "perception", "type": "ordinal", "values": ["calm", "restless", "distressed"]},
        "action": {"kind": "judgment", "type": "class", "values": ["alert_vet", "watch", "ignore"]},
        "nearby": {"kind": "perception", "type": "multi_label", "values": ["cart", "person", "dog"], "context": True},
        "injury": {"kind": "perception", "granularity": "region", "type": "box"},
        "call": {"kind": "perception", "type": "time_span"},
        "temperature": {"kind": "perception", "type": "number", "min": 30, "max": 45},
    },
    "annotators": {
        "vet-a": {"tier": "expert", "fields": ["animal_state", "action", "nearby", "injury", "call", "temperature"]},
        "crowd-c": {"tier": "crowd", "fields": ["animal_state", "nearby", "call"]},
    },
}


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Project, list[dict[str, Any]], str]:
    data = tmp_path / "data" / "stall-1"
    data.mkdir(parents=True)
    make_tone(data, "mic.wav", seconds=20.0)
    p = init_project(tmp_path / "p")
    ingest(p, [data.parent])
    run_segmenters(p, ["fixed"], window_s=10.0)
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    segs = sorted(p.catalog().read("segments").to_pylist(), key=lambda s: s["t0_ns"])
    asset = p.catalog().read("assets").to_pylist()[0]["asset_id"]
    return p, segs, asset


def test_valid_labels_are_written_with_their_kind_and_the_rest_refused_with_reasons(
        project: tuple[Project, list[dict[str, Any]], str]) -> None:
    p, segs, asset = project
    s0, s1 = segs[0], segs[1]
    labels = [
        {"field": "animal_state", "target_id": s0["segment_id"], "annotator": "vet-a", "value": "restless"},
        {"field": "action", "target_id": s0["segment_id"], "annotator": "vet-a", "value": "watch"},
        {"field": "nearby", "target_id": s0["segment_id"], "annotator": "crowd-c", "value": ["person", "cart"]},
        {"field": "injury", "target_id": asset, "annotator": "vet-a", "value": [10, 20, 40, 60]},
        {"field": "call", "target_id": s1["segment_id"], "annotator": "crowd-c",
         "value": [s1["t0_ns"] + 1_000_000_000, s1["t0_ns"] + 2_000_000_000]},
        {"field": "temperature", "target_id": s0["segment_id"], "annotator": "vet-a", "value": 38.5},
        # refused:
        {"field": "action", "target_id": s0["segment_id"], "annotator": "crowd-c", "value": "alert_vet"},
        {"field": "animal_state", "target_id": s0["segment_id"], "annotator": "vet-a", "value": "asleep"},
        {"field": "animal_state", "target_id": "no-such-segment", "annotator": "vet-a", "value": "calm"},
        {"field": "call", "target_id": s0["segment_id"], "annotator": "vet-a", "value": [0, s0["t1_ns"] + 5]},
        {"field": "mood", "target_id": s0["segment_id"], "annotator": "vet-a", "value": "ok"},
        {"field": "action", "target_id": s0["segment_id"], "annotator": "vet-a", "value": "watch",
         "kind": "perception"},
        {"field": "temperature", "target_id": s0["segment_id"], "annotator": "vet-a", "value": 99},
        {"field": "injury", "target_id": asset, "annotator": "vet-a", "value": [40, 20, 10, 60]},
        {"field": "animal_state", "target_id": s0["segment_id"], "annotator": "intern", "value": "calm"},
        {"field": "animal_state", "target_id": s1["segment_id"], "annotator": "vet-a", "value": "calm",
         "confidence": "sure"},
        {"field": "animal_state", "target_id": s1["segment_id"], "annotator": "crowd-c", "value": "calm",
         "confidence": 7},
    ]
    res = write_labels(p, labels)
    assert res.written == 6
    reasons = {r.index: r.reason for r in res.refused}
    assert sorted(reasons) == list(range(6, 17))
    assert "confidence 'sure' must be a number from 0 to 1" in reasons[15] and "confidence 7" in reasons[16]
    assert "not qualified to label 'action'" in reasons[6] and "crowd" in reasons[6]
    assert "'asleep' is not one of" in reasons[7]
    assert "no such segment" in reasons[8]
    assert "outside its segment" in reasons[9]
    assert "unknown field 'mood'" in reasons[10]
    assert "is a judgment field" in reasons[11]
    assert "outside [30.0, 45.0]" in reasons[12]
    assert "0 <= x0 < x1" in reasons[13]
    assert "unknown annotator 'intern'" in reasons[14]
    rows = {r["field"]: r for r in p.catalog().read("labels").to_pylist()}
    assert rows["action"]["kind"] == "judgment" and rows["animal_state"]["kind"] == "perception"
    assert json.loads(rows["nearby"]["value"]) == ["cart", "person"] and rows["nearby"]["annotator_tier"] == "crowd"
    assert rows["injury"]["target_type"] == "region" and rows["injury"]["asset_ids"] == [asset]
    assert rows["animal_state"]["asset_ids"] == segs[0]["asset_ids"]  # provenance from the target
    assert rows["animal_state"]["guideline_version"].startswith("schema:")


def test_relabelling_replaces_and_a_fully_bad_batch_writes_nothing(
        project: tuple[Project, list[dict[str, Any]], str]) -> None:
    p, segs, _ = project
    seg = segs[0]["segment_id"]
    write_labels(p, [{"field": "animal_state", "target_id": seg, "annotator": "vet-a", "value": "calm"}])
    write_labels(p, [{"field": "animal_state", "target_id": seg, "annotator": "vet-a", "value": "distressed"}])
    assert [r["value"] for r in p.catalog().read("labels").to_pylist()] == ["distressed"]
    before = p.catalog().version("labels")
    res = write_labels(p, [{"field": "animal_state", "target_id": seg, "annotator": "crowd-c", "value": "x"}])
    assert res.written == 0 and len(res.refused) == 1 and p.catalog().version("labels") == before


def test_a_jsonl_file_imports_the_valid_lines_and_names_the_bad_ones(
        project: tuple[Project, list[dict[str, Any]], str], tmp_path: Path) -> None:
    p, segs, _ = project
    seg = segs[0]["segment_id"]
    lines = [json.dumps({"field": "animal_state", "target_id": seg, "annotator": "vet-a", "value": "calm"}),
             "{not json", "[1, 2]", "",
             json.dumps({"field": "action", "target_id": seg, "annotator": "crowd-c", "value": "watch"})]
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = import_jsonl(p, path)
    assert res.written == 1 and [r.index for r in res.refused] == [1, 2, 4]
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "labels", "import", str(path), "-p", str(p.root),
                          "--json"], capture_output=True, text=True)
    assert cli.returncode == 0 and [r["record"] for r in json.loads(cli.stdout)["refused"]] == ["line 2", "line 3",
                                                                                               "line 5"]


def test_the_schema_reports_every_problem_at_once(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(SCHEMA))
    bad["fields"]["action"]["kind"] = "both"
    bad["fields"]["temperature"]["values"] = ["a", "b"]
    bad["annotators"]["crowd-c"]["fields"].append("ghost")
    path = tmp_path / "labels.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    text = "\n".join(info.value.problems)
    assert "fields.action.kind" in text and "'both'" in text
    assert "takes no list of values" in text
    assert len(info.value.problems) >= 2
    for change, says in (({"min": 50, "max": 40}, "min 50.0 is above max 40.0"),
                         ({"synonyms": {"calm": ["restless"]}}, "synonym 'restless' of 'calm' is itself a value"),
                         ({"synonyms": {"calm": ["quiet"], "restless": ["quiet"]}},
                          "synonym 'quiet' is given for both 'calm' and 'restless'"),
                         ({"min": 0}, "min and max bound number fields, not ordinal fields")):
        odd = json.loads(json.dumps(SCHEMA))
        field = "temperature" if "max" in change else "animal_state"
        odd["fields"][field].update(change)
        path.write_text(yaml.safe_dump(odd), encoding="utf-8")
        with pytest.raises(SchemaError) as odd_info:  # said by `schema check`, before any label is refused
            load_schema(path)
        assert says in "\n".join(odd_info.value.problems), (change, odd_info.value.problems)
    path.write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    assert load_schema(path).fields["nearby"].context


def test_segments_by_entity_and_span_and_several_shapes_per_target(
        project: tuple[Project, list[dict[str, Any]], str]) -> None:
    p, segs, asset = project
    s1 = segs[1]
    where = {"entity_id": s1["entity_id"], "t0_ns": s1["t0_ns"], "t1_ns": s1["t1_ns"]}
    res = write_labels(p, [
        {"field": "animal_state", **where, "annotator": "vet-a", "value": "calm"},
        {"field": "animal_state", **where | {"t1_ns": s1["t1_ns"] - 1}, "annotator": "vet-a", "value": "calm"},
        {"field": "animal_state", **where | {"t0_ns": 1.5}, "annotator": "vet-a", "value": "calm"},
        {"field": "injury", "target_id": asset, "annotator": "vet-a", "value": [1, 1, 5, 5], "instance": "a"},
        {"field": "injury", "target_id": asset, "annotator": "vet-a", "value": [6, 6, 9, 9], "instance": "b"},
        {"field": "animal_state", **where, "annotator": "crowd-c", "value": "calm", "instance": "x"},
    ])
    assert res.written == 3
    reasons = {r.index: r.reason for r in res.refused}
    assert "no segment has exactly that span" in reasons[1]
    assert "must be integers" in reasons[2]
    assert "only boxes, polygons and time spans have instances" in reasons[5]
    rows = p.catalog().read("labels").to_pylist()
    assert {r["target_id"] for r in rows if r["field"] == "animal_state"} == {s1["segment_id"]}
    assert sorted(r["instance"] for r in rows if r["field"] == "injury") == ["a", "b"]


def test_segmenting_with_a_bad_window_or_an_unknown_entity_is_refused_by_name(
        project: tuple[Project, list[dict[str, Any]], str]) -> None:
    """A zero, negative or NaN window (a division by zero before) and an entity with no files
    (0 segments and success before) are refused with what to do; nothing is written."""
    p, segs, _ = project
    before = p.catalog().count("segments")
    for window in (0.0, -5.0, float("nan")):
        with pytest.raises(ValueError, match="--window must be a length in seconds"):
            run_segmenters(p, ["fixed"], window_s=window)
    with pytest.raises(ValueError, match="no entity 'no-such-stall' has files"):
        run_segmenters(p, ["fixed"], window_s=2.0, entity="no-such-stall")
    with pytest.raises(ValueError, match="no entity \"it's\" has files"):
        run_segmenters(p, ["fixed"], window_s=2.0, entity="it's")  # quoted, not spliced into the query
    assert p.catalog().count("segments") == before == len(segs)
    assert run_segmenters(p, ["fixed"], window_s=5.0, entity="stall-1") == {"fixed": 4}


def test_schema_check_warns_of_stored_labels_the_schema_no_longer_describes(
        project: tuple[Project, list[dict[str, Any]], str]) -> None:
    """Removing a field or a value from labels.yaml leaves labels that still count in exports,
    agreement and evaluation: `schema check` is valid and says which and how many."""
    p, segs, _ = project
    s0, s1 = segs[0]["segment_id"], segs[1]["segment_id"]
    assert write_labels(p, [
        {"field": "animal_state", "target_id": s0, "annotator": "vet-a", "value": "distressed"},
        {"field": "animal_state", "target_id": s1, "annotator": "vet-a", "value": "calm"},
        {"field": "action", "target_id": s0, "annotator": "vet-a", "value": "watch"},
        {"field": "nearby", "target_id": s0, "annotator": "vet-a", "value": ["dog", "cart"]}]).written == 4

    def check() -> dict[str, Any]:
        cli = subprocess.run([sys.executable, "-m", "syncline.cli", "schema", "check", "-p", str(p.root), "--json"],
                             capture_output=True, text=True)
        assert cli.returncode == 0, cli.stderr
        return dict(json.loads(cli.stdout))

    assert check()["labels_outside"] == []
    narrower = json.loads(json.dumps(SCHEMA))
    narrower["fields"]["animal_state"]["values"] = ["calm", "restless"]
    narrower["fields"]["nearby"]["values"] = ["cart", "person"]
    del narrower["fields"]["action"]
    for a in narrower["annotators"].values():
        a["fields"] = [f for f in a["fields"] if f != "action"]
    (p.root / "labels.yaml").write_text(yaml.safe_dump(narrower), encoding="utf-8")
    assert check()["labels_outside"] == [
        "1 label(s) of field 'action', which the schema no longer has",
        "1 label(s) of 'animal_state' = 'distressed': not one of its values any more",
        """1 label(s) of 'nearby' = '["cart", "dog"]': ['dog'] not among its values any more"""]
    narrower["fields"]["animal_state"] = {"kind": "perception", "type": "multi_label", "values": ["calm", "[odd"]}
    (p.root / "labels.yaml").write_text(yaml.safe_dump(narrower), encoding="utf-8")
    assert [x for x in check()["labels_outside"] if "animal_state" in x] == [
        "1 label(s) of 'animal_state' = 'calm': stored as another type than the multi_label the field now is",
        "1 label(s) of 'animal_state' = 'distressed': stored as another type than the multi_label the field now is"]
