"""Modality dominance on real media: when only the audio carries the label (a tone in the alarm
windows, the same test pattern on every video), the fused head's contribution comes almost all
from audio, and the check says so."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
import yaml
from mediafiles import make_video

from syncline.align.segment import run_segmenters
from syncline.annotate.labels import write_labels
from syncline.audit.dominance import modality_dominance
from syncline.ingest import ingest
from syncline.project import init_project

pytestmark = pytest.mark.functional

RATE, SECONDS, WINDOW = 16000, 20, 2


def _mic(path: Path, alarms: list[bool], rng: np.random.Generator) -> None:
    t = np.arange(SECONDS * RATE) / RATE
    x = 0.01 * rng.normal(size=t.size)
    for k, on in enumerate(alarms):
        if on:
            a, b = k * WINDOW * RATE, (k + 1) * WINDOW * RATE
            x[a:b] += 0.3 * np.sin(2 * np.pi * 1000 * t[a:b])
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes())


def test_audio_that_carries_the_label_alone_is_called_dominant(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    data = tmp_path / "data"
    truth: dict[str, list[bool]] = {}
    for i in range(4):
        folder = data / f"pen-{i}"
        folder.mkdir(parents=True)
        # the tag makes each file distinct bytes: identical files would be one asset
        make_video(folder, "cam.mp4", seconds=SECONDS, fps=10, audio=False, tags={"comment": f"pen {i}"})
        truth[f"pen-{i}"] = [bool(rng.random() < 0.5) for _ in range(SECONDS // WINDOW)]
        _mic(folder / "mic.wav", truth[f"pen-{i}"], rng)
    p = init_project(tmp_path / "p")
    ingest(p, [data])
    run_segmenters(p, ["fixed"], window_s=float(WINDOW))
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "sound": {"kind": "perception", "type": "class", "values": ["alarm", "quiet"]}},
        "annotators": {"a": {"tier": "expert", "fields": ["sound"]}}}))
    entity = {Path(a["source_path"]).parent.name: a["entity_id"] for a in p.catalog().read("assets").to_pylist()}
    labels = []
    for pen, alarms in truth.items():
        for k, on in enumerate(alarms):
            where = {"entity_id": entity[pen], "t0_ns": k * WINDOW * 10**9, "t1_ns": (k + 1) * WINDOW * 10**9}
            labels.append({"field": "sound", **where, "annotator": "a", "value": "alarm" if on else "quiet"})
    assert write_labels(p, labels).written == len(labels)
    res = modality_dominance(p)
    sound = res.summary["sound"]
    assert sound["ran"] and sound["segments"] == 40, (sound, res.errors)
    assert sound["balanced_accuracy"]["audio alone"] > 0.9 and sound["balanced_accuracy"]["video alone"] < 0.7
    assert sound["shares"]["audio"] >= 0.8
    assert [(f.check, f.target_id) for f in res.findings] == [("dominance.one_modality", "sound")]
    assert "audio does" in res.findings[0].message
