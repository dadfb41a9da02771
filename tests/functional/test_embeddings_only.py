"""Embeddings-only mode: voices and faces are kept as built-in representations, never as media.

Two tones (known frequencies) and a spoken memo are ingested with ``embeddings_only: [audio,
image, video]``: no copy of them exists anywhere in the project (a slice of their raw PCM /
JPEG bytes is found in 0 files), the vectors are stored per one-second window with provenance,
the loudest mel band of each tone window is the band that holds its frequency, and alignment
and segmenters say there is no media instead of failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import yaml
from mediafiles import make_image, make_speech_wav, make_tone, make_video

from syncline.align.run import align
from syncline.align.segment import run_segmenters
from syncline.ingest import ingest
from syncline.project import Project, init_project
from syncline.represent.builtin import LOGMEL, mel_filterbank

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("data") / "stall-1"  # one entity (the first subfolder names it)
    data.mkdir()
    make_tone(data, "low.wav", seconds=3.0, freq=300.0, sample_rate=16000)
    make_tone(data, "high.wav", seconds=3.0, freq=3000.0, sample_rate=16000)
    make_speech_wav(data, "memo.wav", text="the cow in stall three is calm today")
    make_image(data, "face.png")
    make_video(data, "cam.mp4", seconds=2.0)
    root = tmp_path_factory.mktemp("proj") / "p"
    init_project(root)
    settings = yaml.safe_load((root / "syncline.yaml").read_text())
    settings["embeddings_only"] = ["audio", "image", "video"]
    (root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    project = Project.open(root)
    summary = ingest(project, [data.parent])
    assert not summary.quarantined, summary.quarantined
    assets = {Path(r["source_path"]).name: r for r in project.catalog().read("assets").to_pylist()}
    return {"project": project, "data": data, "assets": assets}


def test_no_copy_of_the_media_is_in_the_project(kept: dict[str, Any]) -> None:
    project, data = kept["project"], kept["data"]
    assert not project.media_dir.exists() or not any(p.is_file() for p in project.media_dir.rglob("*"))
    pcm, _ = sf.read(data / "memo.wav", dtype="int16")
    needles = [pcm[4000:6000].tobytes(), (data / "face.png").read_bytes()[200:1200],
               (data / "cam.mp4").read_bytes()[-1200:-200]]
    for path in (p for p in project.root.rglob("*") if p.is_file()):
        blob = path.read_bytes()
        assert not [n for n in needles if n in blob], path
    assert all(a["managed_path"] is None for a in kept["assets"].values())


def test_vectors_per_second_with_provenance_and_a_versioned_representation(kept: dict[str, Any]) -> None:
    cat = kept["project"].catalog()
    emb = cat.read("embeddings").to_pylist()
    by_asset: dict[str, list[dict[str, Any]]] = {}
    for row in emb:
        by_asset.setdefault(row["asset_ids"][0], []).append(row)
    low, high = kept["assets"]["low.wav"], kept["assets"]["high.wav"]
    assert len(by_asset[low["asset_id"]]) == 3 and len(by_asset[kept["assets"]["cam.mp4"]["asset_id"]]) == 2
    assert len(by_asset[kept["assets"]["face.png"]["asset_id"]]) == 1
    reps = {r["representation_id"]: r for r in cat.read("representations").to_pylist()}
    assert set(reps) == {"logmel-1s@1", "grid-colour-edges@1", "grid-colour-edges-1s@1"}
    assert reps["logmel-1s@1"]["dim"] == 40 and reps["grid-colour-edges-1s@1"]["modality"] == "video"
    fb = mel_filterbank(16000, LOGMEL.config["n_fft"], LOGMEL.config["bands"], LOGMEL.config["fmax"])
    freqs = np.arange(fb.shape[1]) * 16000 / LOGMEL.config["n_fft"]
    for asset, hz in ((low, 300.0), (high, 3000.0)):
        for row in by_asset[asset["asset_id"]]:
            assert len(row["vector"]) == 40
            band = int(np.argmax(row["vector"]))
            support = freqs[fb[band] > 0]
            assert support.min() - 40 <= hz <= support.max() + 40, (hz, band, support)  # 40 Hz: one FFT bin


def test_alignment_and_segmenters_say_there_is_no_media(kept: dict[str, Any]) -> None:
    project = kept["project"]
    report = align(project)
    assert report.results and all(r.estimate.verdict.value == "abstain" for r in report.results)
    assert all("embeddings only" in r.estimate.reason for r in report.results)
    counts = run_segmenters(project, ["fixed", "speech", "shots"])
    assert counts["speech"] == 0 and counts["shots"] == 0 and counts["fixed"] > 0
