"""Guidelines with versions on a real catalog: a pilot slice that covers every capture
condition, labels that carry the frozen version, a change after the freeze refused until it is
frozen as a new version, and the old version's labels flagged for review."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mediafiles import make_tone

from syncline.align.segment import run_segmenters
from syncline.annotate.guidelines import GuidelineError, diff, freeze, pilot
from syncline.annotate.labels import write_labels
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

SCHEMA = {"version": 1, "fields": {"animal_state": {"kind": "perception", "type": "class",
                                                    "values": ["calm", "restless", "distressed"]}},
          "annotators": {"vet-a": {"tier": "expert", "fields": ["animal_state"]}}}


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    data = tmp_path / "data"
    assets = []
    for n, (stall, light) in enumerate([("s1", "day"), ("s2", "day"), ("s3", "night"), ("s4", "day")]):
        (data / stall).mkdir(parents=True)
        make_tone(data / stall, f"{stall}.wav", seconds=30.0, freq=200.0 + 50 * n)
        assets.append({"path": f"{stall}/{stall}.wav", "entity_id": stall, "context": {"lighting": light}})
    (data / "m.yaml").write_text(yaml.safe_dump({"version": 1, "assets": assets}), encoding="utf-8")
    p = init_project(tmp_path / "p")
    ingest(p, [data], manifest_path=data / "m.yaml")
    run_segmenters(p, ["fixed"], window_s=5.0)
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    (p.root / "guidelines.md").write_text("# Animal state\n\nCalm: lying or eating quietly.\n", encoding="utf-8")
    return p


def _night_segments(p: Project) -> set[str]:
    night = {a["asset_id"] for a in p.catalog().read("assets").to_pylist() if "night" in (a["context_json"] or "")}
    return {s["segment_id"] for s in p.catalog().read("segments").to_pylist() if set(s["asset_ids"]) & night}


def test_the_pilot_covers_every_capture_condition(project: Project) -> None:
    chosen = pilot(project, n=4)
    assert len(chosen) == 4 and _night_segments(project) & set(chosen)  # 1 of 4 files is at night: still in


def test_labels_carry_the_frozen_version_and_a_change_needs_a_new_freeze(project: Project) -> None:
    seg = sorted(s["segment_id"] for s in project.catalog().read("segments").to_pylist())[0]
    label = {"field": "animal_state", "target_id": seg, "annotator": "vet-a", "value": "calm"}
    with pytest.raises(GuidelineError, match="never piloted"):
        freeze(project)
    pilot(project, n=3)
    v1, flagged = freeze(project)
    assert flagged == 0 and write_labels(project, [label]).written == 1
    assert project.catalog().read("labels").to_pylist()[0]["guideline_version"] == v1
    guide = project.root / "guidelines.md"
    guide.write_text(guide.read_text() + "Distressed: down and struggling, or calling repeatedly.\n")
    refused = write_labels(project, [label | {"value": "restless"}])
    assert refused.written == 0 and "changed after guideline" in refused.refused[0].reason
    assert "`syncline guidelines pilot`), then `syncline guidelines freeze`" in refused.refused[0].reason
    with pytest.raises(GuidelineError, match="never piloted"):  # what the message says to do first, indeed
        freeze(project)
    assert "+Distressed: down and struggling" in diff(project)
    pilot(project, n=3)
    v2, flagged = freeze(project)
    assert v2 != v1 and flagged == 1
    finding = project.catalog().read("findings", where="check = 'annotate.guideline_changed'").to_pylist()
    assert len(finding) == 1 and v1 in finding[0]["message"]
    statuses = {r["version"]: r["status"] for r in project.catalog().read("guidelines").to_pylist()}
    assert statuses == {v1: "superseded", v2: "frozen"}
    assert write_labels(project, [label | {"value": "restless"}]).written == 1
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "guidelines", "freeze", "-p", str(project.root),
                          "--json"], capture_output=True, text=True)
    assert cli.returncode == 0 and json.loads(cli.stdout) == {"version": v2, "flagged": 0}
