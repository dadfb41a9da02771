"""Segments and aligned tuples on real files with known clocks: frame and sample ranges,
words, sensor rows and events land where the clocks say; segment IDs are stable."""

from __future__ import annotations

from pathlib import Path

import mediafiles as mf
import pytest

from syncline.align.segment import run_segmenters
from syncline.align.tuples import build_tuples, export_parquet, export_webdataset
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    data = tmp_path_factory.mktemp("data")
    mf.make_video(data, "cam.mp4", seconds=4.0, fps=10, audio=False)
    mf.make_click_wav(data, "mic.wav")  # 16 kHz
    mf.make_sensor_csv(data, "imu.csv", rate_hz=10, seconds=4.0)
    mf.make_srt(data, "memo.srt")
    (data / "manifest.yaml").write_text("""
entities:
  - {entity_id: e, start_time: "2026-05-01T06:00:00Z"}
assets:
  - {path: cam.mp4, entity_id: e, camera: cam1, start_time: "2026-05-01T06:00:00Z"}
  - {path: mic.wav, entity_id: e, mic: m1, start_time: "2026-05-01T06:00:01Z"}
  - {path: imu.csv, entity_id: e, start_time: "2026-05-01T06:00:00.5Z"}
  - {path: memo.srt, entity_id: e, start_time: "2026-05-01T06:00:00Z"}
""")
    p = init_project(tmp_path_factory.mktemp("proj") / "p")
    ingest(p, [data], manifest_path=data / "manifest.yaml")
    return p


def test_fixed_windows_give_stable_ids_and_exact_frame_sample_and_row_ranges(project: Project) -> None:
    first = run_segmenters(project, ["fixed"], window_s=1.0)
    again = run_segmenters(project, ["fixed"], window_s=1.0)
    assert first == again and project.catalog().count("segments") == first["fixed"]
    rows = {r["t0_ns"]: r for r in build_tuples(project, segmenter="fixed-1s@2").to_pylist()}
    win = rows[2_000_000_000]                              # entity [2 s, 3 s)
    assert win["video"][0]["frame_start"] == 20 and win["video"][0]["frame_end"] == 30
    sr = project.catalog().read("assets", where="modality = 'audio'").to_pylist()[0]["sample_rate"]
    assert win["audio"][0]["sample_start"] == 1 * sr and win["audio"][0]["sample_end"] == 2 * sr  # mic starts at 1 s
    assert win["sensor"][0]["row_start"] == 15 and win["sensor"][0]["row_end"] == 25        # sensor starts at 0.5 s
    assert set(win["modalities"]) >= {"video", "audio", "sensor"}
    assert dict(win["coverage"])["video"] == pytest.approx(1.0)
    assert win["in_sync"] is False  # nothing verified these clocks yet


def test_cue_segments_carry_their_words(project: Project) -> None:
    counts = run_segmenters(project, ["cues"])
    assert counts["cues"] >= 2
    rows = build_tuples(project, segmenter="cues@1").to_pylist()
    assert all(r["words"] for r in rows)
    assert all(w["t0_ns"] < r["t1_ns"] and w["t1_ns"] > r["t0_ns"] for r in rows for w in r["words"])


def test_exports_write_parquet_and_webdataset_shards(project: Project, tmp_path: Path) -> None:
    import tarfile

    import pyarrow.parquet as pq

    table = build_tuples(project, segmenter="fixed-1s@2")
    path = export_parquet(table, tmp_path / "pq")
    assert pq.read_table(path).num_rows == table.num_rows
    shards = export_webdataset(table, tmp_path / "wds", per_shard=2)
    names = [n for s in shards for n in tarfile.open(s).getnames()]
    keys = table.column("segment_id").to_pylist()
    assert sorted(n for n in names if n.endswith(".json")) == sorted(f"{k}.json" for k in keys)
    assert len(shards) == (table.num_rows + 1) // 2
