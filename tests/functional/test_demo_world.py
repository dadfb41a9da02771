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
from scipy.ndimage import median_filter

from syncline.demo import WorldSummary, generate_world
from syncline.demo.world_scene import door_opening
from syncline.demo.world_video import CAMERAS
from syncline.manifest import load_manifest, parse_utc_ns
from syncline.timebase import Clock

pytestmark = pytest.mark.functional

EXPECTED_COUNTS = {"audio": 9, "events": 6, "image": 6, "metadata": 1, "sensor": 5,
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
    assert max(errors) <= 5_000_000_000 and sum(e > 0 for e in errors) > len(errors) // 2
    timed = [a["clock"]["clock_error_ns"] for a in truth["assets"].values()
             if a["modality"] in ("video", "sensor") or a.get("kind") == "stall_microphone"]
    assert min(timed) < -3_000_000_000 and max(timed) > 3_000_000_000


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
    # a keyframe inside the frozen run may re-encode it slightly; most steps are ~0, while the
    # live clip (sensor noise, a slowly shuffling animal) always changes a little
    assert float(np.percentile(diff[f0:f1 - 1], 80)) < 0.1 < 0.3 < float(np.median(diff))
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


# --- sync cues: what `syncline align` must find -------------------------------------------

ENV_RATE = 100  # Hz, the rate of the envelopes below
_U = np.linspace(0.0, 1.0, 100_001)
HALF_OPEN_U = float(_U[np.argmax(door_opening(_U) >= 0.5)])  # share of an opening swing


def _clock(a: dict[str, Any]) -> Clock:
    return Clock(offset_ns=a["clock"]["true_offset_ns"], drift_ppm=a["clock"]["drift_ppm"])


def _motion_envelope(path: Path, fps: int) -> np.ndarray:
    """Fraction of 8x8 blocks that changed since the previous frame, held at ENV_RATE on the
    clip's local time; robust to black/frozen defects (clipped at the 95th percentile)."""
    g = _grey_frames(path)
    h, w = g.shape[1] // 8 * 8, g.shape[2] // 8 * 8
    blocks = g[:, :h, :w].reshape(len(g), h // 8, 8, w // 8, 8).mean(axis=(2, 4))
    moved = np.concatenate([[0.0], (np.abs(np.diff(blocks, axis=0)) > 4.0).mean(axis=(1, 2))])
    moved = moved - median_filter(moved, size=3 * fps + 1)
    moved = np.clip(np.minimum(moved, np.percentile(moved, 95)), 0.0, None)
    # frame i shows the middle of its exposure [i, i + 1) / fps, so the change from frame i - 1
    # to frame i happened between (i - 1/2) / fps and (i + 1/2) / fps: hold it there
    t = np.arange(len(g) * ENV_RATE // fps) / ENV_RATE
    return np.asarray(moved[np.clip(np.round(t * fps).astype(int), 0, len(moved) - 1)])


def _audio_envelope(path: Path) -> np.ndarray:
    """Log energy in 100-3000 Hz above its running median, at ENV_RATE on local time."""
    with av.open(str(path)) as container:
        x = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    x = x.astype(np.float64) / (32768.0 if np.abs(x).max() > 2 else 1.0)
    hop, win = 16_000 // ENV_RATE, 512
    x = np.concatenate([np.zeros(win // 2), x])  # frame k is centred on sample k * hop
    n = (len(x) - win) // hop
    frames = x[np.arange(win)[None, :] + hop * np.arange(n)[:, None]] * np.hanning(win)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    f = np.fft.rfftfreq(win, 1 / 16_000)
    e = np.log(spec[:, (f >= 100) & (f <= 3000)].sum(axis=1) + 1e-6)
    return np.asarray(np.clip(e - median_filter(e, size=3 * ENV_RATE + 1), 0.0, None))


def _indicator(spans_ns: list[list[int]], n: int) -> np.ndarray:
    z = np.zeros(n)
    for a, b in spans_ns:
        z[a * ENV_RATE // 1_000_000_000:b * ENV_RATE // 1_000_000_000] = 1.0
    return z


def _xcorr(ref: np.ndarray, target: np.ndarray, max_lag_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised correlation of ``target[i + L]`` with ``ref[i]`` for lags L (in seconds)."""
    r = (ref - ref.mean()) / ref.std()
    t = (target - target.mean()) / target.std()
    lags = np.arange(-int(max_lag_s * ENV_RATE), int(max_lag_s * ENV_RATE) + 1)
    out = np.zeros(len(lags))
    for k, lag in enumerate(lags):
        i0, i1 = max(0, -lag), min(len(r), len(t) - lag)
        if i1 - i0 > 5 * ENV_RATE:
            out[k] = float((r[i0:i1] * t[i0 + lag:i1 + lag]).mean())
    return lags / ENV_RATE, out


def test_expected_lags_follow_the_align_convention_and_drifts_are_realistic(truth: dict[str, Any]) -> None:
    checked = 0
    for entity, sync in truth["sync"].items():
        ref = truth["assets"][sync["reference"]]
        for path, pair in sync["pairs"].items():
            rel = pair.get("true_match", pair)
            if "lag_ns" not in rel:
                continue
            r, t = _clock(truth["assets"][rel["reference"]]), _clock(truth["assets"][path])
            for ref_local in (0, 10_000_000_000, 25_000_000_000):
                target_local = t.to_local(entity_ns=r.to_entity(local_ns=ref_local))
                predicted = ref_local * (1 + rel["drift_ppm"] * 1e-6) + rel["lag_ns"]
                assert abs(predicted - target_local) < 2_000, (entity, path)
            assert rel["correction_ns"] == rel["lag_ns"] - rel["nominal_lag_ns"]
            checked += 1
        assert ref["sync"]["role"] == "reference"
    assert checked >= 25
    drifts = {a.get("kind", a["modality"]): a["clock"]["drift_ppm"] for a in truth["assets"].values()
              if "clock" in a}
    sensors = [a["clock"]["drift_ppm"] for a in truth["assets"].values() if a["modality"] == "sensor"]
    mics = [a["clock"]["drift_ppm"] for a in truth["assets"].values() if a.get("kind") == "stall_microphone"]
    assert drifts["events"] == 0.0
    assert all(120 <= d <= 180 for d in sensors) and all(-80 <= d <= -40 for d in mics)


def test_most_stall_days_carry_dense_av_cues_and_one_is_sparse(truth: dict[str, Any]) -> None:
    sync = truth["sync"]
    sparse = [e for e, s in sync.items() if s["sparse"]]
    assert sparse == ["stall-c-2026-05-01"]
    for entity, s in sync.items():
        scene = truth["scenes"][entity]
        if s["sparse"]:
            assert s["cues_in_reference"] <= 4 and s["door_events"] < 8
            assert s["av_cues_per_min"] < 10
            assert all(p["expect"] == "abstain" for p in s["pairs"].values())
            continue
        assert s["cues_in_reference"] >= 12 and s["door_events"] >= 8
        assert s["door_events_in_reference"] >= 4
        assert s["av_cues_per_min"] is None or s["av_cues_per_min"] >= 20
        for cue, nxt in zip(scene["cues"], scene["cues"][1:], strict=False):  # never overlapping
            assert cue["audible_entity_ns"][1] < nxt["audible_entity_ns"][0]
        for path, pair in s.get("sensor_vs_events", {}).items():
            assert pair["expect"] == "aligned" and pair["shared_cues"] >= 16, path
    with_mic = [s for s in sync.values() if s["av_cues_per_min"] is not None and not s["sparse"]]
    assert len(with_mic) == 3


def test_every_cue_is_a_motion_burst_at_its_true_frames_in_decoded_video(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    for path, a in _assets(truth, modality="video").items():
        fps = a["video"]["fps"]
        env = _motion_envelope(world.out_dir / path, fps)
        truth_env = _indicator([c["local_ns"] for c in a["cues"]], len(env))
        lags, c = _xcorr(truth_env, env, 3.0)
        assert abs(lags[np.argmax(c)]) <= 1.0 / fps, path  # at the true frames, within a frame
        assert c.max() > 0.45, path


def test_a_planted_door_swing_is_large_motion_in_the_doorway_and_nowhere_else_in_time(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    path = "data/video/stall-b-2026-05-01_cam1.mp4"  # a clip without defects
    a = truth["assets"][path]
    x0, x1, y0, y1 = CAMERAS["cam1"].door
    h, w = a["video"]["height"], a["video"]["width"]
    grey = _grey_frames(world.out_dir / path)[:, int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]
    diff = np.abs(np.diff(grey, axis=0)).mean(axis=(1, 2))  # diff[i]: frame i -> i + 1
    swinging = np.zeros(len(diff), dtype=bool)
    doors = [c for c in a["cues"] if c["kind"].startswith("door")]
    assert len(doors) == 6
    for c in doors:
        i0, i1 = c["frames"]
        swinging[max(i0 - 1, 0):i1] = True
        assert diff[max(i0 - 1, 0):i1].max() > 20.0, c
    assert diff[~swinging].max() < 5.0
    # the event log says when the door opened, on the exact barn clock
    log = [json.loads(line) for line in (world.out_dir / "data/events/stall-b-2026-05-01.jsonl")
           .read_text(encoding="utf-8").splitlines()]
    start = parse_utc_ns(truth["entities"]["stall-b-2026-05-01"]["start_time"])
    opens = {parse_utc_ns(e["t"]) - start for e in log if e["type"] == "door_open"}
    assert {c["onset_ns"] for c in doors if c["kind"] == "door_open"} <= opens


def test_stall_microphones_sound_every_cue_at_its_true_local_time(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    for path, a in truth["assets"].items():
        if a.get("kind") != "stall_microphone" or truth["scenes"][a["entity_id"]]["sparse"]:
            continue
        env = _audio_envelope(world.out_dir / path)
        spans = [c["local_ns"] for c in a["calls"]] + [d["local_ns"] for d in a["door_sounds"]]
        lags, c = _xcorr(_indicator(spans, len(env)), env, 3.0)
        assert abs(lags[np.argmax(c)]) <= 0.03, path
        assert c.max() > 0.5, path
        thuds = [d for d in a["door_sounds"] if d["kind"] == "thud"]
        assert len(thuds) == 3 and len(a["calls"]) >= 8


def test_content_gives_the_planted_av_lag_not_the_manifest_one(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    sync = truth["sync"]["stall-b-2026-05-01"]
    mic = "data/audio/stall-b-2026-05-01_mic1.m4a"
    pair = sync["pairs"][mic]
    video = _motion_envelope(world.out_dir / sync["reference"], 8)
    lags, c = _xcorr(video, _audio_envelope(world.out_dir / mic), 8.0)
    best = float(lags[np.argmax(c)])
    assert abs(best - pair["lag_ns"] / 1e9) < 0.15
    assert abs(pair["correction_ns"]) > 1_000_000_000  # the manifest is seconds off
    assert abs(best - pair["nominal_lag_ns"] / 1e9) > 1.0


def test_the_misattached_mic_matches_its_true_stall_day_not_the_claimed_one(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    path = "data/audio/stall-a-2026-05-02_mic1.wav"
    assert truth["misattached"] == [{"path": path, "modality": "audio",
                                     "claimed_entity_id": "stall-a-2026-05-02",
                                     "true_entity_id": "stall-a-2026-05-01"}]
    row = next(a for a in load_manifest(world.manifest_path).assets if a.path == path)
    assert row.entity_id == "stall-a-2026-05-02"
    a = truth["assets"][path]
    assert a["sync"]["expect"] == "no_plausible_alignment"
    scene_calls = {c["onset_ns"] for c in truth["scenes"]["stall-a-2026-05-01"]["cues"] if c["kind"] == "call"}
    assert {c["entity_ns"][0] for c in a["calls"]} <= scene_calls
    env = _audio_envelope(world.out_dir / path)
    true_ref = a["sync"]["true_match"]["reference"]
    lags, right = _xcorr(_motion_envelope(world.out_dir / true_ref, 8), env, 8.0)
    _, wrong = _xcorr(_motion_envelope(world.out_dir / a["sync"]["reference"], 8), env, 8.0)
    assert abs(lags[np.argmax(right)] - a["sync"]["true_match"]["lag_ns"] / 1e9) < 0.15
    assert right.max() > 1.3 * wrong.max()


def _sensor_local_ns(rows: list[dict[str, str]], column: str) -> np.ndarray:
    if column == "time":
        stamps = np.array([parse_utc_ns(r["time"]) for r in rows], dtype=np.int64)
        return stamps - stamps[0]
    return np.array([round(float(r[column]) * 1e9) for r in rows], dtype=np.int64)


def test_door_transients_sit_in_the_sensor_csv_at_the_true_times_through_the_logger_clock(
    world: WorldSummary, truth: dict[str, Any]
) -> None:
    for path, a in _assets(truth, modality="sensor").items():
        with (world.out_dir / path).open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        local = _sensor_local_ns(rows, a["sensor"]["time_column"])
        door = np.array([int(r["door[0/1]"]) for r in rows])
        lux = np.array([float(r["lux[lx]"]) for r in rows])
        row_ns = 1_000_000_000 // a["sensor"]["rate_hz"]
        flips = local[1:][np.diff(door) != 0]
        planted = a["door_events"]
        assert len(planted) >= 16
        assert sorted(flips.tolist()) == sorted(e["row"] * row_ns for e in planted), path
        clock = _clock(a)
        for e in planted:  # the flip is the first sample at or after the true instant
            lag = clock.to_entity(local_ns=e["row"] * row_ns) - e["entity_ns"]
            assert 0 <= lag < row_ns * (1 + 1e-3), (path, e)
        # the light ramp of each opening measures the logger's drift against the exact log
        cycles = truth["scenes"][a["entity_id"]]["door_cycles"]
        mids, crossings = [], []
        for d in cycles:  # the instant the opening door is half open (its light half up)
            mid = d["open_ns"] + int(round(HALF_OPEN_U * (d["opened_ns"] - d["open_ns"])))
            i = int(np.searchsorted(local, clock.to_local(entity_ns=mid)))
            if i < 15 or i + 15 > len(local) or local[i + 10] - local[i - 10] != 20 * row_ns:
                continue
            lo, hi = np.median(lux[i - 15:i - 8]), np.median(lux[i + 8:i + 15])
            assert hi - lo > 40.0, (path, d)
            j = i - 8 + int(np.argmax(lux[i - 8:i + 8] >= (lo + hi) / 2))
            frac = ((lo + hi) / 2 - lux[j - 1]) / (lux[j] - lux[j - 1])
            crossings.append(local[j - 1] + frac * row_ns)
            mids.append(mid)
        slope = np.polyfit(np.array(mids, dtype=np.float64), np.array(crossings), 1)[0]
        drift_ppm = (1.0 / slope - 1.0) * 1e6
        assert len(mids) >= 12 and abs(drift_ppm - a["clock"]["drift_ppm"]) < 25.0, (path, drift_ppm)
