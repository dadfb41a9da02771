"""The demo world is real media whose planted ground truth holds up under real decoders."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
import soundfile as sf

from syncline.demo import WorldSummary, generate_world
from syncline.manifest import load_manifest, parse_utc_ns

pytestmark = pytest.mark.functional

EXPECTED_COUNTS = {"audio": 9, "events": 6, "image": 5, "metadata": 1, "sensor": 5,
                   "transcript": 8, "video": 10}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    t0 = time.perf_counter()
    summary = generate_world(tmp_path_factory.mktemp("demo") / "farm", seed=7)
    print(f"\ndemo world generated in {time.perf_counter() - t0:.1f} s: "
          f"{summary.n_files} files, {summary.total_bytes / 1e6:.1f} MB")
    return summary


@pytest.fixture(scope="module")
def truth(world: WorldSummary) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(world.ground_truth_path.read_text(encoding="utf-8"))
    return data


def _assets(truth: dict[str, Any], **match: str) -> dict[str, dict[str, Any]]:
    return {p: a for p, a in truth["assets"].items() if all(a.get(k) == v for k, v in match.items())}


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _grey_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24").mean(axis=2) for f in container.decode(video=0)]
    return np.stack(frames)


def test_same_seed_gives_identical_ground_truth_and_identical_files(
    world: WorldSummary, tmp_path: Path
) -> None:
    t0 = time.perf_counter()
    again = generate_world(tmp_path / "farm", seed=7)
    print(f"\nsecond generation: {time.perf_counter() - t0:.1f} s")
    assert again.ground_truth_path.read_bytes() == world.ground_truth_path.read_bytes()
    assert again.manifest_path.read_bytes() == world.manifest_path.read_bytes()
    first, second = _digests(world.out_dir / "data"), _digests(again.out_dir / "data")
    assert sorted(first) == sorted(second)
    assert [p for p in first if first[p] != second[p]] == []


def test_counts_agree_between_summary_manifest_truth_and_disk(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    manifest = load_manifest(world.manifest_path)
    by_modality = Counter(a.modality or "" for a in manifest.assets)
    assert dict(world.counts) == EXPECTED_COUNTS == dict(by_modality)
    assert truth["counts"]["by_modality"] == EXPECTED_COUNTS
    assert world.bad_files == truth["counts"]["bad_files"] == 3
    listed = {a.path for a in manifest.assets} | {b["path"] for b in truth["bad_files"]}
    on_disk = {str(p.relative_to(world.out_dir)) for p in (world.out_dir / "data").rglob("*")
               if p.is_file()}
    assert listed == on_disk and world.n_files == len(on_disk)
    assert not any(a.path.startswith("data/incoming/") for a in manifest.assets)
    assert {s.subject_id: s.consent.status for s in manifest.subjects} == {
        "caretaker-01": "granted", "caretaker-02": "withdrawn", "caretaker-03": "pending"}


def test_manifest_start_times_are_the_nominal_clocks_of_the_truth(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    manifest = load_manifest(world.manifest_path)
    starts = {e.entity_id: parse_utc_ns(e.start_time or "") for e in manifest.entities}
    assert len(starts) == 6
    errors = []
    for a in manifest.assets:
        if a.entity_id is None:
            continue
        clock = truth["assets"][a.path]["clock"]
        assert parse_utc_ns(a.start_time or "") - starts[a.entity_id] == clock["nominal_offset_ns"]
        errors.append(abs(clock["clock_error_ns"]))
    assert max(errors) <= 2_000_000_000 and sum(e > 0 for e in errors) > len(errors) // 2


def test_imbalance_and_missing_modalities_are_planted(truth: dict[str, Any]) -> None:
    calls = truth["class_balance"]["calls"]
    assert 0 < calls["distress"] * 5 < calls["call"]
    lighting = truth["capture_conditions"]["video"]
    assert 0 < lighting["night"] < lighting["day"]
    for entity_id, missing in truth["missing_modalities"].items():
        assert not set(missing) & set(truth["entities"][entity_id]["present"])
    missing_kinds = {m for ms in truth["missing_modalities"].values() for m in ms}
    assert {"audio:mic", "sensor", "video:cam2"} <= missing_kinds


def test_probed_video_duration_and_fps_match_the_truth(world: WorldSummary, truth: dict[str, Any]) -> None:
    videos = _assets(truth, modality="video")
    assert len(videos) == 10
    for path, a in videos.items():
        v = a["video"]
        with av.open(str(world.out_dir / path)) as container:
            stream = container.streams.video[0]
            assert stream.average_rate == v["fps"], path
            assert stream.frames == v["frame_count"], path
            assert (stream.width, stream.height) == (v["width"], v["height"])
            assert stream.duration is not None and stream.time_base is not None
            duration_ns = int(stream.duration * stream.time_base * 1_000_000_000)
            assert abs(duration_ns - v["duration_ns"]) < 1_000_000_000 // v["fps"], path


def test_planted_black_frames_are_black_and_no_other_frame_is(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    checked = 0
    for path, a in _assets(truth, modality="video").items():
        black = [d for d in a["defects"] if d["kind"] == "black"]
        if not black:
            continue
        luma = _grey_frames(world.out_dir / path).mean(axis=(1, 2))
        planted = np.zeros(len(luma), dtype=bool)
        for d in black:
            planted[d["frames"][0]:d["frames"][1]] = True
        assert luma[planted].max() < 5.0, path
        assert luma[~planted].min() > 40.0, path
        checked += 1
    assert checked == 2


def test_frozen_frames_repeat_and_blurred_frames_lose_edges(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    path = "data/video/stall-c-2026-05-01_cam1.mp4"
    grey = _grey_frames(world.out_dir / path)
    diff = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))
    edges = np.abs(4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1]
                   - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:]).mean(axis=(1, 2))
    defects = {d["kind"]: d["frames"] for d in truth["assets"][path]["defects"]}
    f0, f1 = defects["frozen"]
    b0, b1 = defects["blurred"]
    # a keyframe inside the frozen run may re-encode it slightly; most steps are ~0
    assert float(np.percentile(diff[f0:f1 - 1], 80)) < 0.1 < 0.5 < float(np.median(diff))
    assert edges[b0:b1].max() < 0.5 * float(np.median(edges))


def test_clipped_span_hits_full_scale_and_silent_span_is_silent(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    path = "data/audio/stall-a-2026-05-02_mic1.wav"
    faults = truth["assets"][path]["faults"]
    pcm, rate = sf.read(str(world.out_dir / path), dtype="int16")
    assert rate == 16_000 and len(pcm) == truth["assets"][path]["audio"]["n_samples"]
    magnitude = np.abs(pcm.astype(np.int32))
    clipped = np.zeros(len(pcm), dtype=bool)
    for f in faults["clipped"]:
        a, b = f["samples"]
        assert magnitude[a:b].max() == 32767
        assert (magnitude[a:b] == 32767).sum() > 100
        clipped[a:b] = True
    assert magnitude[~clipped].max() < 32767
    for f in faults["silent"]:
        a, b = f["samples"]
        assert magnitude[a:b].max() == 0


def test_distress_calls_are_the_loudest_calls_in_decoded_aac(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    path = "data/audio/stall-b-2026-05-01_mic1.m4a"
    a = truth["assets"][path]
    with av.open(str(world.out_dir / path)) as container:
        x = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    rate = a["audio"]["sample_rate"]

    def rms(span: list[int]) -> float:
        seg = x[span[0] * rate // 1_000_000_000:span[1] * rate // 1_000_000_000]
        return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2)))

    distress = [rms(c["local_ns"]) for c in a["calls"] if c["class"] == "distress"]
    normal = [rms(c["local_ns"]) for c in a["calls"] if c["class"] == "call"]
    assert len(distress) == 1 and distress[0] > max(normal)


def test_photo_exif_gps_is_read_back_by_exiftool(world: WorldSummary, truth: dict[str, Any]) -> None:
    path = "data/photos/stall-c-2026-05-02_photo-05.jpg"
    privacy = truth["assets"][path]["privacy"]
    out = subprocess.run(
        ["exiftool", "-j", "-n", "-a", "-G1", "-GPS:GPSLatitude", "-GPS:GPSLongitude",
         "-XMP-exif:GPSLatitude", "-ExifIFD:DateTimeOriginal", "-IFD0:Make", "-File:Comment",
         str(world.out_dir / path)],
        capture_output=True, check=True, text=True,
    )
    tags = json.loads(out.stdout)[0]
    assert tags["GPS:GPSLatitude"] == pytest.approx(privacy["gps"]["lat"], abs=1e-6)
    assert tags["GPS:GPSLongitude"] == pytest.approx(privacy["gps"]["lon"], abs=1e-6)
    assert tags["XMP-exif:GPSLatitude"] == pytest.approx(privacy["gps"]["lat"], abs=1e-6)
    assert tags["ExifIFD:DateTimeOriginal"] == privacy["exif"]["DateTimeOriginal"]
    assert tags["IFD0:Make"] == privacy["exif"]["Make"]
    assert tags["File:Comment"] == privacy["jpeg_comment"]


def test_transcript_cues_are_exact_and_the_gaps_between_them_are_silent(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    path = "data/memos/stall-b-2026-05-01_memo-02.wav"
    memo = truth["assets"][path]
    pcm, rate = sf.read(str(world.out_dir / path), dtype="int16")
    srt = (world.out_dir / memo["transcripts"][0]).read_text(encoding="utf-8")
    stamps = re.findall(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})", srt)
    assert len(stamps) == len(memo["sentences"]) == 4

    def ms(h: str, m: str, s: str, f: str) -> int:
        return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(f)

    for stamp, sentence in zip(stamps, memo["sentences"], strict=True):
        t0, t1 = ms(*stamp[:4]), ms(*stamp[4:])
        assert [t0 * 1_000_000, t1 * 1_000_000] == sentence["local_ns"]
        assert np.abs(pcm[t0 * rate // 1000:t1 * rate // 1000]).max() > 3000
    for prev, nxt in zip(memo["sentences"], memo["sentences"][1:], strict=False):
        gap = pcm[prev["local_ns"][1] * rate // 1_000_000_000:nxt["local_ns"][0] * rate // 1_000_000_000]
        assert len(gap) > 0 and np.abs(gap).max() == 0


def test_sensor_csv_carries_the_planted_glitches(world: WorldSummary, truth: dict[str, Any]) -> None:
    for path, a in _assets(truth, modality="sensor").items():
        with (world.out_dir / path).open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        s, g = a["sensor"], a["glitches"]
        assert len(rows) == s["rows"] < s["expected_rows"]
        assert list(rows[0]) == [s["time_column"], *s["columns"]]
        temps = [float(r["temperature[degC]"]) for r in rows]
        assert temps.count(g["spikes"][0]["value"]) == 1
        assert max(t for t in temps if t != g["spikes"][0]["value"]) < 30.0


def test_bad_files_are_really_bad(world: WorldSummary, truth: dict[str, Any]) -> None:
    kinds = {b["kind"]: world.out_dir / b["path"] for b in truth["bad_files"]}
    assert set(kinds) == {"truncated", "empty", "wrong_extension"}
    assert kinds["empty"].stat().st_size == 0
    assert not kinds["wrong_extension"].read_bytes().startswith(b"\xff\xd8")
    decoded = 0
    with pytest.raises(av.error.FFmpegError), av.open(str(kinds["truncated"])) as container:
        for _ in container.decode(video=0):
            decoded += 1
    assert 0 < decoded < 48
