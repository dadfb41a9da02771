"""Consent in the pipeline: a stage (training, publication, ...) may only use the files whose
subjects granted it and whose jurisdiction the project allows for it; a stage's export leaves
the others out, events read from them included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from mediafiles import make_tone

from syncline.align.segment import run_segmenters
from syncline.align.tuples import build_tuples
from syncline.govern.consent import blocked_for
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

# file: (subjects, jurisdiction)
FILES = {"ok.wav": (["s-ok"], "EU"), "pending.wav": (["s-pending"], "EU"), "annot.wav": (["s-annot"], "EU"),
         "nobody.wav": ([], "US"), "unknown.wav": (["s-ghost"], "EU")}
SUBJECTS = {"s-ok": {"status": "granted", "scope": ["training", "publication"]},
            "s-pending": {"status": "pending", "scope": ["training"]},
            "s-annot": {"status": "granted", "scope": ["annotation"]}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, str]]:
    data = tmp_path_factory.mktemp("data")
    for i, name in enumerate(FILES):
        make_tone(data, name, seconds=1.0, freq=300.0 + 50 * i)
    (data / "log.jsonl").write_text("\n".join(json.dumps({"t": f"2026-05-01T06:00:0{i}Z", "type": "door_open"})
                                              for i in range(3)) + "\n", encoding="utf-8")
    manifest = {
        "version": 1, "entities": [{"entity_id": "e1", "start_time": "2026-05-01T06:00:00Z"}],
        "subjects": [{"subject_id": k, "consent": v} for k, v in SUBJECTS.items()],
        "assets": [{"path": n, "entity_id": "e1", "subjects": s, "jurisdiction": j,
                    "start_time": "2026-05-01T06:00:00Z"} for n, (s, j) in FILES.items()]
        + [{"path": "log.jsonl", "entity_id": "e1", "subjects": ["s-pending"]}],
    }
    (data / "manifest.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    root = tmp_path_factory.mktemp("proj") / "p"
    init_project(root)
    settings = yaml.safe_load((root / "syncline.yaml").read_text())
    settings["stage_jurisdictions"] = {"publication": ["EU"]}
    (root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    p = Project.open(root)
    with pytest.raises(Exception, match="unknown subject"):  # the manifest must declare every subject
        ingest(p, [data], manifest_path=data / "manifest.yaml")
    manifest["subjects"].append({"subject_id": "s-ghost", "consent": {"status": "granted", "scope": []}})
    (data / "manifest.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    ingest(p, [data], manifest_path=data / "manifest.yaml")
    ids = {Path(r["source_path"]).name: r["asset_id"] for r in p.catalog().read("assets").to_pylist()}
    return p, ids


def _reasons(rows: list[dict[str, Any]], ids: dict[str, str]) -> dict[str, set[str]]:
    names = {v: k for k, v in ids.items()}
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(names[r["asset_id"]], set()).add(r["reason"])
    return out


def test_each_stage_blocks_exactly_what_consent_and_jurisdiction_forbid(
        project: tuple[Project, dict[str, str]]) -> None:
    p, ids = project
    assert _reasons(blocked_for(p, "training"), ids) == {
        "pending.wav": {"consent pending"}, "log.jsonl": {"consent pending"},
        "annot.wav": {"consent scope lacks training"}, "unknown.wav": {"consent scope lacks training"}}
    assert _reasons(blocked_for(p, "annotation"), ids) == {
        "pending.wav": {"consent pending"}, "log.jsonl": {"consent pending"},
        "ok.wav": {"consent scope lacks annotation"}, "unknown.wav": {"consent scope lacks annotation"}}
    publication = _reasons(blocked_for(p, "publication"), ids)
    assert publication["nobody.wav"] == {"jurisdiction US not allowed for publication"}
    assert publication["log.jsonl"] == {"consent pending", "jurisdiction untagged not allowed for publication"}
    assert "ok.wav" not in publication
    with pytest.raises(ValueError, match="unknown stage 'dinner'"):
        blocked_for(p, "dinner")


def test_a_stage_export_leaves_out_the_blocked_files_and_their_events(project: tuple[Project, dict[str, str]]) -> None:
    p, ids = project
    run_segmenters(p, ["fixed"], window_s=10.0)
    everything = build_tuples(p, segmenter="fixed-10s@2").to_pylist()
    training = build_tuples(p, segmenter="fixed-10s@2", stage="training").to_pylist()

    def audio(rows: list[dict[str, Any]]) -> set[str]:
        return {a["asset_id"] for r in rows for a in (r["audio"] or [])}

    blocked = {ids[n] for n in ("pending.wav", "annot.wav", "unknown.wav")}
    assert blocked <= audio(everything)
    assert audio(training) == audio(everything) - blocked
    assert sum(len(r["events"] or []) for r in everything) == 3
    assert sum(len(r["events"] or []) for r in training) == 0  # the log's subject has not granted training
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "consent", "check", "--stage", "training",
                          "-p", str(p.root), "--json"], capture_output=True, text=True)
    assert cli.returncode == 0 and len(json.loads(cli.stdout)) == 4
