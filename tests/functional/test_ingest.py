"""Ingest on real files: every modality, every bad-input kind, scrubbing checked by exiftool,
idempotent re-runs, kill-and-resume, manifests with subjects, consent and clocks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import mediafiles as mf
import pytest

from syncline.catalog import query as Q
from syncline.catalog.schema import TABLES
from syncline.ids import sha256_file
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional


def _good_world(root: Path) -> dict[str, str]:
    """Real files in entity folders e0/e1; returns {relative path: expected modality}."""
    e0, e1 = root / "e0", root / "e1"
    e0.mkdir(parents=True)
    e1.mkdir()
    mf.make_video(e0, "clip.mp4", seconds=1.0, fps=10)
    mf.make_click_wav(e0, "mic.wav")
    mf.make_jpeg_with_metadata(e0, "photo.jpg")
    mf.make_srt(e0, "memo.srt")
    mf.make_sensor_csv(e0, "imu.csv", rate_hz=20, seconds=2.0)
    mf.make_events_csv(e0, "events.csv")
    mf.make_tagged_mp4(e1, "tagged.mp4")
    mf.make_vtt(e1, "memo.vtt")
    mf.make_pdf(e1, "sop.pdf", pages=2)
    mf.make_metadata_csv(root, "entities.csv", n=2)
    return {"e0/clip.mp4": "video", "e0/mic.wav": "audio", "e0/photo.jpg": "image", "e0/memo.srt": "transcript",
            "e0/imu.csv": "sensor", "e0/events.csv": "events", "e1/tagged.mp4": "video", "e1/memo.vtt": "transcript",
            "e1/sop.pdf": "document", "entities.csv": "metadata"}


def _bad_files(root: Path) -> dict[str, str]:
    """One file per bad-input kind; returns {name: expected quarantine kind}."""
    bad = root / "bad"
    bad.mkdir()
    src = mf.make_video(bad.parent, "full.mp4", seconds=2.0, fps=10)
    mf.truncate_copy(src, bad / "truncated.mp4", fraction=0.5)
    src.unlink()
    mf.make_empty(bad, "empty.wav")
    (bad / "notes.jpg").write_text("this is a text file wearing a .jpg extension\n")
    mf.make_garbage(bad, "garbage.mp4")
    mf.make_bomb_png(bad, "bomb.png")
    mf.make_sensor_csv(bad, "backwards.csv", rate_hz=10, seconds=1.0, non_monotonic_row=5)
    mf.make_malformed_srt(bad, "end_before_start", name="broken.srt")
    mf.make_broken_symlink(bad, "gone.wav")
    mf.non_utf8_path(bad).write_bytes((root / "e0" / "mic.wav").read_bytes()[:-4] + b"\0\0\0\0")
    return {"truncated.mp4": "truncated", "empty.wav": "empty", "notes.jpg": "wrong_extension",
            "garbage.mp4": "undecodable", "bomb.png": "decompression_bomb", "backwards.csv": "non_monotonic_time",
            "broken.srt": "malformed_subtitles", "gone.wav": "unreadable", "caf\\xe9-\\xff.wav": "unreadable"}


def _dump(project: Project) -> dict[str, list[dict[str, Any]]]:
    cat = project.catalog()
    out = {}
    for name, spec in TABLES.items():
        if name == "audit_log":
            continue
        rows = cat.read(name).to_pylist()
        out[name] = sorted(rows, key=lambda r: r[spec.key])
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict[str, str]]:
    root = tmp_path_factory.mktemp("world")
    good = _good_world(root)
    bad = _bad_files(root)
    return root, good, bad


@pytest.fixture(scope="module")
def ingested(world: tuple[Path, dict[str, str], dict[str, str]], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root, _, _ = world
    project = init_project(tmp_path_factory.mktemp("proj") / "p")
    summary = ingest(project, [root])
    return project, summary


def test_ingest_registers_every_modality_and_quarantines_each_bad_file_with_a_one_line_reason(world, ingested) -> None:  # type: ignore[no-untyped-def]
    root, good, bad = world
    project, summary = ingested
    cat = project.catalog()
    assets = {Path(r["source_path"]).relative_to(root).as_posix(): r for r in cat.read("assets").to_pylist()}
    assert {p: r["modality"] for p, r in assets.items()} == good
    assert summary.new_assets == len(good)
    assert assets["e0/clip.mp4"]["entity_id"] == "e0" and assets["e1/sop.pdf"]["entity_id"] == "e1"
    assert assets["e0/clip.mp4"]["frame_count"] == 10 and assets["e1/sop.pdf"]["n_items"] == 2

    quarantined = {Path(r["path"]).name: r for r in cat.read("quarantine").to_pylist()}
    assert {n: r["kind"] for n, r in quarantined.items()} == bad
    assert len(summary.quarantined) == len(bad)
    for r in quarantined.values():
        assert "\n" not in r["reason"] and "Traceback" not in r["reason"] and len(r["reason"]) > 20
    assert "rename" in quarantined["notes.jpg"]["reason"]


def test_metadata_rows_and_event_logs_land_in_the_catalog(ingested) -> None:  # type: ignore[no-untyped-def]
    project, _ = ingested
    cat = project.catalog()
    ents = {r["entity_id"]: r for r in cat.read("entities").to_pylist()}
    assert json.loads(ents["e0"]["metadata_json"])["site"] == "site0"
    assert json.loads(ents["e1"]["metadata_json"])["age"] in (31, "31")
    events = cat.read("events").to_pylist()
    assert sorted(e["type"] for e in events) == sorted(r[1] for r in mf.EVENT_ROWS)
    assert {e["entity_id"] for e in events} == {"e0"}
    assert [e["t_ns"] for e in sorted(events, key=lambda e: e["t_ns"])] == sorted(
        int(r[0] * 1e9) for r in mf.EVENT_ROWS)


def _exif(path: Path) -> dict[str, Any]:
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", "-u", str(path)], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout)[0])


def test_managed_copies_are_scrubbed_as_an_independent_reader_sees_them(world, ingested) -> None:  # type: ignore[no-untyped-def]
    root, _, _ = world
    project, _ = ingested
    cat = project.catalog()
    photo = cat.read("assets", where="modality = 'image'").to_pylist()[0]
    original = _exif(root / "e0/photo.jpg")
    assert any("GPS" in k for k in original) and any("Comment" in k for k in original)
    tags = _exif(project.media_dir / photo["managed_path"])
    identifying = ("GPS", "XMP", "IPTC", "Comment", "Make", "Model", "DateTimeOriginal")
    leaked = [k for k in tags if any(w in k for w in identifying)]
    assert leaked == []
    assert {"exif", "gps", "xmp", "comment"} <= set(photo["stripped"]) and photo["had_gps"]
    videos = cat.read("assets", where="modality = 'video'").to_pylist()
    video = next(r for r in videos if r["source_path"].endswith("tagged.mp4"))
    vtags = _exif(project.media_dir / video["managed_path"])
    assert not [k for k in vtags if any(w in k.split(":")[-1] for w in ("Title", "Comment", "GPS", "Location"))]
    assert sha256_file(root / "e1/tagged.mp4") == video["sha256"]  # the source is never modified
    assert sha256_file(project.media_dir / video["managed_path"]) == video["managed_sha256"]


def test_reingest_changes_nothing_and_reports_known_assets(world, ingested) -> None:  # type: ignore[no-untyped-def]
    root, good, bad = world
    project, _ = ingested
    before = _dump(project)
    again = ingest(project, [root])
    assert (again.new_assets, again.known_assets, len(again.quarantined)) == (0, len(good), len(bad))
    assert _dump(project) == before


def test_same_bytes_under_two_names_are_one_asset(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    wav = mf.make_click_wav(data / "a", "x.wav")
    (data / "b").mkdir()
    shutil.copy(wav, data / "b" / "copy.wav")
    project = init_project(tmp_path / "p")
    s = ingest(project, [data])
    rows = project.catalog().read("assets").to_pylist()
    assert (s.new_assets, s.duplicate_files, len(rows)) == (1, 1, 1)
    assert rows[0]["duplicate_paths"] == [str(data / "b" / "copy.wav")]


def test_manifest_gives_entities_subjects_consent_context_and_clock_offsets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    mf.make_click_wav(data, "memo.wav")
    mf.make_video(data, "cam.mp4", seconds=1.0, fps=10, audio=False)
    manifest = data / "manifest.yaml"
    manifest.write_text("""
entities:
  - {entity_id: stall-a, start_time: "2026-05-01T06:00:00Z", attrs: {barn: north}}
subjects:
  - {subject_id: caretaker-01, consent: {status: granted, scope: [voice], jurisdiction: EU}}
assets:
  - {path: memo.wav, entity_id: stall-a, mic: lav1, start_time: "2026-05-01T06:00:02.500Z",
     subjects: [caretaker-01], jurisdiction: EU, context: {lighting: day}}
  - {path: cam.mp4, entity_id: stall-a, camera: cam1, start_time: "2026-05-01T05:59:59Z"}
  - {path: lost/cam2.mp4, entity_id: stall-a, camera: cam2}
""")
    project = init_project(tmp_path / "p")
    s = ingest(project, [data], manifest_path=manifest)
    assert s.new_assets == 2 and not s.quarantined  # the manifest itself is not an asset
    assert s.manifest_missing == ["lost/cam2.mp4"]
    cat = project.catalog()
    a = {Path(r["source_path"]).name: r for r in cat.read("assets").to_pylist()}
    assert a["memo.wav"]["clock_offset_ns"] == 2_500_000_000 and a["memo.wav"]["clock_source"] == "manifest"
    assert a["cam.mp4"]["clock_offset_ns"] == -1_000_000_000
    assert a["memo.wav"]["subject_ids"] == ["caretaker-01"] and a["memo.wav"]["mic"] == "lav1"
    assert json.loads(a["memo.wav"]["context_json"]) == {"lighting": "day"}
    consent = cat.read("consent").to_pylist()
    assert [(c["subject_id"], c["status"], c["scope"]) for c in consent] == [("caretaker-01", "granted", ["voice"])]


def test_a_bad_manifest_is_refused_by_the_cli_with_the_field_named(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("assets:\n  - {path: x.wav, start_time: yesterday}\n")
    init_project(tmp_path / "p")
    out = subprocess.run([sys.executable, "-m", "syncline.cli", "ingest", str(tmp_path), "-p", str(tmp_path / "p"),
                          "--manifest", str(tmp_path / "m.yaml")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "assets.0.start_time" in out.stderr and "Traceback" not in out.stderr
    assert project_assets(tmp_path / "p") == 0


def project_assets(path: Path) -> int:
    return Project.open(path).catalog().count("assets")


def test_kill_at_any_point_then_rerun_gives_the_same_catalog(world, ingested, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, _, _ = world
    reference, _ = ingested
    project = init_project(tmp_path / "p")
    cmd = [sys.executable, "-m", "syncline.cli", "ingest", str(root), "-p", str(project.root), "--json"]
    kills = 0
    for delay in (0.8, 1.6, 2.4, 3.2):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 1, "ingest finished before any kill; the test proved nothing"
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    got, want = _dump(project), _dump(reference)
    assert got == want
    leftovers = [p for p in project.media_dir.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_known_file_found_again_without_its_manifest_keeps_its_entity_subjects_and_clock(tmp_path: Path) -> None:
    """Re-ingesting the folder without the manifest, or a renamed copy from another folder, never
    re-files a known asset under a folder-named entity or drops its subjects (consent withdrawal
    finds people by them), context or clock: the new paths are recorded as duplicates."""
    data = tmp_path / "data"
    data.mkdir()
    mf.make_click_wav(data, "memo.wav")
    manifest = data / "manifest.yaml"
    manifest.write_text("""
entities:
  - {entity_id: stall-a, start_time: "2026-05-01T06:00:00Z"}
subjects:
  - {subject_id: caretaker-01, consent: {status: granted, scope: [voice], jurisdiction: EU}}
assets:
  - {path: memo.wav, entity_id: stall-a, mic: lav1, start_time: "2026-05-01T06:00:02.500Z",
     subjects: [caretaker-01], jurisdiction: EU, context: {lighting: day}}
""")
    project = init_project(tmp_path / "p")
    ingest(project, [data], manifest_path=manifest)
    keep = ("entity_id", "mic", "subject_ids", "jurisdiction", "context_json", "clock_source", "clock_offset_ns",
            "source_path")
    first = project.catalog().read("assets").to_pylist()[0]
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy2(data / "memo.wav", backup / "renamed.wav")
    again = ingest(project, [data, backup])  # no manifest this time
    assert (again.new_assets, again.known_assets) == (0, 1)
    rows = project.catalog().read("assets").to_pylist()
    assert len(rows) == 1 and {k: rows[0][k] for k in keep} == {k: first[k] for k in keep}
    assert rows[0]["entity_id"] == "stall-a" and rows[0]["subject_ids"] == ["caretaker-01"]
    assert rows[0]["duplicate_paths"] == [str(backup / "renamed.wav")]
    assert "data" not in {e["entity_id"] for e in project.catalog().read("entities").to_pylist()}
    shutil.rmtree(backup)
    moved = tmp_path / "moved"
    data.rename(moved)  # the folder moved: the path found now becomes the first, the gone copy is dropped
    fourth = ingest(project, [moved])
    assert (fourth.new_assets, fourth.known_assets) == (0, 1)
    assert [Path(q.path).name for q in fourth.quarantined] == ["manifest.yaml"]  # read as data without --manifest
    row = project.catalog().read("assets").to_pylist()[0]
    assert row["source_path"] == str(moved / "memo.wav") and row["duplicate_paths"] is None
    assert (row["entity_id"], row["subject_ids"]) == ("stall-a", ["caretaker-01"])


def test_a_path_that_does_not_exist_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    mf.make_click_wav(data, "x.wav")
    project = init_project(tmp_path / "p")
    with pytest.raises(ValueError, match=r"no such file or folder: .*/dtaa; check the path"):
        ingest(project, [data, tmp_path / "dtaa"])  # a typo beside a real folder: nothing half-done
    assert project.catalog().count("assets") == 0 and project.catalog().count("quarantine") == 0


def test_a_manifest_that_re_files_a_file_moves_what_is_its_own_and_names_what_it_leaves(tmp_path: Path) -> None:
    """A file re-filed under another entity takes its events with it (same IDs, the new entity's
    timeline) and drops a clock verified against the old entity's files; the old entity's segments
    stop listing it (one only it covered goes, unless labels target it); labels are never touched,
    and the ones made with it are named. Running the same manifest again changes nothing."""
    from syncline.align.segment import run_segmenters

    data = tmp_path / "data"
    data.mkdir()
    mf.make_click_wav(data, "memo.wav", seconds=2.0, click_s=0.5)
    mf.make_click_wav(data, "other.wav", seconds=1.0, click_s=0.3)
    mf.make_events_csv(data, "events.csv")
    manifest = data / "manifest.yaml"

    def write(entity: str, start: str) -> None:
        manifest.write_text(f"""
entities:
  - {{entity_id: stall-a, start_time: "2026-05-01T06:00:00Z"}}
  - {{entity_id: stall-b, start_time: "2026-05-01T07:00:00Z"}}
assets:
  - {{path: memo.wav, entity_id: {entity}, start_time: "{start}"}}
  - {{path: events.csv, entity_id: {entity}, start_time: "{start}"}}
  - {{path: other.wav, entity_id: stall-a, start_time: "2026-05-01T06:00:00Z"}}
""")

    project = init_project(tmp_path / "p")
    cat = project.catalog()
    write("stall-a", "2026-05-01T06:00:00Z")
    ingest(project, [data], manifest_path=manifest)
    ids = {Path(r["source_path"]).name: r["asset_id"] for r in cat.read("assets").to_pylist()}
    memo, other, log = ids["memo.wav"], ids["other.wav"], ids["events.csv"]
    events_before = {r["event_id"]: r for r in cat.read("events").to_pylist()}
    assert {r["entity_id"] for r in events_before.values()} == {"stall-a"}
    run_segmenters(project, ["fixed"], window_s=0.5, entity="stall-a")
    segs = {(r["t0_ns"], r["t1_ns"]): r for r in cat.read("segments").to_pylist()}
    only_memo = sorted(k for k, r in segs.items() if memo in r["asset_ids"] and set(r["asset_ids"]) <= {memo, log})
    both = [k for k, r in segs.items() if other in r["asset_ids"] and memo in r["asset_ids"]]
    assert len(only_memo) >= 2 and both  # memo (2 s) outlasts other (1 s)
    labelled = segs[only_memo[-1]]["segment_id"]
    cat.upsert("labels", [
        {"label_id": "l1", "target_type": "segment", "target_id": labelled, "field": "call", "value": "yes",
         "kind": "perception", "asset_ids": [memo]},
        {"label_id": "l2", "target_type": "segment", "target_id": segs[both[0]]["segment_id"], "field": "call",
         "value": "no", "kind": "perception", "asset_ids": [memo, other]},
        {"label_id": "l3", "target_type": "entity", "target_id": "stall-a", "field": "barn", "value": "north",
         "kind": "perception", "asset_ids": [other]}])
    row = cat.read("assets", where=f"asset_id = '{memo}'").to_pylist()[0]
    cat.upsert("assets", [row | {"clock_offset_ns": 123_000, "clock_source": "anchor"}])  # as `align --apply` does
    cat.upsert("runs", [{"run_id": "align-1", "kind": "align", "started_utc_ns": 1}])
    cat.upsert("clocks", [{"clock_id": "c1", "run_id": "align-1", "entity_id": "stall-a", "asset_id": memo,
                           "reference_asset_id": other, "method": "click", "verdict": "aligned"},
                          {"clock_id": "c2", "run_id": "align-1", "entity_id": "stall-a", "asset_id": other,
                           "reference_asset_id": memo, "method": "click", "verdict": "aligned", "applied": True}])
    with cat.connect() as con:
        assert sorted(r["asset_id"] for r in Q.latest_alignment(con)) == sorted([memo, other])

    write("stall-b", "2026-05-01T07:00:00.250Z")
    moved = ingest(project, [data], manifest_path=manifest)
    rows = {r["asset_id"]: r for r in cat.read("assets").to_pylist()}
    assert rows[memo]["entity_id"] == rows[log]["entity_id"] == "stall-b" and rows[other]["entity_id"] == "stall-a"
    assert rows[memo]["clock_source"] != "anchor" and rows[memo]["clock_offset_ns"] == 250_000_000
    events = {r["event_id"]: r for r in cat.read("events").to_pylist()}
    assert events.keys() == events_before.keys()
    for eid, ev in events.items():  # the same events, on stall-b's timeline
        assert ev["entity_id"] == "stall-b" and ev["t_ns"] == events_before[eid]["t_ns"] + 250_000_000
    after = {(r["t0_ns"], r["t1_ns"]): r for r in cat.read("segments").to_pylist()}
    assert all(memo not in (r["asset_ids"] or []) and log not in (r["asset_ids"] or []) for r in after.values())
    assert {k: after[k]["asset_ids"] for k in both} == {k: [other] for k in both}
    assert after[only_memo[-1]]["asset_ids"] is None  # a label targets it: kept, with no file behind it
    assert not set(only_memo[:-1]) & after.keys()  # the others only memo covered are gone
    assert sorted(r["label_id"] for r in cat.read("labels").to_pylist()) == ["l1", "l2", "l3"]
    with cat.connect() as con:  # neither its verdict on stall-a nor other.wav's against it counts any more
        assert Q.latest_alignment(con) == []
    notes = {n.split(":")[0]: n for n in moved.moved}
    assert notes.keys() == {"memo.wav", "events.csv"}
    assert "moved from stall-a to stall-b" in notes["memo.wav"] and "clock is nominal again" in notes["memo.wav"]
    listing_memo = sum(memo in r["asset_ids"] for r in segs.values())
    assert f"{listing_memo} segment(s) of stall-a no longer list it" in notes["memo.wav"]
    assert f"{len(only_memo) - 1} left with no file were removed; 1 left with no file keeps" in notes["memo.wav"]
    assert "2 label(s) made with it stay on stall-a" in notes["memo.wav"]  # l1 and l2, not l3
    assert "1 file(s) had their clock set against it" in notes["memo.wav"]  # other.wav (c2, applied)
    assert "its events moved with it" in notes["events.csv"] and "label(s)" not in notes["events.csv"]

    again = ingest(project, [data], manifest_path=manifest)  # the same manifest: nothing moves, nothing changes
    assert again.moved == []
    assert {(r["t0_ns"], r["t1_ns"]): r["asset_ids"] for r in cat.read("segments").to_pylist()} == \
        {k: r["asset_ids"] for k, r in after.items()}
    assert {r["event_id"]: (r["entity_id"], r["t_ns"]) for r in cat.read("events").to_pylist()} == \
        {k: (r["entity_id"], r["t_ns"]) for k, r in events.items()}
    manifest.write_text('assets:\n  - {path: memo.wav, start_time: "2026-05-01T07:00:00.250Z"}\n')  # no entity named
    kept = ingest(project, [data], manifest_path=manifest)  # a folder name never re-files a known file
    assert kept.moved == [] and {r["asset_id"]: r["entity_id"] for r in cat.read("assets").to_pylist()} == \
        {memo: "stall-b", log: "stall-b", other: "stall-a"}


def test_a_re_filed_transcript_loses_word_timings_fitted_to_the_old_entity(tmp_path: Path) -> None:
    """Forced-aligned word timings were fitted to the old entity's audio: they go with the move
    (align refines them again), and a split that counted the file with the old entity is named."""
    data = tmp_path / "data"
    data.mkdir()
    mf.make_srt(data, "subs.srt")
    mf.make_vtt(data, "stays.vtt")  # stays on stall-a, but its words were fitted to moving audio
    mf.make_click_wav(data, "mic.wav")
    manifest = data / "manifest.yaml"
    project = init_project(tmp_path / "p")
    cat = project.catalog()
    for entity in ("stall-a", "stall-b"):
        manifest.write_text(f"entities: [{{entity_id: stall-a}}, {{entity_id: stall-b}}]\n"
                            f"assets:\n  - {{path: subs.srt, entity_id: {entity}}}\n"
                            f"  - {{path: mic.wav, entity_id: {entity}}}\n"
                            "  - {path: stays.vtt, entity_id: stall-a}\n")
        summary = ingest(project, [data], manifest_path=manifest)
        if entity == "stall-a":
            ids = {Path(r["source_path"]).name: r["asset_id"] for r in cat.read("assets").to_pylist()}
            srt, vtt, mic = ids["subs.srt"], ids["stays.vtt"], ids["mic.wav"]
            cat.upsert("words", [{"word_id": f"w{t}{i}", "asset_id": t, "entity_id": "stall-a", "cue_index": 0,
                                  "word_index": i, "t0_ns": i, "t1_ns": i + 1, "method": "forced",
                                  "asset_ids": sorted([t, mic])} for t in (srt, vtt) for i in range(3)])
            cat.upsert("splits", [{"split_id": "s1", "split_set": "by-entity", "target_id": "x", "entity_id": "stall-a",
                                   "split": "train", "asset_ids": [srt]}])
            assert summary.moved == [] and cat.count("words") == 6
    assert cat.count("words") == 0 and cat.count("splits") == 1
    note = next(n for n in summary.moved if n.startswith("subs.srt"))
    assert note.startswith("subs.srt: moved from stall-a to stall-b")
    assert "refined word timings were removed" in note and "run `syncline split` again" in note
