"""``syncline fit`` on real media and labels: a head on the consensus of the labelled segments
and their stored vectors, saved under models/, used by ``pipeline.yaml`` and ``syncline run``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from tonefarm import WINDOW, make_tone_farm

from syncline.align.segment import run_segmenters
from syncline.annotate.labels import write_labels
from syncline.ingest import ingest
from syncline.pipeline.heads import LinearHead
from syncline.pipeline.spec import write_pipeline
from syncline.project import init_project
from syncline.represent.embed import embed
from syncline.represent.search import segment_vectors, windows

pytestmark = pytest.mark.functional
NS = 1_000_000_000


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncline.cli", *args, "-p", str(root)], capture_output=True,
                          text=True)


def test_fit_a_head_from_labels_and_run_it(tmp_path: Path) -> None:
    sounds = make_tone_farm(tmp_path / "data", pens=4)
    p = init_project(tmp_path / "p", template="farm")
    ingest(p, [tmp_path / "data"])
    run_segmenters(p, ["fixed"], window_s=float(WINDOW))
    embed(p, ["logmel-1s@1"])
    (p.root / "labels.yaml").write_text(yaml.safe_dump({"version": 1, "fields": {
        "action": {"kind": "judgment", "type": "class", "values": ["alert_vet", "ignore", "watch"]}},
        "annotators": {"a": {"tier": "expert", "fields": ["action"]}, "b": {"tier": "trained", "fields": ["action"]},
                       "c": {"tier": "crowd", "fields": ["action"]}}}))
    entity = {Path(a["source_path"]).parent.name: a["entity_id"] for a in p.catalog().read("assets").to_pylist()}
    labels, truth = [], {}
    rng = np.random.default_rng(0)
    for pen, pairs in sounds.items():
        for k, (_, f2) in enumerate(pairs):
            value = "alert_vet" if f2 >= 2000 else "ignore"
            truth[(entity[pen], k)] = value
            where = {"entity_id": entity[pen], "t0_ns": k * WINDOW * NS, "t1_ns": (k + 1) * WINDOW * NS}
            wrong = "ignore" if value == "alert_vet" else "alert_vet"
            for who in "abc":  # one annotator in ten says the other: the consensus is still the truth
                labels.append({"field": "action", **where, "annotator": who,
                               "value": wrong if who == "c" and rng.random() < 0.1 else value})
    assert write_labels(p, labels).written == len(labels)

    out = _cli(p.root, "fit", "action", "-r", "logmel-1s@1", "--name", "tones", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["used"] == info["targets"] == len(truth) and info["classes"] == ["alert_vet", "ignore"]
    assert info["fitted_on"]["representation_ids"] == ["logmel-1s@1"] and info["fitted_on"]["groups"] == 4
    assert info["fitted_on"]["out_of_fold_balanced_accuracy"] >= 0.9
    head = LinearHead.load(p.root / info["path"])
    with p.catalog().connect() as con:
        w = windows(con, "logmel-1s@1")
    keys = sorted(truth)
    x = segment_vectors(w, np.array([e for e, _ in keys], object), np.array([k * WINDOW * NS for _, k in keys]),
                        np.array([(k + 1) * WINDOW * NS for _, k in keys]))
    said = [head.classes[i] for i in head.predict_proba(x).argmax(axis=1)]
    assert np.mean([s == truth[k] for s, k in zip(said, keys, strict=True)]) >= 0.95

    write_pipeline(p.root / "pipeline.yaml", {"name": "tones", "segmenter": f"fixed-{WINDOW}s@2", "field": "action",
                                              "sources": {"audio": "logmel-1s@1"}, "stages": [
        {"name": "hear", "use": "head", "model": info["path"], "inputs": {"x": "source.audio"},
         "modalities": ["audio"], "on_missing": "abstain"},
        {"name": "decide", "use": "decision", "input": "hear.probabilities"}]})
    ran = _cli(p.root, "run", "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["stage_status"]["hear"]["ok"] == len(truth)

    for args, message in ((["fit", "action", "-r", "clap@1"], "no stored vectors of clap@1"),
                          (["fit", "colour", "-r", "logmel-1s@1"], "no labels of field 'colour'"),
                          (["fit", "action", "-r", "logmel-1s@1", "--split", "nope"], "no split set 'nope'")):
        bad = _cli(p.root, *args)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr
