"""End to end in a real headless Chromium (Debian's, driven by Playwright; no browser download):
a project whose microphone runs 0.6 s late, aligned with ``--apply``; an annotator logs in with
their URL, plays the timeline, steps a frame with the keyboard, sees the clock correction and
toggles raw time, labels the segment under the playhead; a grader accepts it in the queue; the
label and the grade are in the catalog."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from webserver import running

from syncline.align.run import align
from syncline.align.segment import run_segmenters
from syncline.demo.synth_av import make_av_clip
from syncline.ingest import ingest
from syncline.project import Project, init_project
from syncline.server.app import create_app
from syncline.server.auth import Principal, Tokens

pytestmark = pytest.mark.functional

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
SHIFT_S = 0.6
SCHEMA = {"version": 1,
          "fields": {"animal_state": {"kind": "perception", "type": "ordinal", "values": ["calm", "restless"]}},
          "annotators": {"vet-a": {"tier": "expert", "fields": ["animal_state"], "grades": ["animal_state"]},
                         "crowd-c": {"tier": "crowd", "fields": ["animal_state"]}}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data" / "stall-1"
    data.mkdir(parents=True)
    make_av_clip(data, seed=5, seconds=20.0, fps=25, size=(320, 180), shift_s=SHIFT_S, events_per_min=36,
                 name="cam")
    p = init_project(root / "p")
    ingest(p, [data.parent])
    report = align(p, apply=True)
    verdicts = [r.estimate.verdict.value for r in report.results]
    assert "aligned" in verdicts, [r.estimate.reason for r in report.results]
    run_segmenters(p, ["fixed"], window_s=2.0)
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    return p


def _browser(pw: Any) -> Any:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is missing: `make test` installs it (scripts/install-debian-deps.sh)")
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


def test_play_label_and_accept_in_a_real_browser(project: Project) -> None:
    from playwright.sync_api import sync_playwright

    tokens = Tokens()
    tokens.add(Principal("crowd-c", "annotator", "crowd", ("animal_state",)), "tok-crowd")
    tokens.add(Principal("vet-a", "annotator", "expert", ("animal_state",), ("animal_state",)), "tok-vet")
    audio = next(a for a in project.catalog().read("assets").to_pylist() if a["modality"] == "audio")
    assert abs(abs(audio["clock_offset_ns"]) / 1e9 - SHIFT_S) < 0.02  # the correction the page should show
    with running(create_app(project, tokens)) as base, sync_playwright() as pw:
        browser = _browser(pw)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/login?token=tok-crowd")
        page.wait_for_function("document.querySelector('#me').textContent.includes('crowd-c')")
        page.goto(f"{base}/#/entity/stall-1")
        page.wait_for_function("document.querySelector('#video') && document.querySelector('#video').readyState >= 2",
                               timeout=20000)

        # play: the video runs and the timeline's clock follows it
        page.evaluate("document.querySelector('#video').play()")
        page.wait_for_function("document.querySelector('#video').currentTime > 0.6", timeout=20000)
        page.evaluate("document.querySelector('#video').pause()")
        shown = float(re.search(r"entity time ([\d.]+) s", page.text_content("#clock") or "").group(1))  # type: ignore[union-attr]
        now = page.evaluate("document.querySelector('#video').currentTime")
        assert shown == pytest.approx(now, abs=0.1)

        # a frame forward from the keyboard
        page.evaluate("document.querySelector('#video').currentTime = 1.0")
        page.wait_for_function("Math.abs(document.querySelector('#video').currentTime - 1.0) < 0.001")
        page.focus("#timeline")
        page.keyboard.press("ArrowRight")
        page.wait_for_function("Math.abs(document.querySelector('#video').currentTime - 1.04) < 0.005")

        # the microphone's correction is shown, and raw time puts it back where it was
        offsets = page.text_content("#offsets") or ""
        found = float(re.search(r"corrected by ([-\d.]+) ms", offsets).group(1))  # type: ignore[union-attr]
        assert found == pytest.approx(audio["clock_offset_ns"] / 1e6, abs=0.1)  # the raw offset was 0
        clocks = [c for c in project.catalog().read("clocks").to_pylist() if c["asset_id"] == audio["asset_id"]
                  and c["applied"]]
        assert len(clocks) == 1 and clocks[0]["new_offset_ns"] == audio["clock_offset_ns"]
        audio_at = f"TL.data.assets.find(a => a.asset_id === '{audio['asset_id']}')"
        assert page.evaluate(f"toEntity({audio_at}, 0)") == audio["clock_offset_ns"]  # where the mic starts
        page.check("#raw-time")
        assert page.evaluate(f"toEntity({audio_at}, 0)") == clocks[0]["old_offset_ns"]  # where it sat before

        # in raw time, after a seek with the player (paused, no keyboard), label the segment under
        # the playhead: segments are on the corrected timeline, 3.1 s is the [2, 4) s window
        page.evaluate("document.querySelector('#video').currentTime = 3.1")
        page.wait_for_function("document.querySelector('#clock').textContent.includes('entity time 3.1')")
        page.select_option("#label-field", "animal_state")
        page.select_option("#label-value", "restless")
        page.click("#label-save")
        page.wait_for_function("document.querySelector('#status').textContent.includes('labelled')", timeout=20000)
        assert page.is_checked("#raw-time")  # the redrawn page keeps the clock it showed
        labels = [r for r in project.catalog().read("labels").to_pylist() if r["annotator"] == "crowd-c"]
        segs = {s["segment_id"]: s for s in project.catalog().read("segments").to_pylist()}
        assert [(r["value"], segs[r["target_id"]]["t0_ns"]) for r in labels] == [("restless", 2_000_000_000)]
        label_id = labels[0]["label_id"]

        # the grader accepts it from the queue
        grader = browser.new_context().new_page()
        grader.on("pageerror", lambda e: errors.append(str(e)))
        grader.goto(f"{base}/login?token=tok-vet")
        grader.goto(f"{base}/#/grading")
        grader.click(f"[data-label='{label_id}'] button.accept", timeout=20000)
        grader.wait_for_function("document.querySelector('#status').textContent.startsWith('accept')", timeout=20000)
        browser.close()
    grades = [(g["label_id"], g["grader"], g["verdict"]) for g in project.catalog().read("grades").to_pylist()]
    assert grades == [(label_id, "vet-a", "accept")]
    assert errors == []
