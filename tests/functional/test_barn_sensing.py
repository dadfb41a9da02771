"""The barn's own encoders, declared as a project declares its code: the animal locator scored on
the boxes the world rendered (day and night, wide and close cameras, a black feed), the
temperature departure against the logger's door contact, and the ``python:`` encoder path of
``syncline.yaml`` (vectors equal to the code run directly, changed params refused under the same
version, a broken declaration named)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from syncline.catalog import query as Q
from syncline.demo.barn_sensing import ANIMAL_DIM, AnimalLocator, TemperatureTrend
from syncline.demo.world_plan import ENTITIES, AssetOut
from syncline.demo.world_sensor import make_sensor
from syncline.demo.world_video import make_video
from syncline.ingest import ingest
from syncline.media.sensor import read_sensor
from syncline.project import Project, init_project
from syncline.represent.embed import embed
from syncline.represent.registry import EncoderError

pytestmark = pytest.mark.functional

NS = 1_000_000_000
LOCATOR = {"name": "barn-animal-1s", "version": "2", "modality": "video",
           "python": "syncline.demo.barn_sensing:animal_locator"}


def _video(root: Path, index: int, camera: str = "cam1") -> AssetOut:
    (root / "data" / "video").mkdir(parents=True, exist_ok=True)
    return make_video(root, 7, ENTITIES[index], camera)


def _iou(a: np.ndarray, b: list[float]) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@pytest.mark.parametrize("index, camera", [(0, "cam1"), (1, "cam2"), (3, "cam1"), (4, "cam2"), (5, "cam1")])
def test_the_locator_finds_the_rendered_animal(tmp_path: Path, index: int, camera: str) -> None:
    """Entities 0 and 3 have a black feed on cam1, 5 is at night; 1 and 4 are the close camera."""
    out = _video(tmp_path, index, camera)
    truth = out.truth["animal_boxes"]
    t0, t1, vectors = AnimalLocator().encode(tmp_path / out.path)
    assert len(t0) == len(truth) and vectors.shape == (len(truth), ANIMAL_DIM)
    assert t0 == [k * NS for k in range(len(truth))] and t1 == [t + NS for t in t0]
    shown = [k for k, b in enumerate(truth) if b is not None]
    dark = [k for k, b in enumerate(truth) if b is None]
    ious = np.array([_iou(vectors[k, 1:5], truth[k]) if vectors[k, 0] else 0.0 for k in shown])
    assert np.mean(ious >= 0.5) >= 0.9, np.round(ious, 2)
    assert np.median(ious) >= 0.6
    assert all(vectors[k, 0] == 0.0 and not vectors[k].any() for k in dark)  # a black feed: nothing found
    if index in (0, 3) and camera == "cam1":
        assert dark  # the planted black frames are where the test looks


def test_the_locator_finds_the_animal_at_360p_too(tmp_path: Path) -> None:
    """A wide frame is averaged down before locating: the same boxes (fractions of the frame)."""
    import subprocess

    out = _video(tmp_path, 2, "cam1")
    big = tmp_path / "big.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(tmp_path / out.path), "-vf", "scale=640:360",
                    "-c:v", "libx264", "-crf", "20", str(big)], check=True)
    _, _, vectors = AnimalLocator().encode(big)
    truth = out.truth["animal_boxes"]
    ious = np.array([_iou(vectors[k, 1:5], b) if vectors[k, 0] else 0.0 for k, b in enumerate(truth) if b])
    assert len(ious) >= 25 and np.mean(ious >= 0.5) >= 0.9, np.round(ious, 2)


def test_the_temperature_departure_follows_the_door(tmp_path: Path) -> None:
    """The stall cools while its door is open: seconds far from the five-minute running median
    (robust |z| > 2.5) lie within 90 s of an open door (the cold recovers over a minute; the logger's own contact
    column, which the encoder does not read), and are colder, not warmer."""
    flagged = near = cold = 0
    (tmp_path / "data" / "sensors").mkdir(parents=True)
    for entity in ENTITIES[:6]:
        path = tmp_path / make_sensor(tmp_path, 7, entity).path
        t0, _, v = TemperatureTrend().encode(path)
        table = read_sensor(path)
        t = table.column("t_ns").to_numpy()
        second = (t - t[0]) // NS
        seconds = np.unique(second)
        assert t0 == [int(t[0] + k * NS) for k in seconds] and v.shape == (len(seconds), 3)
        temps = np.asarray(table.column("temperature").to_numpy(zero_copy_only=False), float)
        medians = [np.nanmedian(temps[second == k]) for k in seconds]  # one absurd reading does not count
        np.testing.assert_allclose(v[:, 0], medians, atol=1e-4)
        door = np.nan_to_num(np.asarray(table.column("door").to_numpy(zero_copy_only=False), float))
        opened = np.unique(second[door == 1])
        hot = np.abs(v[:, 2]) > 2.5
        flagged += int(hot.sum())
        cold += int((v[hot, 1] < 0).sum())
        near += sum(bool(len(opened)) and int(np.min(np.abs(opened - k))) <= 90 for k in seconds[hot])
    assert flagged >= 10 and near == flagged and cold >= 0.8 * flagged


def _project(root: Path, clip_dir: Path, encoders: list[dict]) -> Project:  # type: ignore[type-arg]
    p = init_project(root)
    settings = yaml.safe_load((root / "syncline.yaml").read_text())
    settings["encoders"] = encoders
    (root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    p = Project.open(root)
    ingest(p, [clip_dir])
    return p


def test_a_python_encoder_declared_in_syncline_yaml(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    outs = [_video(clips, i) for i in (0, 5)]
    p = _project(tmp_path / "p", clips, [LOCATOR])
    report = embed(p, ["barn-animal-1s@2"])
    assert report.representations["barn-animal-1s@2"]["embedded"] == 2 and not report.errors
    rows = p.catalog().read("embeddings", where="representation_id = 'barn-animal-1s@2'").to_pylist()
    assets = {Path(a["source_path"]).name: a["asset_id"] for a in p.catalog().read("assets").to_pylist()}
    for out in outs:  # the stored vectors are the code run directly on the file, window by window
        t0, _, direct = AnimalLocator().encode(clips / out.path)
        mine = sorted((r for r in rows if r["asset_ids"] == [assets[Path(out.path).name]]),
                      key=lambda r: int(r["target_id"].split(":")[1]))
        assert [int(r["target_id"].split(":")[1]) for r in mine] == t0
        np.testing.assert_allclose(np.array([r["vector"] for r in mine]), direct, atol=1e-6)


TEMPERATURE = {"name": "barn-temperature-1s", "version": "2", "modality": "sensor",
               "python": "syncline.demo.barn_sensing:temperature_trend", "params": {"window_s": 300}}


def test_other_params_under_the_same_version_are_refused(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "data" / "sensors").mkdir(parents=True)
    make_sensor(logs, 7, ENTITIES[0])
    p = _project(tmp_path / "p", logs, [TEMPERATURE])
    assert embed(p, ["barn-temperature-1s@2"]).representations["barn-temperature-1s@2"]["embedded"] == 1
    with p.catalog().connect() as con:
        stored = Q.representation_hashes(con)["barn-temperature-1s@2"]
    # the same code with another window is other vectors: refused, the old ones stay valid
    settings = yaml.safe_load((p.root / "syncline.yaml").read_text())
    settings["encoders"] = [dict(TEMPERATURE, params={"window_s": 120})]
    (p.root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    with pytest.raises(EncoderError, match=f"stored with config hash {stored}"):
        embed(Project.open(p.root), ["barn-temperature-1s@2"])
    settings["encoders"] = [dict(TEMPERATURE, params={"window_s": 1})]  # the factory's own check, named
    (p.root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    with pytest.raises(EncoderError, match="refused its params .*window_s must be >= 3"):
        embed(Project.open(p.root), ["barn-temperature-1s@2"])


def test_locate_averages_over_the_frames_that_found_the_animal() -> None:
    from types import SimpleNamespace

    from syncline.demo.barn_sensing import locate_stage

    stage = locate_stage("locate", SimpleNamespace(inputs={}, params={"min_found": 0.5}, on_missing="abstain"), None)
    frame = np.r_[1.0, 0.2, 0.5, 0.6, 0.9, 0.05, 0.7, np.full(16, 0.3)]
    # a 2 s segment whose second frame was black: the mean of the two windows, the black one zeros
    out = stage.fn(x=np.stack([frame / 2, frame, np.zeros_like(frame)]))
    np.testing.assert_allclose(out["look"][:2], [frame[1:], frame[1:]])
    assert out["_abstain"].tolist() == [False, False, True] and "found in 0%" in out["_why"][2]


@pytest.mark.parametrize("entry, message", [
    ({"python": "syncline.demo.nowhere:animal_locator"}, "encoder barn-animal-1s@2: cannot load"),
    ({"params": {"colour": "brown"}}, "does not take the params given"),
    ({"params": {"max_width": 8}}, "refused its params .*max_width must be >= 64"),
    ({"python": "syncline.demo.barn_sensing:locate_animal"}, "does not take the params given|must return an object"),
])
def test_a_broken_python_encoder_is_named(tmp_path: Path, entry: dict, message: str) -> None:  # type: ignore[type-arg]
    root = tmp_path / "p"
    init_project(root)
    settings = yaml.safe_load((root / "syncline.yaml").read_text())
    settings["encoders"] = [dict(LOCATOR, **entry)]
    (root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    with pytest.raises(EncoderError, match=message):
        embed(Project.open(root), ["barn-animal-1s@2"])


@pytest.mark.parametrize("vectors, message", [
    ("np.zeros((1, 3))", "returned vectors of shape (1, 3) and 1 ends for 1 starts; it declared dim 5"),
    ("np.zeros((3, 5)).reshape(1, 15)", "returned vectors of shape (1, 15)"),
    ("np.full((1, 5), np.nan)", "NaN or infinite values in 1 of 1 windows (first at 0.000 s)"),
])
def test_a_python_encoder_with_bad_output_fails_its_files_only(tmp_path: Path, vectors: str, message: str) -> None:
    clips = tmp_path / "clips"
    _video(clips, 0)
    module = f"liar_{tmp_path.name}"  # one module per case: Python caches imported modules by name
    p = _project(tmp_path / "p", clips, [dict(LOCATOR, name="liar", python=f"{module}:make")])
    pkg = tmp_path / f"{module}.py"
    pkg.write_text("import numpy as np\nclass L:\n    dim = 5\n    def encode(self, path):\n"
                   f"        return [0], [10**9], {vectors}\ndef make():\n    return L()\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        p.settings.workers = 1
        report = embed(p, ["liar@2"])
    finally:
        sys.path.remove(str(tmp_path))
    assert report.representations["liar@2"]["failed"] == 1 and report.representations["liar@2"]["vectors"] == 0
    assert message in report.errors[0]
    assert p.catalog().count("embeddings", where="representation_id = 'liar@2'") == 0
