"""Consent withdrawal end to end on real files, Lance tables and a byte scan.

A canary string is planted in everything of ``person-a`` that could carry it — EXIF, XMP, IPTC
and the JPEG comment of a photo, MP4 tags, transcript text, a label value, an embedding's
source row, an export — next to ``person-b``'s data and a photo of both. The withdrawal's dry
run must list exactly the planted files; afterwards the canary, the pseudonym and the IDs of
the withdrawn files are found in 0 bytes of the project and in no retained table version, and
every row and file of the others is byte-for-byte what it was.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mediafiles import make_tone, make_video
from PIL import Image

from syncline.catalog.schema import TABLES
from syncline.govern.footprint import GovernError
from syncline.govern.keys import keyed_hash, project_key
from syncline.govern.purge import withdraw
from syncline.govern.verify import verify
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

CANARY = "CANARY-7f3a9e1d"
A, B = "person-a", "person-b"


def _jpeg(path: Path, marker: str, seed: int) -> Path:
    """A JPEG with ``marker`` in EXIF ImageDescription, the COM comment, XMP and IPTC."""
    exif = Image.Exif()
    exif[0x010E] = f"{marker} at the feed bunk"
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(
        path, "JPEG", exif=exif.tobytes(), comment=f"{marker} comment".encode(), quality=90)
    xmp = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF "
           b"xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'><rdf:Description "
           b"xmlns:dc='http://purl.org/dc/elements/1.1/' dc:creator='" + marker.encode() + b"'/></rdf:RDF></x:xmpmeta>")
    value = marker.encode()
    iptc = b"\x1c\x02\x78" + struct.pack(">H", len(value)) + value
    iptc += b"\x00" * (len(iptc) % 2)
    irb = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    app13 = b"Photoshop 3.0\x00" + irb
    data = path.read_bytes()
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
                     + b"\xff\xed" + struct.pack(">H", len(app13) + 2) + app13 + data[2:])
    return path


def _srt(path: Path, text: str) -> Path:
    path.write_text(f"1\n00:00:00,200 --> 00:00:01,000\n{text}\n\n2\n00:00:01,200 --> 00:00:01,900\nall fine\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("data")
    files = {
        "a_photo": _jpeg(data / "a_photo.jpg", CANARY, 1),
        "a_clip": make_video(data, "a_clip.mp4", tags={"title": f"{CANARY} clip", "comment": CANARY}),
        "a_memo": make_tone(data, "a_memo.wav", freq=330.0),
        "a_memo_srt": _srt(data / "a_memo.srt", f"{CANARY} says the cow is calm"),
        "b_photo": _jpeg(data / "b_photo.jpg", "bravo-marker", 2),
        "b_memo_srt": _srt(data / "b_memo.srt", "bravo-marker says the water is low"),
        "group": _jpeg(data / "group.jpg", "group shot", 3),
        "cam": make_video(data, "cam.mp4", seconds=1.0, size=(96, 64)),
    }
    subjects = {"a_photo": [A], "a_clip": [A], "a_memo": [A], "a_memo_srt": [A], "b_photo": [B],
                "b_memo_srt": [B], "group": [A, B], "cam": []}
    manifest = {"version": 1, "entities": [{"entity_id": "e1", "start_time": "2026-05-01T06:00:00Z"}],
                "subjects": [{"subject_id": s, "consent": {"status": "granted", "scope": ["training"]}}
                             for s in (A, B)],
                "assets": [{"path": p.name, "entity_id": "e1", "subjects": subjects[k]} for k, p in files.items()]}
    (data / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    project = init_project(tmp_path_factory.mktemp("proj") / "p")
    summary = ingest(project, [data], manifest_path=data / "manifest.json")
    assert not summary.quarantined, summary.quarantined
    cat = project.catalog()
    assets = {Path(r["source_path"]).name: r for r in cat.read("assets").to_pylist()}
    ids = {k: assets[p.name]["asset_id"] for k, p in files.items()}

    def prov(k: str) -> dict[str, Any]:
        return {"asset_ids": [ids[k]], "subject_ids": subjects[k] or None}

    cat.upsert("labels", [
        {"label_id": "la", "target_type": "asset", "target_id": ids["a_photo"], "field": "note",
         "value": f"{CANARY} feeding", "kind": "perception", **prov("a_photo")},
        {"label_id": "lb", "target_type": "asset", "target_id": ids["b_photo"], "field": "note",
         "value": "feeding", "kind": "perception", **prov("b_photo")},
        {"label_id": "lgold", "target_type": "asset", "target_id": "consensus-1", "field": "note",
         "value": "gold", "kind": "perception"},  # derived from la only through lineage
    ])
    cat.upsert("lineage", [{"edge_id": "e-gold", "child_table": "labels", "child_id": "lgold",
                            "parent_table": "labels", "parent_id": "la"}])
    cat.upsert("embeddings", [
        {"embedding_id": f"emb-{k}", "representation_id": "frame-stats@1", "target_type": "asset",
         "target_id": ids[k], "vector": [float(i) for i in range(8)], **prov(k)} for k in ("a_clip", "b_photo")])
    cat.upsert("runs", [{"run_id": r, "kind": "train", "status": "finished"} for r in ("train-a", "train-b")])
    cat.upsert("predictions", [
        {"prediction_id": f"p-{k}", "run_id": run, "target_type": "asset", "target_id": ids[k], "field": "note",
         **prov(k)} for k, run in (("a_clip", "train-a"), ("b_photo", "train-b"))])
    exports = project.root / "exports"
    exports.mkdir(exist_ok=True)
    (exports / "a.jsonl").write_text(json.dumps({"asset_id": ids["a_clip"], "text": CANARY}) + "\n")
    (exports / "b.jsonl").write_text(json.dumps({"asset_id": ids["b_photo"]}) + "\n")
    filler = [hashlib.sha256(str(i).encode()).hexdigest()[:32] for i in range(3000)]  # compressed, dictionary-encoded
    pq.write_table(pa.table({"asset_id": [ids["a_clip"] if i % 97 == 0 else f for i, f in enumerate(filler)]}),
                   exports / "a.parquet")
    pq.write_table(pa.table({"asset_id": filler}), exports / "other.parquet")
    return {"project": project, "files": files, "ids": ids, "data": data}


def _row_hashes(project: Project) -> dict[str, dict[str, str]]:
    cat = project.catalog()
    out = {}
    for name, ts in TABLES.items():
        rows = cat.read(name).to_pylist()
        out[name] = {str(r[ts.key]): hashlib.sha256(json.dumps(r, sort_keys=True, default=str).encode()).hexdigest()
                     for r in rows}
    return out


def _file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and "catalog" not in p.parts}


@pytest.fixture(scope="module")
def withdrawn(world: dict[str, Any]) -> dict[str, Any]:
    project: Project = world["project"]
    before = verify(project, A, needles=[CANARY])
    rows_before, files_before = _row_hashes(project), _file_hashes(project.root)
    dry = withdraw(project, A, dry_run=True)
    assert _row_hashes(project) == rows_before, "a dry run changed the catalog"
    report = withdraw(project, A)
    return {"before": before, "dry": dry, "report": report, "rows_before": rows_before,
            "files_before": files_before, "after": verify(project, A, needles=[CANARY])}


def test_verify_sees_the_subject_before_the_withdrawal(withdrawn: dict[str, Any]) -> None:
    hits = withdrawn["before"].hits
    assert not withdrawn["before"].clean
    assert any("needle 1" in h and h.startswith("media/") for h in hits), hits  # the canary in the transcript copy
    assert any("the pseudonym" in h and h.startswith("catalog/") for h in hits), hits
    assert any(h.startswith("table labels") for h in hits), hits


def test_the_dry_run_lists_exactly_the_planted_files(world: dict[str, Any], withdrawn: dict[str, Any]) -> None:
    fp = withdrawn["dry"].footprint
    planted = {world["ids"][k] for k in ("a_photo", "a_clip", "a_memo", "a_memo_srt", "group")}
    assert {a["asset_id"] for a in fp.assets} == planted
    assert set(fp.rows["labels"]) == {"la", "lgold"}  # the gold label only through lineage
    assert set(fp.rows["embeddings"]) == {"emb-a_clip"} and set(fp.rows["predictions"]) == {"p-a_clip"}
    assert sorted(p.name for p in fp.files) == ["a.jsonl", "a.parquet"]  # the Parquet read decoded
    assert fp.runs_flagged == ["train-a"]
    assert sorted(Path(s).name for s in fp.source_files) == sorted(
        world["files"][k].name for k in ("a_photo", "a_clip", "a_memo", "a_memo_srt", "group"))


def test_nothing_of_the_subject_is_left_in_bytes_or_versions(withdrawn: dict[str, Any]) -> None:
    after = withdrawn["after"]
    assert after.clean, after.hits
    assert after.files_scanned > 20 and after.versions_read >= len(TABLES)


def test_everything_else_is_untouched(world: dict[str, Any], withdrawn: dict[str, Any]) -> None:
    project: Project = world["project"]
    fp = withdrawn["dry"].footprint
    before, after = withdrawn["rows_before"], _row_hashes(project)
    for table in TABLES:
        if table in ("audit_log", "withdrawn", "runs"):
            continue
        kept = {k: v for k, v in before[table].items() if k not in set(fp.rows.get(table, []))}
        assert after[table] == kept, table
    runs = {r["run_id"]: r for r in project.catalog().read("runs").to_pylist()}
    assert runs["train-a"]["status"] == "invalidated" and runs["train-b"]["status"] == "finished"
    gone = {p.relative_to(project.root).as_posix() for p in fp.media_files + fp.files}
    files_after = _file_hashes(project.root)
    for rel, digest in withdrawn["files_before"].items():
        if rel in gone or rel.startswith("reports/"):
            continue
        assert files_after.get(rel) == digest, rel
    assert not [g for g in gone if g in files_after]


def test_the_audit_log_holds_a_keyed_hash_not_the_person(world: dict[str, Any], withdrawn: dict[str, Any]) -> None:
    project: Project = world["project"]
    log = [r for r in project.catalog().read("audit_log").to_pylist() if r["action"] == "consent.withdraw"]
    assert len(log) == 1
    details = json.loads(log[0]["details_json"])
    assert details["subject_hash"] == keyed_hash(project_key(project.root), A) == withdrawn["report"].subject_hash
    assert A not in log[0]["details_json"] and details["assets"] == 5


def test_reingest_refuses_the_withdrawn_files_and_subject(world: dict[str, Any], withdrawn: dict[str, Any]) -> None:
    project: Project = world["project"]
    summary = ingest(project, [world["data"]], manifest_path=world["data"] / "manifest.json")
    refused = sorted(Path(q.path).name for q in summary.quarantined if q.kind == "withdrawn")
    assert refused == sorted(world["files"][k].name for k in ("a_photo", "a_clip", "a_memo", "a_memo_srt", "group"))
    assert verify(project, A, needles=[CANARY]).clean
    assert B in {r["subject_id"] for r in project.catalog().read("subjects").to_pylist()}
    with pytest.raises(GovernError):
        withdraw(project, "nobody-here")


def test_a_lost_key_stops_ingest_and_an_unknown_pseudonym_proves_nothing(
        world: dict[str, Any], withdrawn: dict[str, Any]) -> None:
    from syncline.govern.keys import KEY_FILE, KeyMissingError

    project: Project = world["project"]
    unknown = verify(project, "person-zz")
    assert not unknown.clean and "no withdrawal of 'person-zz' is recorded" in unknown.hits[0]
    key = project.root / KEY_FILE
    key.rename(project.root / "key.bak")
    try:
        with pytest.raises(KeyMissingError, match="restore it from a backup"):
            ingest(project, [world["data"]], manifest_path=world["data"] / "manifest.json")
    finally:
        (project.root / "key.bak").rename(key)
    quarantine = project.catalog().read("quarantine").to_pylist()
    assert not [q for q in quarantine if q["kind"] == "withdrawn" and "a_" in q["path"]]  # names not kept


def test_the_cli_proves_it_with_an_exit_code(world: dict[str, Any], withdrawn: dict[str, Any]) -> None:
    root = str(world["project"].root)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syncline.cli", "consent", *args, "-p", root],
                              capture_output=True, text=True)

    assert run("verify", A, "--needle", CANARY).returncode == 0
    dirty = run("verify", B, "--json")
    assert dirty.returncode == 1 and json.loads(dirty.stdout)["clean"] is False
    dry = run("withdraw", B, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert {a["asset_id"] for a in json.loads(dry.stdout)["assets"]} == {world["ids"]["b_photo"],
                                                                        world["ids"]["b_memo_srt"]}
    missing = run("withdraw", "nobody-here")
    assert missing.returncode == 2 and "no subject 'nobody-here'" in missing.stderr


def test_verify_finds_a_withdrawn_id_left_anywhere(world: dict[str, Any], withdrawn: dict[str, Any]) -> None:
    """The proof can fail: a stale copy holding a withdrawn file's ID between other IDs, and a
    row that still names it, are both reported (run last: it dirties the project)."""
    project: Project = world["project"]
    a_id, b_id = world["ids"]["a_photo"], world["ids"]["b_photo"]
    stale = project.root / "exports" / "stale.bin"
    stale.write_bytes(b"\x00" + (b_id + a_id + b_id).encode() + b"\x00")
    report = verify(project, A)
    assert report.hits == ["exports/stale.bin: 1 ID(s) of withdrawn files"], report.hits
    stale.write_bytes(b"label 1" + a_id.encode() + b"cafe")  # next to hex-looking text: not aligned
    assert verify(project, A).hits == ["exports/stale.bin: 1 ID(s) of withdrawn files"]
    stale.unlink()
    project.catalog().upsert("labels", [{"label_id": "late", "target_type": "asset", "target_id": "x",
                                         "field": "note", "kind": "perception", "asset_ids": [a_id]}])
    assert any(h.startswith("table labels") and "1 withdrawn ID" in h for h in verify(project, A).hits)


def test_a_withdrawal_killed_half_way_finishes_on_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the tombstones and files but before any row went, then killed again while
    dropping old versions: the next run finishes both (runs flagged, versions dropped, the end
    logged) and nothing of the subject is left."""
    from syncline.govern import purge as P

    data = tmp_path / "data"
    data.mkdir()
    _srt(data / "memo.srt", "the water trough is empty")
    (data / "m.json").write_text(json.dumps({
        "version": 1, "subjects": [{"subject_id": "person-z"}],
        "assets": [{"path": "memo.srt", "entity_id": "e1", "subjects": ["person-z"]}]}), encoding="utf-8")
    project = init_project(tmp_path / "p")
    ingest(project, [data], manifest_path=data / "m.json")

    def boom(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt("killed")

    for step in ("_delete_rows", "_cleanup_all"):
        monkeypatch.setattr(P, step, boom)
        with pytest.raises(KeyboardInterrupt):
            withdraw(project, "person-z")
        monkeypatch.undo()
        assert not verify(project, "person-z").clean
    withdraw(project, "person-z")
    assert verify(project, "person-z").clean
    assert P.finish_pending(project) == []  # every started purge has its end entry
    log = [r["action"] for r in project.catalog().read("audit_log").to_pylist()]
    assert log.count("consent.withdraw.started") == log.count("consent.withdraw") >= 1


def test_manifest_attributes_naming_the_subject_are_redacted_and_never_come_back(tmp_path: Path) -> None:
    """An entity attribute names the caretaker: the withdrawal redacts that attribute (the
    entity stays), and re-ingesting the same manifest does not bring it back."""
    data = tmp_path / "data"
    data.mkdir()
    _srt(data / "memo.srt", "all calm")
    _srt(data / "other.srt", "fan is on")
    manifest = {"version": 1,
                "entities": [{"entity_id": "e1", "attrs": {"caretaker": "person-q", "barn": "north"}}],
                "subjects": [{"subject_id": "person-q"}],
                "assets": [{"path": "memo.srt", "entity_id": "e1", "subjects": ["person-q"]},
                           {"path": "other.srt", "entity_id": "e1"}]}
    (data / "m.json").write_text(json.dumps(manifest), encoding="utf-8")
    project = init_project(tmp_path / "p")
    ingest(project, [data], manifest_path=data / "m.json")
    withdraw(project, "person-q")
    assert verify(project, "person-q").clean
    ingest(project, [data], manifest_path=data / "m.json")
    assert verify(project, "person-q").clean
    entity = project.catalog().read("entities", where="entity_id = 'e1'").to_pylist()[0]
    assert json.loads(entity["attrs_json"]) == {"barn": "north"}
    assert [Path(str(a["source_path"])).name for a in project.catalog().read("assets").to_pylist()] == ["other.srt"]
