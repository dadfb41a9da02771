"""The media audit on files made here with known defects: black, frozen and blurred frames in an
H.264 clip; a dropout and a clipped burst in a WAV; a spike, a stuck reading and missing rows in
a sensor CSV. Every planted defect is found where it was planted (within a frame, a 10 ms audio
frame, a sensor row), nothing else is, spans land on the entity timeline through the clock,
the findings become per-segment quality columns, a re-run replaces them, an unreadable file is
reported while the rest is audited, and a check without data says why it did not run."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from syncline.align.segment import run_segmenters
from syncline.audit.run import run_audit
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

FPS, N_FRAMES, W, H = 10, 120, 160, 120
VIDEO = {"black": (20, 32), "frozen": (50, 70), "blurred": (90, 105)}   # frame ranges [i0, i1)
RATE = 16000
AUDIO = {"silent": (2.0, 2.8), "clipped": (4.0, 4.3)}                   # seconds
SENSOR_HZ = 10
SENSOR = {"spike": (150, 151), "stuck": (300, 360), "gap": (500, 540)}  # rows [i0, i1); gap rows are dropped


def _video(path: Path) -> None:
    rng = np.random.default_rng(0)
    texture = uniform_filter(rng.uniform(0, 255, (H, 2 * W)), 3)
    frames = np.empty((N_FRAMES, H, W), np.float64)
    for i in range(N_FRAMES):  # a pan over a texture with sensor noise: live video that always changes
        frames[i] = texture[:, i % W: i % W + W] + rng.normal(0, 4, (H, W))
    i0, i1 = VIDEO["black"]
    frames[i0:i1] = 0
    i0, i1 = VIDEO["frozen"]
    frames[i0:i1] = frames[i0 - 1]
    i0, i1 = VIDEO["blurred"]
    frames[i0:i1] = uniform_filter(frames[i0:i1], size=(1, 11, 11))
    raw = np.clip(frames, 0, 255).astype(np.uint8)
    rgb = np.repeat(raw[..., None], 3, axis=3)
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                    "-s", f"{W}x{H}", "-r", str(FPS), "-i", "-", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", str(path)], input=rgb.tobytes(), check=True)


def _audio(path: Path) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(6 * RATE) / RATE
    x = 0.01 * rng.normal(size=t.size) + 0.2 * np.sin(2 * np.pi * 300 * t)
    a, b = (int(s * RATE) for s in AUDIO["silent"])
    x[a:b] = 0.0
    a, b = (int(s * RATE) for s in AUDIO["clipped"])
    x[a:b] *= 8.0
    pcm = (np.clip(x, -1, 32767 / 32768) * 32768).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def _sensor(path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 80 * SENSOR_HZ
    t = np.arange(n) / SENSOR_HZ
    temp = 20 + 0.5 * np.sin(t / 7) + rng.normal(0, 0.05, n)
    hum = 60 + 2 * np.sin(t / 11) + rng.normal(0, 0.2, n)
    door = (np.sin(t / 5) > 0.9).astype(float)  # a switch: long runs of one value are normal
    temp[SENSOR["spike"][0]] = 85.0
    s0, s1 = SENSOR["stuck"]
    hum[s0:s1] = hum[s0]
    keep = np.ones(n, bool)
    keep[SENSOR["gap"][0]:SENSOR["gap"][1]] = False
    rows = np.column_stack([t, np.round(temp, 2), np.round(hum, 2), door])[keep]
    np.savetxt(path, rows, delimiter=",", fmt=["%.1f", "%.2f", "%.2f", "%d"],
               header="t[s],temperature[degC],humidity[%],door[0/1]", comments="")


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Any, dict[str, Any]]:
    root = tmp_path_factory.mktemp("audit")
    data = root / "data" / "pen-1"
    data.mkdir(parents=True)
    _video(data / "cam.mp4")
    _audio(data / "mic.wav")
    _sensor(data / "ths.csv")
    p = init_project(root / "p")
    ingest(p, [data.parent])
    cat = p.catalog()
    assets = {Path(a["source_path"]).name: a for a in cat.read("assets").to_pylist()}
    mic = assets["mic.wav"]
    cat.upsert("assets", [mic | {"clock_offset_ns": 1_500_000_000, "clock_source": "estimated"}])  # runs 1.5 s late
    run_segmenters(p, ["fixed"], window_s=1.0)
    report = run_audit(p, ["media"])
    return p, report, assets


def _findings(p: Project) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in p.catalog().read("findings").to_pylist():
        out.setdefault(f["check"], []).append(f | {"details": json.loads(f["details_json"])})
    return out


def test_every_planted_defect_is_found_where_it_was_planted_and_nothing_else(audited) -> None:  # type: ignore[no-untyped-def]
    p, report, _ = audited
    (media,) = report.results
    assert media.ran and not media.errors
    found = _findings(p)
    assert set(found) == {"media.video.black", "media.video.frozen", "media.video.blurred", "media.audio.silent",
                          "media.audio.clipped", "media.sensor.spike", "media.sensor.stuck", "media.sensor.gap"}
    assert all(len(v) == 1 for v in found.values()), {k: len(v) for k, v in found.items()}
    for kind, (i0, i1) in VIDEO.items():
        f0, f1 = found[f"media.video.{kind}"][0]["details"]["frames"]
        # the encoder refines a repeated noisy picture for up to ~0.7 s before it decodes to itself
        slack = 8 if kind == "frozen" else 1
        assert abs(f0 - i0) <= slack and abs(f1 - i1) <= 1, (kind, (f0, f1), (i0, i1))
    for kind, (s0, s1) in AUDIO.items():
        a, b = found[f"media.audio.{kind}"][0]["details"]["local_ns"]
        assert abs(a / 1e9 - s0) <= 0.011 and abs(b / 1e9 - s1) <= 0.011, (kind, a, b)
    assert found["media.sensor.spike"][0]["details"]["rows"] == [SENSOR["spike"][0], SENSOR["spike"][1]]
    assert found["media.sensor.spike"][0]["details"]["column"] == "temperature"
    r0, r1 = found["media.sensor.stuck"][0]["details"]["rows"]
    assert found["media.sensor.stuck"][0]["details"]["column"] == "humidity" and abs(r0 - 300) <= 1 and r1 == 360
    g0, g1 = found["media.sensor.gap"][0]["details"]["local_ns"]
    assert (g0, g1) == ((SENSOR["gap"][0] - 1) * 100_000_000, SENSOR["gap"][1] * 100_000_000)


def test_spans_are_on_the_entity_timeline_and_become_quality_columns(audited) -> None:  # type: ignore[no-untyped-def]
    p, _, _ = audited
    silent = _findings(p)["media.audio.silent"][0]
    assert silent["t0_ns"] == silent["details"]["local_ns"][0] + 1_500_000_000  # through the mic's clock
    quality = {(q["segmenter"], q["t0_ns"]): q for q in p.catalog().read("quality").to_pylist()}
    second = 1_000_000_000
    assert quality[("fixed-1s@2", 3 * second)]["audio_silent"] == pytest.approx(0.5, abs=0.02)  # 3.5..4.3 s
    assert quality[("fixed-1s@2", 4 * second)]["audio_silent"] == pytest.approx(0.3, abs=0.02)
    assert quality[("fixed-1s@2", 2 * second)]["video_black"] == pytest.approx(1.0)             # frames 20..32
    assert quality[("fixed-1s@2", 10 * second)]["video_black"] == 0.0
    assert quality[("fixed-1s@2", 6 * second)]["video_frozen"] == pytest.approx(1.0)           # frames 57..70


def test_a_rerun_replaces_and_an_unreadable_file_does_not_stop_the_rest(audited, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    p, _, assets = audited
    before = p.catalog().count("findings")
    again = run_audit(p, ["media"])
    assert p.catalog().count("findings") == before and again.results[0].ran
    # the mic's clock moves: the re-run's silent span moves with it and the old one is gone
    silent = _findings(p)["media.audio.silent"]
    mic = p.catalog().read("assets", where=f"asset_id = '{assets['mic.wav']['asset_id']}'").to_pylist()[0]
    p.catalog().upsert("assets", [mic | {"clock_offset_ns": 3_000_000_000}])
    run_audit(p, ["media"])
    moved = _findings(p)["media.audio.silent"]
    assert len(moved) == 1 and moved[0]["t0_ns"] == silent[0]["t0_ns"] + 1_500_000_000
    assert p.catalog().count("findings") == before
    # a file that vanished: reported by name; the others are audited
    mic = p.catalog().read("assets", where=f"asset_id = '{assets['mic.wav']['asset_id']}'").to_pylist()[0]
    p.catalog().upsert("assets", [mic | {"managed_path": None, "source_path": str(tmp_path / "gone" / "mic.wav")}])
    third = run_audit(p, ["media"]).results[0]
    assert len(third.errors) == 1 and third.errors[0].startswith("mic.wav:")
    assert {f.check for f in third.findings} >= {"media.video.black", "media.sensor.gap"}
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "audit", "-p", str(p.root), "--check", "nothing"],
                         capture_output=True, text=True)
    assert cli.returncode == 2 and "unknown check(s) nothing" in cli.stderr


def test_a_check_without_data_says_why(tmp_path: Path) -> None:
    p = init_project(tmp_path / "empty")
    results = {r.check: r for r in run_audit(p).results}
    assert not results["media"].ran and "ingest some first" in str(results["media"].why_not)
    assert not results["alignment"].ran and "syncline align" in str(results["alignment"].why_not)
    assert not results["imbalance"].ran and "no label schema" in str(results["imbalance"].why_not)
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "audit", "-p", str(p.root)], capture_output=True,
                         text=True)
    assert cli.returncode == 0 and "did not run" in cli.stdout


def test_ten_bit_video_is_read_as_grey_levels_not_bytes(tmp_path: Path) -> None:
    from syncline.audit.video_quality import defect_runs, frame_stats

    for colour in ("black", "gray"):
        path = tmp_path / f"{colour}10.mkv"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"color={colour}:s=64x48:r=10:d=1", "-pix_fmt", "yuv420p10le", "-c:v", "ffv1", str(path)],
                       check=True)
        stats = frame_stats(path)
        runs = defect_runs(stats)
        if colour == "black":
            assert runs["black"] == [(0, 10)] and float(stats.mean.max()) < 30
        else:
            assert 100 < float(stats.mean.mean()) < 150 and not runs["overexposed"] and not runs["black"]
