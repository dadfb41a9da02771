"""Planting rates: a demo world whose media defects are drawn per file, with ground truth that says
exactly what was planted — so an audit can be scored on a world nobody tuned it on.

Two worlds are generated once each (rates all 0, rates all 1); the default table is checked by
calling the per-file generators of the seed-7 world directly (the whole default world is already
pinned by ``test_demo_world``)."""

from __future__ import annotations

import csv
import json
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from syncline.demo import generate_world
from syncline.demo.world import PLANTING_KINDS, planting_rates
from syncline.demo.world_audio import CLIP_GAIN, PLANTED_FAULTS, make_mic_audio
from syncline.demo.world_plan import ENTITIES
from syncline.demo.world_sensor import ROWS, SPIKE_C, TEMP_COL, make_sensor
from syncline.demo.world_video import CAMERAS, DEFECT_SECONDS, PLANTED_DEFECTS, make_video

pytestmark = pytest.mark.functional

SEED = 11  # not the default seed: the drawn planting must not lean on seed 7's scenes
VIDEO_KINDS = ("black", "blurred", "frozen")


def _world(tmp_path_factory: pytest.TempPathFactory, rate: float) -> tuple[Path, dict[str, Any]]:
    summary = generate_world(tmp_path_factory.mktemp(f"rates{rate:g}") / "farm", seed=SEED,
                             rates={k: rate for k in PLANTING_KINDS})
    truth: dict[str, Any] = json.loads(summary.ground_truth_path.read_text(encoding="utf-8"))
    return summary.out_dir, truth


@pytest.fixture(scope="module")
def none_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return _world(tmp_path_factory, 0.0)


@pytest.fixture(scope="module")
def all_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    return _world(tmp_path_factory, 1.0)


def _by_modality(truth: dict[str, Any], modality: str) -> dict[str, dict[str, Any]]:
    return {p: a for p, a in truth["assets"].items()
            if a["modality"] == modality and (modality != "audio" or a.get("kind") == "stall_microphone")}


def test_rates_all_zero_plant_nothing(none_world: tuple[Path, dict[str, Any]]) -> None:
    _, truth = none_world
    assert truth["planting_rates"] == {k: 0.0 for k in PLANTING_KINDS}
    assert truth["planted"] == []
    assert all(a["defects"] == [] for a in _by_modality(truth, "video").values())
    assert all(a["faults"] == {"silent": [], "clipped": []} for a in _by_modality(truth, "audio").values())
    assert all(a["glitches"] == {"spikes": [], "dropouts": [], "stuck": []}
               for a in _by_modality(truth, "sensor").values())
    assert all(a["sensor"]["rows"] == ROWS for a in _by_modality(truth, "sensor").values())


def test_rates_all_one_plant_every_kind_on_every_file(all_world: tuple[Path, dict[str, Any]]) -> None:
    _, truth = all_world
    video, audio, sensor = (_by_modality(truth, m) for m in ("video", "audio", "sensor"))
    assert (len(video), len(audio), len(sensor)) == (10, 5, 5)
    for path, a in video.items():
        assert sorted(d["kind"] for d in a["defects"]) == list(VIDEO_KINDS), path
        spans = sorted(tuple(d["frames"]) for d in a["defects"])
        assert all(e0 < s1 for (_, e0), (s1, _) in zip(spans, spans[1:], strict=False)), f"{path} overlaps"
        fps = a["video"]["fps"]
        for d in a["defects"]:  # drawn lengths stay within 0.5-1.5x the default table's
            n = d["frames"][1] - d["frames"][0]
            assert 0.5 * DEFECT_SECONDS[d["kind"]] * fps - 1 <= n <= 1.5 * DEFECT_SECONDS[d["kind"]] * fps + 1
    for path, a in audio.items():
        assert (len(a["faults"]["silent"]), len(a["faults"]["clipped"])) == (1, 1), path
        assert sum(c["clipped"] for c in a["calls"]) == 1, path
    for path, a in sensor.items():
        g = a["glitches"]
        assert (len(g["spikes"]), len(g["stuck"]), len(g["dropouts"])) == (1, 1, 1), path
    assert len(truth["planted"]) == 10 * 3 + 5 * 2 + 5 * 3


def test_planted_glitches_are_in_the_sensor_files(all_world: tuple[Path, dict[str, Any]]) -> None:
    root, truth = all_world
    for path, a in _by_modality(truth, "sensor").items():
        with (root / path).open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        g = a["glitches"]
        d0, d1 = g["dropouts"][0]["rows"]
        assert len(rows) == a["sensor"]["rows"] == ROWS - (d1 - d0)
        index = [i for i in range(ROWS) if not d0 <= i < d1]  # file row -> row before the dropout
        at = {i: rows[k] for k, i in enumerate(index)}
        s = g["stuck"][0]
        held = {float(at[i][s["column"]]) for i in range(*s["rows"])}
        assert held == {s["value"]}, path
        spike = g["spikes"][0]
        assert float(at[spike["rows"][0]][spike["column"]]) == spike["value"], path


def test_planted_faults_are_in_the_wav_files(all_world: tuple[Path, dict[str, Any]]) -> None:
    root, truth = all_world
    wavs = {p: a for p, a in _by_modality(truth, "audio").items() if p.endswith(".wav")}
    assert wavs
    for path, a in wavs.items():
        with wave.open(str(root / path)) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        a0, a1 = a["faults"]["silent"][0]["samples"]
        assert not pcm[a0:a1].any() and pcm[a0 - 160:a0].any(), path
        c0, c1 = a["faults"]["clipped"][0]["samples"]
        assert (np.abs(pcm[c0:c1].astype(np.int32)) >= 32767).sum() > 0.01 * (c1 - c0), f"{path} not clipped"
        assert (np.abs(pcm.astype(np.int32)) >= 32767)[np.r_[0:c0, c1:len(pcm)]].sum() == 0, path


def test_planted_black_frames_are_black_in_the_video(all_world: tuple[Path, dict[str, Any]]) -> None:
    root, truth = all_world
    path, a = next(iter(_by_modality(truth, "video").items()))
    with av.open(str(root / path)) as container:
        luma = np.array([f.to_ndarray(format="gray").mean() for f in container.decode(video=0)])
    (i0, i1), = (d["frames"] for d in a["defects"] if d["kind"] == "black")
    assert luma[i0:i1].max() < 20 < 60 < np.delete(luma, np.s_[i0:i1]).min()


def test_drawn_planting_keeps_the_scene_and_clocks_of_the_seed(
    none_world: tuple[Path, dict[str, Any]], all_world: tuple[Path, dict[str, Any]]
) -> None:
    (_, zero), (_, one) = none_world, all_world
    assert zero["scenes"] == one["scenes"]
    for path, a in zero["assets"].items():
        if "clock" in a:
            assert one["assets"][path]["clock"] == a["clock"], path
        if "door_events" in a:
            assert one["assets"][path]["door_events"] == a["door_events"], path


def test_default_world_still_plants_the_fixed_table(tmp_path: Path) -> None:
    """rates=None: the files of the seed-7 world that the table names carry exactly its entries."""
    for sub in ("video", "audio", "sensors"):
        (tmp_path / "data" / sub).mkdir(parents=True)
    e1 = ENTITIES[1]
    cam2 = make_video(tmp_path, 7, e1, "cam2").truth
    assert [d["kind"] for d in cam2["defects"]] == list(PLANTED_DEFECTS[(1, "cam2")]) == ["frozen"]
    (i0, i1), = (d["frames"] for d in cam2["defects"])
    assert i1 - i0 == DEFECT_SECONDS["frozen"] * CAMERAS["cam2"].fps
    mic = make_mic_audio(tmp_path, 7, e1).truth
    assert PLANTED_FAULTS[1] == ("clipped", "silent")
    assert [c["gain"] for c in mic["faults"]["clipped"]] == [CLIP_GAIN]
    (s0, s1), = (s["samples"] for s in mic["faults"]["silent"])
    assert s1 - s0 == 24_000  # 1.5 s at 16 kHz
    assert mic["faults"]["silent"][0]["samples"] == [381744, 405744]  # as the seed-7 world always had it
    logger = make_sensor(tmp_path, 7, ENTITIES[0]).truth["glitches"]
    assert [(s["column"], s["value"]) for s in logger["spikes"]] == [(TEMP_COL, SPIKE_C)]
    assert [s["column"] for s in logger["stuck"]] == ["humidity[%]"]
    assert len(logger["dropouts"]) == 1
    assert make_video(tmp_path, 7, ENTITIES[2], "cam1").truth["defects"] == []  # not in the table


def test_planting_rates_refuse_unknown_kinds_and_non_probabilities() -> None:
    assert planting_rates(None) is None
    assert planting_rates({"black": 1}) == {k: float(k == "black") for k in PLANTING_KINDS}
    with pytest.raises(ValueError, match="unknown planting kind"):
        planting_rates({"blur": 0.5})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        planting_rates({"gap": 1.5})
