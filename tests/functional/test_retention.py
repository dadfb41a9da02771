"""Retention: files past the shortest period that applies are purged like a withdrawal; files
within it, and files with a period but no date, are kept (and the undated ones reported)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from mediafiles import make_tone

from syncline.govern.retention import apply
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

NOW = datetime(2027, 3, 1, tzinfo=UTC)


def _iso(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


def _srt(path: Path, text: str) -> None:
    path.write_text(f"1\n00:00:00,100 --> 00:00:00,900\n{text}\n", encoding="utf-8")


# name: (days old or None for undated, subjects, jurisdiction, expected). Policy: default 365
# days, transcripts 30, EU 100, subject s-short's consent 10; the shortest that applies wins.
PLAN: dict[str, tuple[float | None, list[str], str | None, str]] = {
    "old_memo.srt": (40.0, [], None, "expired"),
    "young_memo.srt": (20.0, [], None, "kept"),
    "old_eu.wav": (200.0, [], "EU", "expired"),
    "young_eu.wav": (50.0, [], "EU", "kept"),
    "ancient.wav": (380.0, [], "US", "expired"),
    "recent.wav": (300.0, [], "US", "kept"),
    "short_consent.wav": (12.0, ["s-short"], None, "expired"),
    "undated.wav": (None, [], None, "undated"),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("data")
    assets = []
    for i, (name, (age, subjects, jur, _)) in enumerate(PLAN.items()):
        if name.endswith(".srt"):
            _srt(data / name, f"note number {i}")
        else:
            make_tone(data, name, seconds=0.5, freq=200.0 + 37 * i)
        a: dict[str, Any] = {"path": name, "entity_id": "e1", "subjects": subjects}
        if age is not None:
            a["start_time"] = _iso(age)
        if jur:
            a["jurisdiction"] = jur
        assets.append(a)
    manifest = {"version": 1, "subjects": [{"subject_id": "s-short", "consent": {"retention_days": 10}}],
                "assets": assets}
    (data / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    root = tmp_path_factory.mktemp("proj") / "p"
    init_project(root)
    settings = yaml.safe_load((root / "syncline.yaml").read_text())
    settings["retention"] = {"days": 365, "by_modality": {"transcript": 30}, "by_jurisdiction": {"EU": 100}}
    (root / "syncline.yaml").write_text(yaml.safe_dump(settings))
    project = Project.open(root)
    summary = ingest(project, [data], manifest_path=data / "manifest.json")
    assert not summary.quarantined
    ids = {Path(r["source_path"]).name: r for r in project.catalog().read("assets").to_pylist()}
    return {"project": project, "data": data, "assets": ids}


def _expected(kind: str) -> set[str]:
    return {n for n, v in PLAN.items() if v[3] == kind}


def test_a_dry_run_names_exactly_the_expired_files_and_the_undated(setup: dict[str, Any]) -> None:
    project, assets = setup["project"], setup["assets"]
    before = project.catalog().snapshot()
    report = apply(project, now=NOW, dry_run=True)
    names = {Path(a["source_path"]).name for a in report.expired}
    assert names == _expected("expired")
    assert set(report.undated) == {assets[n]["asset_id"] for n in _expected("undated")}
    assert project.catalog().snapshot() == before
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "retention", "apply", "-p", str(project.root),
                          "--dry-run", "--now", NOW.isoformat(), "--json"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert {a["asset_id"] for a in json.loads(cli.stdout)["expired"]} == {a["asset_id"] for a in report.expired}
    bad = subprocess.run([sys.executable, "-m", "syncline.cli", "retention", "apply", "-p", str(project.root),
                          "--now", "next tuesday"], capture_output=True, text=True)
    assert bad.returncode == 2 and "not an ISO 8601 instant" in bad.stderr
    assert project.catalog().snapshot() == before


def test_apply_purges_them_for_real_and_keeps_the_rest(setup: dict[str, Any]) -> None:
    project, assets, data = setup["project"], setup["assets"], setup["data"]
    kept_media = {n: (project.media_dir / assets[n]["managed_path"]).read_bytes()
                  for n in _expected("kept") | _expected("undated")}
    apply(project, now=NOW)
    left = {Path(r["source_path"]).name for r in project.catalog().read("assets").to_pylist()}
    assert left == _expected("kept") | _expected("undated")
    for n, content in kept_media.items():
        assert (project.media_dir / assets[n]["managed_path"]).read_bytes() == content
    needles = [assets[n][k].encode() for n in _expected("expired") for k in ("asset_id", "sha256")]
    for path in (p for p in project.root.rglob("*") if p.is_file()):
        blob = path.read_bytes()
        assert not [x for x in needles if x in blob], path  # old versions and media included
    log = [r for r in project.catalog().read("audit_log").to_pylist() if r["action"] == "retention.apply"]
    assert len(log) == 1 and json.loads(log[0]["details_json"])["assets"] == len(_expected("expired"))
    again = ingest(project, [data], manifest_path=data / "manifest.json")
    refused = [q for q in again.quarantined if q.kind == "withdrawn"]
    assert {Path(q.path).name for q in refused} == _expected("expired")
    assert all("retention period" in q.reason for q in refused)
    assert not apply(project, now=NOW).expired  # nothing left to purge
