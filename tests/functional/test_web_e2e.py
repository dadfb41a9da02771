"""End to end in a real headless Chromium (Debian's, driven by Playwright; no browser download):
a project whose microphone runs 0.6 s late, aligned with ``--apply``; an annotator logs in with
their URL, plays the timeline, steps a frame with the keyboard, sees the clock correction and
toggles raw time, labels the segment under the playhead; a grader accepts it in the queue; the
label and the grade are in the catalog."""

from __future__ import annotations

import json
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


def _login(browser: Any, base: str, token: str, who: str, errors: list[str]) -> Any:
    """A fresh page logged in with ``token`` (as ``who``), its script errors collected in ``errors``."""
    page = browser.new_context().new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login?token={token}")
    page.wait_for_function(f"document.querySelector('#me').textContent.includes('{who}')")
    return page


def test_play_label_and_accept_in_a_real_browser(project: Project) -> None:
    from playwright.sync_api import sync_playwright

    tokens = Tokens()
    tokens.add(Principal("crowd-c", "annotator", "crowd", ("animal_state",)), "tok-crowd")
    tokens.add(Principal("vet-a", "annotator", "expert", ("animal_state",), ("animal_state",)), "tok-vet")
    audio = next(a for a in project.catalog().read("assets").to_pylist() if a["modality"] == "audio")
    assert abs(abs(audio["clock_offset_ns"]) / 1e9 - SHIFT_S) < 0.02  # the correction the page should show
    with running(create_app(project, tokens)) as base, sync_playwright() as pw:
        browser = _browser(pw)
        errors: list[str] = []
        page = _login(browser, base, "tok-crowd", "crowd-c", errors)
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
        page.check("#show-spectrogram")
        spec = f"TL.specs['{audio['asset_id']}']"
        page.wait_for_function(f"{spec} && {spec}.image && {spec}.image.width === 800", timeout=20000)

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
        page.evaluate("document.querySelector('#status').textContent = ''")
        page.evaluate("document.querySelector('#video').currentTime = 5.1")  # a second label, [4, 6) s
        page.wait_for_function("document.querySelector('#clock').textContent.includes('entity time 5.1')")
        page.select_option("#label-value", "calm")
        page.click("#label-save")
        page.wait_for_function("document.querySelector('#status').textContent.includes('labelled')", timeout=20000)
        second = next(r for r in project.catalog().read("labels").to_pylist()
                      if r["annotator"] == "crowd-c" and r["label_id"] != label_id)
        assert segs[second["target_id"]]["t0_ns"] == 4_000_000_000

        # the grader accepts it from the queue
        grader = _login(browser, base, "tok-vet", "vet-a", errors)
        grader.goto(f"{base}/#/grading")
        grader.click(f"[data-label='{label_id}'] button.accept", timeout=20000)
        grader.wait_for_function("document.querySelector('#status').textContent.startsWith('accept')", timeout=20000)
        row = f"[data-label='{second['label_id']}']"
        grader.click(f"{row} button.fix", timeout=20000)  # the queue has redrawn without the accepted one
        grader.select_option(f"{row} .fix-value", "restless")
        grader.click(f"{row} .fix-save")
        grader.wait_for_function("document.querySelector('#status').textContent.startsWith('fix')", timeout=20000)
        browser.close()
    grades = sorted((g["label_id"], g["grader"], g["verdict"], g["corrected_value"])
                    for g in project.catalog().read("grades").to_pylist())
    assert grades == sorted([(label_id, "vet-a", "accept", None), (second["label_id"], "vet-a", "fix", '"restless"')])
    labels_now = project.catalog().read("labels").to_pylist()
    fixes = [(r["target_id"], r["value"]) for r in labels_now if r["annotator"] == "vet-a"]
    assert fixes == [(second["target_id"], "restless")]  # a fix is also the grader's own label
    assert errors == []


RICH = {"version": 1,
        "fields": {"door": {"kind": "perception", "granularity": "event", "type": "class", "values": ["ok", "stuck"]},
                   "posture_span": {"kind": "perception", "granularity": "entity", "type": "time_span",
                                    "values": ["standing", "lying"]},
                   "injury": {"kind": "perception", "granularity": "region", "type": "box"},
                   "wound": {"kind": "perception", "granularity": "region", "type": "polygon",
                             "values": ["cut", "swelling"]},
                   "weight": {"kind": "perception", "granularity": "entity", "type": "number", "min": 0, "max": 900}},
        "annotators": {"crowd-c": {"tier": "crowd", "fields": ["door", "posture_span", "injury", "wound", "weight"]}}}


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Project:
    from mediafiles import make_events_csv, make_image, make_video

    root = tmp_path_factory.mktemp("rich")
    data = root / "data" / "stall-1"
    data.mkdir(parents=True)
    make_video(data, "cam.mp4", seconds=6.0, fps=25, size=(160, 120), audio=False)
    make_image(data, "photo.png", size=(160, 120))
    make_events_csv(data, "doors.csv")
    p = init_project(root / "p")
    ingest(p, [data.parent])
    (p.root / "labels.yaml").write_text(yaml.safe_dump(RICH), encoding="utf-8")
    return p


def test_events_spans_boxes_and_numbers_are_labelled_in_the_browser(rich: Project) -> None:
    """The label panel follows the field: the event nearest the playhead, a time span marked on
    the timeline, a box dragged on the entity's image, a polygon clicked on it point by point, a
    number — each lands in the catalog on the right target with the right value."""
    from playwright.sync_api import sync_playwright

    tokens = Tokens()
    tokens.add(Principal("crowd-c", "annotator", "crowd", ("door", "posture_span", "injury", "wound", "weight")), "tok")
    cat = rich.catalog()
    events = sorted(cat.read("events").to_pylist(), key=lambda e: e["t_ns"])
    image = next(a for a in cat.read("assets").to_pylist() if a["modality"] == "image")
    with running(create_app(rich, tokens)) as base, sync_playwright() as pw:
        browser = _browser(pw)
        errors: list[str] = []
        page = _login(browser, base, "tok", "crowd-c", errors)
        page.goto(f"{base}/#/entity/stall-1")
        page.wait_for_function("document.querySelector('#video') && document.querySelector('#video').readyState >= 2",
                               timeout=20000)

        def at(seconds: float) -> None:
            page.evaluate(f"document.querySelector('#video').currentTime = {seconds}")
            page.wait_for_function(f"Math.abs(document.querySelector('#video').currentTime - {seconds}) < 0.001")

        def saved() -> None:
            page.wait_for_function("document.querySelector('#status').textContent.startsWith('labelled')",
                                   timeout=20000)
            page.evaluate("document.querySelector('#status').textContent = ''")

        at(0.9)  # the event nearest 0.9 s
        page.select_option("#label-field", "door")
        page.select_option("#label-value", "stuck")
        page.click("#label-save")
        saved()
        at(1.0)
        page.select_option("#label-field", "posture_span")
        page.click("#label-mark-start")
        at(3.0)
        page.click("#label-mark-end")
        page.select_option("#label-value", "lying")
        page.click("#label-save")
        saved()
        page.select_option("#label-field", "injury")
        page.wait_for_function("document.querySelector('#label-img').complete && "
                               "document.querySelector('#label-img').naturalWidth > 0")
        box = page.locator("#label-draw").bounding_box()
        assert box is not None and box["width"] == pytest.approx(160, abs=1)
        page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.25 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.6 * box["width"], box["y"] + 0.75 * box["height"], steps=5)
        page.mouse.up()
        page.click("#label-save")
        saved()
        # a polygon, point by point; a stray point cleared first, and saving too early is refused
        page.select_option("#label-field", "wound")
        page.wait_for_function("document.querySelector('#label-img').complete && "
                               "document.querySelector('#label-img').naturalWidth > 0")
        box = page.locator("#label-draw").bounding_box()
        assert box is not None

        def click(fx: float, fy: float) -> None:
            page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # type: ignore[index]

        click(0.9, 0.9)
        page.click("#label-shape-clear")
        click(0.25, 0.25)
        click(0.75, 0.25)
        page.click("#label-save")
        page.wait_for_function("document.querySelector('#status').textContent === 'draw the polygon first'")
        click(0.75, 0.75)
        click(0.25, 0.5)
        page.select_option("#label-value", "swelling")
        page.click("#label-save")
        saved()
        page.select_option("#label-field", "weight")
        page.fill("#label-value", "412.5")
        page.click("#label-save")
        saved()
        browser.close()
    assert errors == []
    got = {r["field"]: r for r in cat.read("labels").to_pylist()}
    nearest = min(events, key=lambda e: abs(e["t_ns"] - 900_000_000))
    assert (got["door"]["target_id"], got["door"]["value"]) == (nearest["event_id"], "stuck")
    t0, t1, cls = json.loads(got["posture_span"]["value"])
    assert (got["posture_span"]["target_id"], cls) == ("stall-1", "lying")
    assert t0 == pytest.approx(1e9, abs=1e6) and t1 == pytest.approx(3e9, abs=1e6)
    assert got["injury"]["target_id"] == image["asset_id"]
    assert json.loads(got["injury"]["value"]) == pytest.approx([32, 30, 96, 90], abs=2)
    assert float(got["weight"]["value"]) == 412.5
    wound = json.loads(got["wound"]["value"])
    assert got["wound"]["target_id"] == image["asset_id"] and wound[-1] == "swelling"
    assert [p for q in wound[:-1] for p in q] == pytest.approx([40, 30, 120, 30, 120, 90, 40, 60], abs=2)


def test_a_routed_decision_is_answered_from_the_review_queue(project: Project) -> None:
    """A pipeline run routed two segments to people; crowd-c answers the first from the review
    queue: the answer is crowd-c's label of that segment, the queue is redrawn without it before
    the status line says so, and the other decision stays."""
    from playwright.sync_api import sync_playwright

    segs = sorted(project.catalog().read("segments").to_pylist(), key=lambda s: s["t0_ns"])
    cat = project.catalog()
    cat.upsert("runs", [{"run_id": "pipe-review", "kind": "pipeline", "status": "finished", "started_utc_ns": 1}])
    cat.upsert("predictions", [
        {"prediction_id": f"p-{i}", "run_id": "pipe-review", "target_type": "segment", "target_id": s["segment_id"],
         "field": "animal_state", "value": "calm", "route": "review", "score": 0.5}
        for i, s in enumerate(segs[7:9])])
    tokens = Tokens()
    tokens.add(Principal("crowd-c", "annotator", "crowd", ("animal_state",)), "tok-crowd")
    with running(create_app(project, tokens)) as base, sync_playwright() as pw:
        browser = _browser(pw)
        errors: list[str] = []
        page = _login(browser, base, "tok-crowd", "crowd-c", errors)
        page.goto(f"{base}/#/review")
        page.wait_for_function("document.querySelector('#page h2') && "
                               "document.querySelector('#page h2').textContent.startsWith('Human review')")
        assert page.locator("#page table tr").count() == 3  # a header and the two decisions
        page.click("#page table tr:nth-child(2) button:text('restless')")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('answered')", timeout=20000)
        assert page.locator("#page table tr").count() == 2  # redrawn before the status said so
        browser.close()
    answers = [(r["annotator"], r["target_id"], r["value"]) for r in project.catalog().read("labels").to_pylist()
               if r["target_id"] in {s["segment_id"] for s in segs[7:9]}]
    assert answers == [("crowd-c", segs[7]["segment_id"], "restless")]
    assert errors == []
