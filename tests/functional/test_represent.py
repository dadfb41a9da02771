"""Stored representations on real media: ``embed`` stores every asset's window vectors once per
representation version (equal to the encoder run directly), resumes after a kill, never mixes
other weights into a version; ``similar`` finds the planted copy, through the current clocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mediafiles import encode_h264
from tonefarm import SECONDS, WINDOW, make_tone_farm

from syncline.align.segment import run_segmenters
from syncline.catalog import query as Q
from syncline.ingest import ingest
from syncline.project import Project, init_project
from syncline.represent import embed as E
from syncline.represent.builtin import LOGMEL, features_for
from syncline.represent.registry import EncoderError
from syncline.represent.search import SearchError, segment_vectors, similar, windows

pytestmark = pytest.mark.functional

NS = 1_000_000_000


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, list[tuple[int, int]]]]:
    """Four pens with a camera and a mic; pen-1's mic is a copy of pen-0's sounds (other noise)."""
    root = tmp_path_factory.mktemp("represent")
    sounds = make_tone_farm(root / "data")
    p = init_project(root / "p")
    ingest(p, [root / "data"])
    run_segmenters(p, ["fixed"], window_s=float(WINDOW))
    return p, sounds


def _entity(p: Project, pen: str) -> str:
    return next(a["entity_id"] for a in p.catalog().read("assets").to_pylist() if f"/{pen}/" in a["source_path"])


def test_embed_stores_each_asset_once_equal_to_the_encoder_and_a_rerun_writes_nothing(farm) -> None:
    p, _ = farm
    report = E.embed(p, ["logmel-1s@1", "grid-colour-edges-1s@1"])
    assert report.errors == []
    assert report.representations["logmel-1s@1"]["embedded"] == 4
    assert report.representations["grid-colour-edges-1s@1"]["embedded"] == 4
    rows = p.catalog().read("embeddings", where="representation_id = 'logmel-1s@1'").to_pylist()
    assert len(rows) == 4 * SECONDS and len({r["embedding_id"] for r in rows}) == len(rows)
    mics = [a for a in p.catalog().read("assets").to_pylist() if a["modality"] == "audio"]
    for a in mics:  # the stored vectors are the encoder's, window by window, with provenance
        direct = features_for(Path(p.media_dir / a["managed_path"]), "audio")
        mine = sorted((r for r in rows if r["asset_ids"] == [a["asset_id"]]),
                      key=lambda r: int(r["target_id"].split(":")[1]))
        assert [int(r["target_id"].split(":")[1]) for r in mine] == direct.t0_ns
        np.testing.assert_allclose(np.array([r["vector"] for r in mine]), direct.vectors, rtol=1e-6)
    version = p.catalog().version("embeddings")
    again = E.embed(p, ["logmel-1s@1"])
    assert again.representations["logmel-1s@1"] == {"embedded": 0, "already": 4, "no_media": 0, "failed": 0,
                                                     "vectors": 0}
    assert p.catalog().version("embeddings") == version


def test_a_killed_embed_resumes_without_duplicates(farm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p, _ = farm
    import shutil

    copy = Project.open(Path(shutil.copytree(p.root, tmp_path / "copy")))
    copy.catalog().delete("embeddings", "representation_id = 'logmel-1s@1'")
    copy.settings.workers = 1  # encode in this process, so the "kill" below lands mid-run
    monkeypatch.setattr(E, "ASSETS_PER_COMMIT", 1)
    real, calls = E._encode, []

    def dies_on_the_third(encoder, path):  # type: ignore[no-untyped-def]
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(encoder, path)

    monkeypatch.setattr(E, "_encode", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        E.embed(copy, ["logmel-1s@1"])
    with copy.catalog().connect() as con:
        assert len(Q.embedded_assets(con, "logmel-1s@1")) == 2  # two commits landed whole
    monkeypatch.setattr(E, "_encode", real)
    rest = E.embed(copy, ["logmel-1s@1"])
    assert rest.representations["logmel-1s@1"]["embedded"] == 2
    ids = copy.catalog().read("embeddings", columns=["embedding_id"],
                              where="representation_id = 'logmel-1s@1'").column(0).to_pylist()
    assert len(ids) == len(set(ids)) == 4 * SECONDS


def test_segment_vectors_are_the_mean_of_the_windows_inside_through_the_current_clock(farm) -> None:
    p, _ = farm
    E.embed(p, ["logmel-1s@1"])
    mic = next(a for a in p.catalog().read("assets").to_pylist() if a["modality"] == "audio")
    direct = features_for(Path(p.media_dir / mic["managed_path"]), "audio").vectors
    with p.catalog().connect() as con:
        w = windows(con, "logmel-1s@1")
    ent = np.array([mic["entity_id"]] * 3, object)
    t0 = np.array([0, 4 * NS, 7 * NS], np.int64)
    got = segment_vectors(w, ent, t0, t0 + 2 * NS, assets={mic["asset_id"]})
    np.testing.assert_allclose(got[0], direct[0:2].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(got[1], direct[4:6].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(got[2], direct[7:9].mean(axis=0), rtol=1e-5)
    assert np.isnan(segment_vectors(w, ent[:1], np.array([60 * NS]), np.array([62 * NS]))).all()


def test_similar_finds_the_copied_sounds_and_follows_a_clock_correction(farm, tmp_path: Path) -> None:
    p, sounds = farm
    E.embed(p, ["logmel-1s@1"])
    e0, e1 = _entity(p, "pen-0"), _entity(p, "pen-1")
    segs = p.catalog().read("segments").to_pylist()

    def seg(entity: str, t0_s: int) -> str:
        return next(s["segment_id"] for s in segs if s["entity_id"] == entity and s["t0_ns"] == t0_s * NS)

    for k in range(0, SECONDS // WINDOW, 3):
        res = similar(p, seg(e0, k * WINDOW), representation_ids=["logmel-1s@1"], k=3, other_entities=True)
        assert (res["similar"][0]["entity_id"], res["similar"][0]["t0_ns"]) == (e1, k * WINDOW * NS), res
        assert res["similar"][0]["score"] > res["similar"][1]["score"] + 0.2
    # pen-1's mic turns out to run 2 s late: corrected, its sounds move — no re-embedding
    cat = p.catalog()
    version = cat.version("embeddings")
    mic = next(a for a in cat.read("assets").to_pylist() if a["entity_id"] == e1 and a["modality"] == "audio")
    cat.upsert("assets", [mic | {"clock_offset_ns": 2 * NS, "clock_source": "estimated:test"}])
    try:
        res = similar(p, seg(e0, 4), representation_ids=["logmel-1s@1"], k=1, other_entities=True)
        assert (res["similar"][0]["entity_id"], res["similar"][0]["t0_ns"]) == (e1, 6 * NS), res
        assert cat.version("embeddings") == version
    finally:
        cat.upsert("assets", [mic])


def test_similar_says_what_is_missing(farm) -> None:
    p, _ = farm
    with pytest.raises(SearchError, match="not in the catalog"):
        similar(p, "no-such-segment")
    some = p.catalog().read("segments").to_pylist()[0]["segment_id"]
    with pytest.raises(SearchError, match="run `syncline embed` first"):
        similar(p, some, representation_ids=["clip-b32@1"])


def test_an_unknown_representation_is_refused_naming_the_known_ones(farm) -> None:
    p, _ = farm
    with pytest.raises(EncoderError, match="unknown representation.*logmel-1s@1"):
        E.embed(p, ["nope@1"])
    assert LOGMEL.representation_id == "logmel-1s@1"


class CrashOnTiny:
    """An encoder whose decoder dies (the whole process) on tiny files: a segfault stand-in."""

    representation = LOGMEL

    def encode(self, path: Path):  # type: ignore[no-untyped-def]
        import os

        if path.stat().st_size < 1000:
            os._exit(11)
        return features_for(path, "audio")


def test_a_worker_crash_fails_only_its_file_and_a_file_without_windows_is_done(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import wave

    data = tmp_path / "data"
    make_tone_farm(data, pens=2)
    with wave.open(str(data / "pen-0" / "click.wav"), "wb") as w:  # 10 samples: less than one analysis frame
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(10, np.int16).tobytes())
    p = init_project(tmp_path / "p")
    ingest(p, [data])
    short = E.embed(p, ["logmel-1s@1"])
    assert short.errors == [] and short.representations["logmel-1s@1"]["embedded"] == 3
    again = E.embed(p, ["logmel-1s@1"])  # the 10-sample file gave no window, and is not decoded again
    assert again.representations["logmel-1s@1"]["embedded"] == 0 and again.representations["logmel-1s@1"][
        "already"] == 3
    with p.catalog().connect() as con:
        usage = {r["representation_id"]: r for r in Q.representation_usage(con)}
    assert usage["logmel-1s@1"]["vectors"] == 2 * SECONDS and usage["logmel-1s@1"]["assets"] == 3

    # a decoder that kills its worker on the tiny file: that file fails, alone; the mics are embedded
    p.catalog().delete("embeddings", "true")
    monkeypatch.setattr(E, "project_encoders", lambda project, only=None: {"logmel-1s@1": CrashOnTiny()})
    res = E.embed(p, ["logmel-1s@1"])
    counts = res.representations["logmel-1s@1"]
    assert counts["failed"] == 1 and counts["embedded"] == 2, res.to_json()
    assert len(res.errors) == 1 and "worker process died" in res.errors[0]


def _moving_square(path: Path) -> Path:
    """4 s at 10 fps, 160x120, black; a white 16 px square moves to and fro inside grid cell
    (row 1, col 2) = x 80-120, y 30-60 during [1 s, 3 s), and stands still the rest of the time."""
    def frames():  # type: ignore[no-untyped-def]
        for i in range(40):
            img = np.zeros((120, 160, 3), np.uint8)
            x = 84 + (abs((i % 8) - 4) * 4 if 10 <= i < 30 else 0)
            img[37:53, x:x + 16] = 255
            yield img

    return encode_h264(path, frames(), 10, pix_fmt="yuv444p", options={"qp": "0", "preset": "ultrafast"})


def test_motion_energy_is_where_and_when_things_move(tmp_path: Path) -> None:
    from syncline.represent.builtin import MOTION, motion_features

    f = motion_features(_moving_square(tmp_path / "square.mp4"))
    assert f.representation == MOTION and f.vectors.shape == (4, 17)
    assert f.t0_ns == [0, NS, 2 * NS, 3 * NS] and f.t1_ns == [NS, 2 * NS, 3 * NS, 4 * NS]
    cell = 1 * 4 + 2
    moving, still = f.vectors[1:3], f.vectors[[0, 3]]
    others = np.delete(moving, [cell, 16], axis=1)
    assert moving[:, cell].min() > 0.05 and others.max() < 0.002  # only that cell moves
    # the whole frame's energy is the cell's spread over 16 cells (the cells are equal)
    np.testing.assert_allclose(moving[:, 16], moving[:, :16].mean(axis=1), rtol=1e-5)
    # second 3 holds the change from the last moving frame back to rest, then stillness
    assert still[0].max() < 0.002 and f.vectors[3, cell] < moving[:, cell].min()
    assert "motion-energy-1s@1" in E.project_encoders(init_project(tmp_path / "p"))
