"""Label Studio JSON in and out on a real project: every field type round trips to the same
label rows in a second project with the same media; video timeline frames and audio seconds
are converted through each asset's clock (a microphone running 2.5 s late); records Label
Studio files carry that syncline cannot take are refused by name while the rest is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mediafiles import make_image, make_tone, make_video

from syncline.align.segment import run_segmenters
from syncline.annotate.interop.labelstudio import export_label_studio, import_label_studio
from syncline.annotate.labels import write_labels
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

NS = 1_000_000_000
SCHEMA = {
    "version": 1,
    "fields": {
        "state": {"kind": "perception", "type": "ordinal", "values": ["calm", "restless", "distressed"]},
        "action": {"kind": "judgment", "type": "class", "values": ["alert_vet", "watch", "ignore"]},
        "nearby": {"kind": "perception", "type": "multi_label", "values": ["cart", "person", "dog"], "context": True},
        "temp": {"kind": "perception", "type": "number"},
        "note": {"kind": "perception", "type": "text"},
        "injury": {"kind": "perception", "granularity": "region", "type": "box", "values": ["cut", "swelling"]},
        "outline": {"kind": "perception", "granularity": "region", "type": "polygon"},
        "posture": {"kind": "perception", "granularity": "entity", "type": "time_span",
                    "values": ["standing", "lying"]},
        "call": {"kind": "perception", "granularity": "entity", "type": "time_span"},
    },
    "annotators": {
        "vet-a": {"tier": "expert", "fields": ["state", "action", "nearby", "temp", "note", "injury", "outline",
                                               "posture", "call"]},
        "crowd-c": {"tier": "crowd", "fields": ["state", "nearby", "posture", "injury"]},
    },
}


def _project(root: Path, data: Path) -> Project:
    p = init_project(root)
    ingest(p, [data])
    run_segmenters(p, ["fixed"], window_s=2.0)
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Project]:
    data = tmp_path_factory.mktemp("data")
    (data / "pen-1").mkdir()
    make_video(data / "pen-1", "cam.mp4", seconds=6.0, fps=10, audio=False)
    make_image(data / "pen-1", "photo.png", size=(160, 120))
    (data / "pen-2").mkdir()
    make_tone(data / "pen-2", "mic.wav", seconds=6.0, sample_rate=16000)
    return data, _project(tmp_path_factory.mktemp("a") / "p", data)


def _rows(p: Project) -> list[tuple[Any, ...]]:
    return sorted((r["field"], r["target_type"], r["target_id"], r["annotator"], r["instance"], r["kind"], r["value"])
                  for r in p.catalog().read("labels").to_pylist())


def _assets(p: Project) -> dict[str, dict[str, Any]]:
    return {Path(r["source_path"]).name: r for r in p.catalog().read("assets").to_pylist()}


def _labels(p: Project) -> list[dict[str, Any]]:
    a = _assets(p)
    seg = sorted((s for s in p.catalog().read("segments").to_pylist() if s["entity_id"] == a["cam.mp4"]["entity_id"]),
                 key=lambda s: s["t0_ns"])[0]["segment_id"]
    photo, pen1, pen2 = a["photo.png"]["asset_id"], a["cam.mp4"]["entity_id"], a["mic.wav"]["entity_id"]
    return [
        {"field": "state", "target_id": seg, "annotator": "vet-a", "value": "restless"},
        {"field": "state", "target_id": seg, "annotator": "crowd-c", "value": "distressed"},
        {"field": "action", "target_id": seg, "annotator": "vet-a", "value": "watch"},
        {"field": "nearby", "target_id": seg, "annotator": "vet-a", "value": ["person", "cart"]},
        {"field": "temp", "target_id": seg, "annotator": "vet-a", "value": 38.25},
        {"field": "note", "target_id": seg, "annotator": "vet-a", "value": "left hind leg, see photo"},
        {"field": "injury", "target_id": photo, "annotator": "vet-a", "value": [10, 20.5, 50, 60, "cut"],
         "instance": "r1"},
        {"field": "injury", "target_id": photo, "annotator": "vet-a", "value": [100, 30, 159, 119, "swelling"],
         "instance": "r2"},
        {"field": "injury", "target_id": photo, "annotator": "crowd-c", "value": [11, 19, 52, 61, "cut"]},
        {"field": "outline", "target_id": photo, "annotator": "vet-a", "value": [[5, 5], [80, 10], [40, 90.25]],
         "instance": "o1"},
        # frame-aligned spans on the 10 fps video; arbitrary nanoseconds on the audio
        {"field": "posture", "target_id": pen1, "annotator": "vet-a", "value": [0, 2 * NS, "standing"],
         "instance": "s1"},
        {"field": "posture", "target_id": pen1, "annotator": "vet-a", "value": [2_300_000_000, 5 * NS, "lying"],
         "instance": "s2"},
        {"field": "call", "target_id": pen2, "annotator": "vet-a", "value": [1_234_567_891, 3_000_000_007],
         "instance": "k1"},
    ]


def test_every_field_type_round_trips_to_the_same_rows(world: tuple[Path, Project], tmp_path: Path) -> None:
    data, p = world
    res = write_labels(p, _labels(p))
    assert res.written == 13 and not res.refused
    tasks = json.loads(json.dumps(export_label_studio(p)))  # through JSON text, as a file would
    kinds = {r["type"] for t in tasks for a in t["annotations"] for r in a["result"]}
    assert kinds == {"choices", "number", "textarea", "rectanglelabels", "polygonlabels", "timelinelabels", "labels"}
    box = next(r for t in tasks for a in t["annotations"] for r in a["result"] if r.get("id") == "r1")
    assert box["value"]["x"] == pytest.approx(10 / 160 * 100) and box["value"]["rectanglelabels"] == ["cut"]
    timeline = next(r for t in tasks for a in t["annotations"] for r in a["result"] if r.get("id") == "s2")
    assert timeline["value"]["ranges"] == [{"start": 24, "end": 50}]  # 2.3 s..5 s at 10 fps, 1-based frames

    q = _project(tmp_path / "q", data)
    back = import_label_studio(q, tasks)
    assert back.written == 13 and not back.refused
    assert _rows(q) == _rows(p)
    assert export_label_studio(q) == tasks


def test_times_come_through_each_assets_clock(world: tuple[Path, Project], tmp_path: Path) -> None:
    data, _ = world
    q = _project(tmp_path / "q", data)
    mic = _assets(q)["mic.wav"]
    q.catalog().upsert("assets", [mic | {"clock_offset_ns": 2_500_000_000, "clock_source": "estimated"}])
    task = {"id": 7, "data": {"audio": "/data/upload/3/mic.wav"},  # as Label Studio writes its uploads
            "annotations": [{"id": 1, "completed_by": 12, "result": [
                {"id": "x", "from_name": "call", "to_name": "audio", "type": "labels",
                 "value": {"start": 1.0, "end": 2.0, "labels": ["call"]}}]}]}
    res = import_label_studio(q, [task], annotator_map={"12": "vet-a"})
    assert res.written == 1 and not res.refused
    (row,) = q.catalog().read("labels").to_pylist()
    assert json.loads(row["value"]) == [3_500_000_000, 4_500_000_000] and row["target_id"] == mic["entity_id"]
    (out,) = export_label_studio(q)
    assert out["annotations"][0]["result"][0]["value"]["start"] == pytest.approx(1.0)
    assert out["annotations"][0]["result"][0]["value"]["end"] == pytest.approx(2.0)


def test_bad_records_are_refused_by_name_and_the_rest_written(world: tuple[Path, Project], tmp_path: Path) -> None:
    data, _ = world
    q = _project(tmp_path / "q", data)
    entity = _assets(q)["mic.wav"]["entity_id"]

    def region(rid: str, **value: Any) -> dict[str, Any]:
        return {"id": rid, "from_name": "call", "to_name": "audio", "type": "labels", "value": value}

    tasks = [
        {"id": 1, "data": {"audio": "mic.wav"}, "annotations": [
            {"id": 1, "completed_by": 12, "result": [
                region("ok", start=0.5, end=1.5, labels=["call"]),
                region("late", start=5.5, end=6.5, labels=["call"]),       # runs past the 6 s file
                region("back", start=2.0, end=1.0, labels=["call"]),       # ends before it starts
                {"id": "f", "from_name": "mood", "type": "choices", "value": {"choices": ["ok"]}},
            ]},
            {"id": 2, "completed_by": 99, "result": [region("who", start=0.1, end=0.2, labels=["call"])]},
            {"id": 3, "completed_by": 13, "result": [region("unq", start=0.1, end=0.2, labels=["call"])]},
        ]},
        {"id": 2, "data": {"audio": "nowhere.wav"}, "annotations": []},
        {"id": 4, "data": {"audio": "mic.wav"}, "annotations": 1},
        {"id": 5, "data": {"audio": "mic.wav"}, "annotations": [{"id": 1, "completed_by": 12, "result": [
            region("inf", start=1.0, end=float("inf"), labels=["call"]),
            {"from_name": "call", "type": "labels", "value": {"start": 2.0, "end": 3.0, "labels": ["call"]}},
            {"from_name": "call", "type": "labels", "value": {"start": 3.0, "end": 4.0, "labels": ["call"]}}]}]},
        {"id": 3, "data": {"syncline_target_id": "no-such-segment"}, "annotations": [
            {"id": 1, "syncline_annotator": "vet-a", "result": [
                {"id": "s", "from_name": "state", "type": "choices", "value": {"choices": ["calm"]}}]}]},
    ]
    res = import_label_studio(q, tasks, annotator_map={"12": "vet-a", "13": "crowd-c"})
    assert res.written == 2
    why = dict(res.refused)
    assert set(why) == {"task 1 annotation 1 result late", "task 1 annotation 1 result back",
                        "task 1 annotation 1 result f", "task 1 annotation 2", "task 1 annotation 3 result unq",
                        "task 2", "task 3 annotation 1 result s", "task 4", "task 5 annotation 1 result inf",
                        "task 5 annotation 1 result 3"}
    assert "same label as record" in why["task 5 annotation 1 result 3"]  # two id-less regions: one label each
    assert "must be a list" in why["task 4"]
    assert "inside mic.wav" in why["task 1 annotation 1 result late"]
    assert "--annotator-map 99=NAME" in why["task 1 annotation 2"]
    assert "not qualified" in why["task 1 annotation 3 result unq"]
    assert "no asset named 'nowhere.wav'" in why["task 2"]
    assert "no such segment" in why["task 3 annotation 1 result s"]
    rows = q.catalog().read("labels").to_pylist()
    assert {r["target_id"] for r in rows} == {entity}
    assert sorted(json.loads(r["value"]) for r in rows) == [[500_000_000, 1_500_000_000], [2 * NS, 3 * NS]]

    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "labels", "import", str(path), "--format",
                          "label-studio", "--annotator-map", "12=vet-a", "-p", str(q.root), "--json"],
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    out = json.loads(cli.stdout)
    records = {r["record"] for r in out["refused"]}  # 13 is unmapped now: its whole annotation goes
    assert out["written"] == 2 and records == set(why) - {"task 1 annotation 3 result unq"} | {"task 1 annotation 3"}


def test_json_lines_export_of_one_kind_round_trips(world: tuple[Path, Project], tmp_path: Path) -> None:
    from syncline.annotate.interop.files import export_file, import_file

    data, p = world
    write_labels(p, _labels(p))
    with pytest.raises(ValueError, match=r"--field 'nope': no such field in the schema; fields: "):
        export_file(p, tmp_path / "nothing.jsonl", fields=["nope"])  # not an empty file and success
    assert not (tmp_path / "nothing.jsonl").exists()
    n, skipped = export_file(p, tmp_path / "perception.jsonl", kind="perception")
    lines = [json.loads(x) for x in (tmp_path / "perception.jsonl").read_text().splitlines()]
    perception = [r for r in _rows(p) if r[5] == "perception"]
    assert n == len(lines) == len(perception) and not skipped
    assert {x["kind"] for x in lines} == {"perception"} and "action" not in {x["field"] for x in lines}
    q = _project(tmp_path / "q", data)
    res = import_file(q, tmp_path / "perception.jsonl")
    assert res.written == n and not res.refused
    assert _rows(q) == perception
