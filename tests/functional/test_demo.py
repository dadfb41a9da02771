"""The main job end to end: the demo's inventory finds what the world generator planted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run([sys.executable, "-m", "syncline.cli", "demo", str(out), "--json"],
                          capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout)
    result["_root"] = str(out)
    truth = json.loads((out / "world" / "ground_truth.json").read_text())
    print(f"demo finished in {result['elapsed_s']} s (world {result['world_s']} s)")
    return result, truth


def test_demo_inventory_shows_the_planted_missing_modalities_and_streams(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    inv = result["inventory"]
    assert set(inv["required"]) == {"audio", "sensor", "video"}
    for entity, missing in truth["missing_modalities"].items():
        for item in missing:
            modality, _, stream = item.partition(":")
            if modality not in inv["coverage"][entity]:
                assert modality in inv["missing"][entity]
            else:
                assert any(s.startswith(f"{modality}:{stream}") for s in inv["missing_streams"][entity]), item
    complete = [e for e in truth["entities"] if not any(
        m.split(":")[0] in inv["required"] and m.split(":")[0] not in inv["coverage"][e]
        for m in truth["missing_modalities"].get(e, []))]
    assert sorted(inv["complete_entities"]) == sorted(complete)
    assert 0 < inv["aligned_hours"] < inv["hours_of_files"]


def test_demo_inventory_flags_the_planted_night_imbalance(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    video = next(b for b in result["inventory"]["context"] if b["key"] == "lighting" and b["modality"] == "video")
    assert video["counts"] == truth["capture_conditions"]["video"]
    assert video["imbalanced"] and video["counts"]["night"] < video["counts"]["day"]


def test_demo_ingests_every_manifest_asset_and_quarantines_exactly_the_bad_files(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    ingest = result["ingest"]
    assert ingest["new_assets"] == truth["counts"]["assets"]
    assert ingest["by_modality"] == truth["counts"]["by_modality"]
    got = sorted((Path(q["path"]).name, q["kind"]) for q in ingest["quarantined"])
    assert got == sorted((Path(b["path"]).name, b["kind"]) for b in truth["bad_files"])
    assert Path(result["inventory"]["png"]).stat().st_size > 10_000


def test_demo_places_each_logger_on_its_event_log_with_the_planted_lag_and_drift(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    card = result["scorecard"]
    assert card["confident_wrong"] == 0
    rows = [r for r in card["pairs"] if r["pair"] == "sensor_events"]
    results = [r for r in result["align"]["results"] if r["kind"] == "sensor_events"]
    n_sensors = sum(1 for a in truth["assets"].values() if "sync_vs_events" in a)
    assert len(rows) == len(results) == n_sensors >= 5
    aligned = 0
    for row, res in zip(rows, results, strict=True):
        est = res["estimate"]
        if row["verdict"] != "aligned":
            continue
        aligned += 1
        assert row["error_ms"] <= 30.0, row  # a 10 Hz logger: each transition known to ±50 ms
        sigma = est["details"]["drift_uncertainty_ppm"]
        assert abs(row["found_drift_ppm"] - row["planted_drift_ppm"]) <= 4 * sigma + 1.0, (row, sigma)
        # no pair verified the event log against a camera, so the logger is placed relative to it
        assert res["applied"] and res["new_clock"]["source"].startswith("relative:"), res["new_clock"]
    assert aligned >= n_sensors - 1


def test_demo_withdraws_the_caretaker_who_withdrew_and_proves_it(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    withdrawn = [s for s, v in truth["subjects"].items() if v["consent"] == "withdrawn"]
    assert len(result["withdrawals"]) == len(withdrawn) == 1
    w = result["withdrawals"][0]
    planted = set(truth["subjects"][withdrawn[0]]["assets"])
    listed = {p.split("/world/", 1)[-1] for p in w["dry_run"]["source_files_outside_project"]}
    assert listed == planted  # the dry run lists exactly the planted files
    assert w["withdrawn"]["rows"] == w["dry_run"]["rows"] and w["withdrawn"]["rows"]["assets"] == len(planted)
    assert w["verify"]["clean"] and w["verify"]["files_scanned"] > 100, w["verify"]["hits"]
    project = Path(result["project"])
    assert not any(withdrawn[0].encode() in p.read_bytes() for p in project.rglob("*") if p.is_file())


def test_demo_inventory_shows_consent_and_the_privacy_register(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    inv = result["inventory"]
    statuses: dict[str, int] = {}
    for s in truth["subjects"].values():
        statuses[s["consent"]] = statuses.get(s["consent"], 0) + 1
    assert inv["consent"] == statuses
    withdrawn = [s for s, v in truth["subjects"].items() if v["consent"] == "withdrawn"]
    assert [n for n in inv["notes"] if "is withdrawn but" in n and withdrawn[0] in n]
    assert {tuple(r["signals"]) for r in inv["privacy_register"] if r["open"]} == {("video", "sensor", "events")}


def test_demo_annotation_finds_the_planted_night_confusion(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    ann = result["annotation"]
    planted = truth["annotation"]
    assert ann["labels"] == planted["labels"] and ann["refused"] == 0  # every window addressed by entity and span
    assert ann["grades"] == planted["grades"] and ann["grades_refused"] == 0
    verdicts = ann["scorecard"]["grader"]
    rate = {light: v.get("fix", 0) / sum(v.values()) for light, v in verdicts.items()}
    assert rate["night"] > rate["day"]  # the grader fixes crowd-c more at night
    by_slice = {s["slice"]: s for s in ann["agreement"]["slices"]}
    assert set(by_slice) == {"lighting=day", "lighting=night"}
    night = {r["annotator"]: r for r in by_slice["lighting=night"]["per_annotator"]}
    day = {r["annotator"]: r for r in by_slice["lighting=day"]["per_annotator"]}
    worst = min((a for a in night if night[a]["targets"] >= 10), key=lambda a: night[a]["score"])
    assert worst == planted["planted"]["annotator"] == "crowd-c"
    assert night["crowd-c"]["interval"][1] < day["crowd-c"]["interval"][0]  # fine by day, wrong at night
    card = ann["scorecard"]
    confusion = card["crowd_c_night_lying_as_struggling"]
    assert abs(confusion["dawid_skene_estimate"] - confusion["true_rate"]) < 0.15
    night_acc = card["accuracy"]["night"]
    assert night_acc["gold (Dawid-Skene)"] >= max(night_acc[a] for a in ("crowd-c", "crowd-d", "crowd-e"))
    assert night_acc["crowd-c"] < 0.75 < night_acc["gold (Dawid-Skene)"]


def test_demo_audit_finds_the_planted_media_defects(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    card = result["audit"]["scorecard"]
    assert card["precision"] >= 0.9 and card["recall"] >= 0.9
    planted = {k: v["planted"] for k, v in card["kinds"].items()}
    assert planted["media.video.black"] == sum(1 for a in truth["assets"].values()
                                               for d in a.get("defects", []) if d["kind"] == "black") > 0
    assert all(v["recall"] is None or v["recall"] >= 0.9 for v in card["kinds"].values())
    assert result["audit"]["checks"][0]["summary"]["quality_rows"] > 0


def test_demo_audit_summarises_alignment_and_finds_the_planted_imbalance(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    checks = {c["check"]: c for c in result["audit"]["checks"]}
    align = checks["alignment"]["summary"]
    assert align["verdicts"].get("no_plausible_alignment", 0) == len(truth["misattached"]) == 1
    posture = checks["imbalance"]["summary"]["posture"]
    windows = truth["annotation"]["windows"]
    assert posture["targets"] == len(windows)
    night = [w["posture"] for w in windows if w["lighting"] == "night"]
    cells = posture["by_lighting"]
    # the world makes lying likelier at night: the check counts it as planted and calls it a confound
    assert cells["counts"][cells["classes"].index("lying")][cells["conditions"].index("night")] == night.count("lying")
    assert cells["chi2_p"] < 0.01


def test_demo_audit_finds_the_planted_note_leak(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    (leak,) = truth["annotation"]["leaks"]
    checks = {c["check"]: c for c in result["audit"]["checks"]}
    mentions = {(m["source"], m["class"]): m for m in checks["leakage"]["summary"]["posture"]["text_mentions"]}
    lying = mentions[(leak["source"], "lying")]
    assert lying["precision"] == 1.0 and lying["p"] < 0.01 and checks["leakage"]["by_severity"].get("error", 0) >= 1


def test_demo_audit_runs_every_check_and_finds_the_planted_split_leaks(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    checks = {c["check"]: c for c in result["audit"]["checks"]}
    assert set(checks) == {"media", "alignment", "label_noise", "imbalance", "leakage", "split", "dominance"}
    assert all(c["ran"] for c in checks.values())
    # split by entity: no entity on two sides, but caretakers work in several stalls (their voices and
    # faces end up on both sides) and one photo was re-shared under another stall-day: the audit says so
    assert set(checks["split"]["by_kind"]) == {"split.subject", "split.near_duplicate"}
    assert checks["split"]["summary"]["default"]["targets"] == len(truth["annotation"]["windows"])
    data = result["audit"]["scorecard"]["data"]["checks"]
    for name in ("split.subject", "split.near_duplicate", "leakage.text", "imbalance.rare_class",
                 "imbalance.confounded_by_lighting"):
        assert data[name]["planted"] >= 1 and data[name]["precision"] == data[name]["recall"] == 1.0, name
    noise = checks["label_noise"]["summary"]["posture"]
    assert noise["disagreement"]["ran"] and not noise["confident_learning"]["ran"]  # no embeddings in the demo


def test_demo_label_noise_finds_the_wrong_labels_and_the_noisy_annotator(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    card = result["audit"]["scorecard"]["data"]
    wrong = card["checks"]["label_noise.disagreement"]
    # every wrong label of a field with 3+ annotators, against the Dawid-Skene consensus
    assert wrong["planted"] >= 50 and wrong["recall"] >= 0.9 and wrong["precision"] >= 0.9
    assert card["details"]["label_noise"]["not_judgeable"] == {"action": sum(
        1 for w in truth["annotation"]["wrong"] if w["field"] == "action")}  # two annotators: who is wrong?
    checks = {c["check"]: c for c in result["audit"]["checks"]}
    crowd = checks["label_noise"]["summary"]["posture"]["disagreement"]["annotators"]["crowd-c"]
    mine = [w for w in truth["annotation"]["wrong"] if w["field"] == "posture" and w["annotator"] == "crowd-c"]
    assert abs(crowd["suspects"] - len(mine)) <= 2 and crowd["interval"][0] <= len(mine) / crowd["n"]


def test_demo_dominance_uses_only_streams_in_sync(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    checks = {c["check"]: c for c in result["audit"]["checks"]}
    streams = checks["dominance"]["summary"]["streams"]
    # the mis-attached microphone and the sparse stall-day's unverifiable streams are left out
    assert streams["left_out_unverified"] >= len(truth["misattached"]) + 1
    posture = checks["dominance"]["summary"]["posture"]
    assert posture["ran"] and posture["segments"] < len(truth["annotation"]["windows"])
    # the planted audio-only field: the audio head alone beats chance, the video head does not
    vocal = checks["dominance"]["summary"]["vocal"]
    assert vocal["alone_p"]["audio"] <= 0.05 and vocal["alone_auc"]["audio"] > 0.6
    assert vocal["alone_p"]["video"] is None or vocal["alone_p"]["video"] > 0.05  # None: near chance, not tested
    card = result["audit"]["scorecard"]["data"]["details"]["dominance"]["verdicts"]
    assert card["planted"] == 1 and card["precision"] == card["recall"] == 1.0


def test_demo_runs_the_decomposed_barn_pipeline(demo) -> None:  # type: ignore[no-untyped-def]
    result, truth = demo
    pipe = result["pipeline"]
    assert pipe["segments"] == sum(pipe["routes"].values()) > 0
    # the stall-day without a microphone is decided by fusing the camera's posture alone
    no_mic = [e for e, missing in truth["missing_modalities"].items() if "audio:mic" in missing]
    assert no_mic and pipe["stage_status"]["fuse"].get("fallback", 0) > 0
    assert pipe["stage_status"]["hear"].get("skipped", 0) > 0
    # segments the cameras do not cover are not decided, and say why
    assert any("no video" in why for why in pipe["not_decided"])
    # the review volume is measured against the task's budget; the held-out stall-day is decided
    assert pipe["max_review_rate"] == 0.15 and 0.0 <= pipe["review_rate"] <= 1.0
    assert pipe["test"]["decided"] == pipe["test"]["labelled"] > 0
    assert {h["model_id"].split("@")[0] for h in pipe["heads"].values()} == {
        "hear-vocal", "see-posture", "fuse-action", "fuse-action-from-posture"}
    # locate runs before posture, wherever there is video; the temperature stage reads the stall logger
    st = pipe["stage_status"]
    assert st["locate"]["ok"] == st["see"]["ok"] > 0 and st["locate"]["abstained"] == st["see"]["abstained"]
    assert st["temperature"]["ok"] > st["see"]["ok"]  # the logger covers more of the day than the cameras
    assert pipe["uses"]["locate"] == "locate_stage" and pipe["uses"]["temperature"] == "temperature_stage"
    # the withdrawal flags the run: it used the withdrawn caretaker's recordings
    flagged = {r for w in result["withdrawals"] for r in w["withdrawn"]["runs_flagged"]}
    assert pipe["run_id"] in flagged


def test_demo_ends_with_the_evaluation_report(demo) -> None:  # type: ignore[no-untyped-def]
    """The report evaluates the pipeline run on the held-out stall-days: its overall accuracy is
    the pipeline summary's own agreement count, the run's invalidation by the withdrawal is said,
    and the five answers are there, in an offline HTML file."""
    result, _ = demo
    rep, pipe = result["report"], result["pipeline"]
    ev = rep["evaluation"]
    assert ev["run_id"] == pipe["run_id"] and ev["split"] == "test"
    acc = next(m for m in ev["metrics"] if (m["slice"], m["metric"]) == ("overall", "accuracy"))
    assert (acc["k"], acc["n"]) == (pipe["test"]["agree_with_labels"], pipe["test"]["decided"])
    assert any("invalidated" in n for n in ev["notes"])
    a = rep["answers"]
    assert a["which_model"]["run_id"] == pipe["run_id"]
    assert a["is_it_safe"]["answer"] in ("no", "not shown") and a["can_we_deploy"]["answer"] == "no"
    html = Path(rep["html"]).read_text()
    assert "Is it safe?" in html and "<script" not in html and "data:image/png;base64," in html
    assert "Red team" in html and "Next data" in html
    # the red team re-ran the pipeline five times, each run recorded with its perturbation
    red = json.loads(Path(rep["html"]).with_suffix(".json").read_text())["redteam"]
    assert [r["perturbation"] for r in red["perturbations"]] == ["drop:audio", "swap:audio", "shift:audio:0.5",
                                                                 "noise:video:1", "media:audio:rain"]
    assert red["perturbations"][-1]["files_not_perturbed"] == []  # every microphone file mixed with rain
    runs = {r["run_id"]: r for r in json.loads(subprocess.run(
        [sys.executable, "-c", "import json,sys; from syncline.project import Project; "
         "print(json.dumps(Project.open(sys.argv[1]).catalog().read('runs', columns=['run_id', 'kind', "
         "'config_json']).to_pylist()))", str(Path(result["project"]))], capture_output=True, text=True,
        check=True).stdout)}
    for r in red["perturbations"]:
        assert runs[r["run_id"]]["kind"] == "redteam"
        assert json.loads(runs[r["run_id"]]["config_json"])["note"]["perturbation"] == r["perturbation"]


def test_the_demo_pipeline_gives_the_same_predictions_on_ray(demo) -> None:  # type: ignore[no-untyped-def]
    """pipeline.yaml as the demo wrote it (its python: stages included), on the demo world after
    the withdrawal: the local executor and Ray on a local 2-CPU cluster, row for row."""
    from syncline.pipeline.local import run_pipeline
    from syncline.pipeline.ray import local_cluster, ray_batches
    from syncline.pipeline.spec import load_pipeline
    from syncline.project import Project

    result, _ = demo
    p = Project.open(Path(result["_root"]) / "project")
    pipe, spec, models = load_pipeline(p)
    kw = {"representations": spec.sources, "segmenter": spec.segmenter, "field_name": spec.field,
          "model_versions": models, "batch_size": 256, "commit_rows": 512}
    local = run_pipeline(p, pipe, **kw)
    with local_cluster(2):
        remote = run_pipeline(p, pipe, map_batches=ray_batches, **kw)

    def rows(run_id: str) -> dict[str, tuple]:  # type: ignore[type-arg]
        out = {}
        for r in p.catalog().read("predictions", where=f"run_id = '{run_id}'").to_pylist():
            d = json.loads(r["details_json"])
            out[r["target_id"]] = (r["value"], r["route"], r["score"], d["status"], d["reason"], d["failed_stage"])
        return out

    a, b = rows(local.run_id), rows(remote.run_id)
    assert len(a) == local.segments > 1000 and a == b
    assert local.stage_status == remote.stage_status and set(local.stage_status) >= {"locate", "temperature"}


def test_every_page_of_the_web_app_shows_the_demo_project(demo) -> None:  # type: ignore[no-untyped-def]
    """The demo project in headless Chromium (Debian's): every page renders its rows with no
    script error, as the owner and as an annotator; the entity page draws every file's lane and
    plays; the evaluation page answers the five questions with a forest plot."""
    from playwright.sync_api import sync_playwright
    from webserver import running

    from syncline.project import Project
    from syncline.server.app import create_app
    from syncline.server.auth import issue_tokens

    result, _ = demo
    p = Project.open(Path(result["_root"]) / "project")
    tokens = issue_tokens(p)
    logins = tokens.tokens_of()
    rows = p.catalog().read("findings", columns=["target_type", "target_id"]).to_pylist()
    schema = yaml.safe_load((p.root / "labels.yaml").read_text())["annotators"]["vet-a"]
    mine = set(schema["fields"]) | set(schema.get("grades", []))
    findings = {"owner": len(rows), "vet-a": sum(  # what each may see: the data, their fields, themselves
        r["target_type"] not in ("field", "annotator")
        or (r["target_type"] == "field" and r["target_id"].split("@")[0] in mine)
        or (r["target_type"] == "annotator" and r["target_id"] == "vet-a") for r in rows)}
    assert findings["vet-a"] < findings["owner"]
    entity = sorted(r["entity_id"] for r in p.catalog().read("entities").to_pylist()
                    if not r["entity_id"].startswith("_"))[0]
    files = len(p.catalog().read("assets", where=f"entity_id = '{entity}'").to_pylist())
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"]
    with running(create_app(p, tokens)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        for who in ("owner", "vet-a"):
            page = browser.new_context().new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.goto(f"{base}/login?token={logins[who]}")
            page.wait_for_selector("#aligned-hours")
            assert "h aligned" in (page.text_content("#aligned-hours") or "")
            page.evaluate("location.hash = '#/findings'")
            page.wait_for_selector("#page table tr:nth-child(2)")
            assert f"of {findings[who]}" in (page.text_content(".pager") or "")
            page.evaluate("location.hash = '#/evaluation'")
            if who == "owner":
                page.wait_for_selector("#forest circle")
                answers = page.locator("#page table").first.locator("tr").count() - 1
                assert answers == 5
            else:  # the report evaluates `action`, which vet-a labels but does not grade: not theirs to see
                page.wait_for_selector("#eval-note")
                assert "fields you do not grade" in (page.text_content("#eval-note") or "")
            page.evaluate(f"location.hash = '#/entity/{entity}'")
            page.wait_for_function("typeof TL !== 'undefined' && TL.data && document.querySelector('#video') "
                                   "&& document.querySelector('#video').readyState >= 2", timeout=20000)
            assert page.evaluate("TL.data.assets.length") == files
            page.evaluate("document.querySelector('#video').play()")
            page.wait_for_function("document.querySelector('#video').currentTime > 0.3", timeout=20000)
            for name in ("entities", "grading", "review", "inventory"):
                page.evaluate(f"location.hash = '#/{name}'")
                page.wait_for_selector("#page h2")
            assert page.locator("#page p.sev-error").count() == 0
            assert errors == [], (who, errors)

        # crowd-c labels the posture at 5 s of the first clip; vet-a accepts it from the grader queue
        page = browser.new_context().new_page()
        page.goto(f"{base}/login?token={logins['crowd-c']}")
        page.wait_for_selector("#aligned-hours")
        page.evaluate(f"location.hash = '#/entity/{entity}'")
        page.wait_for_function("document.querySelector('#video') && document.querySelector('#video').readyState >= 2",
                               timeout=20000)
        page.evaluate("document.querySelector('#video').currentTime = 5.0")
        page.wait_for_function("Math.abs(document.querySelector('#video').currentTime - 5.0) < 0.001")
        page.select_option("#label-field", "posture")
        page.select_option("#label-value", "down_struggling")
        page.click("#label-save")
        page.wait_for_function("document.querySelector('#status').textContent.startsWith('labelled')", timeout=20000)
        mine = [r for r in p.catalog().read("labels", where="annotator = 'crowd-c' AND field = 'posture'").to_pylist()
                if r["value"] == "down_struggling"]
        segs = {s["segment_id"]: s for s in p.catalog().read("segments", where=f"entity_id = '{entity}'").to_pylist()}
        hit = [r for r in mine if r["target_id"] in segs]
        assert hit, "the label is in the catalog, on a segment of the entity"
        label_id = hit[-1]["label_id"]
        grader = browser.new_context().new_page()
        grader.goto(f"{base}/login?token={logins['vet-a']}")
        grader.wait_for_selector("#aligned-hours")
        grader.evaluate("location.hash = '#/grading'")
        for _ in range(100):  # page through the queue to the label
            grader.wait_for_selector(".pager")
            if grader.locator(f"[data-label='{label_id}']").count():
                break
            grader.click(".pager button:nth-child(2)")
            grader.wait_for_timeout(200)
        grader.click(f"[data-label='{label_id}'] button.accept")
        grader.wait_for_function("document.querySelector('#status').textContent.startsWith('accept')", timeout=20000)
        graded = p.catalog().read("grades", where=f"label_id = '{label_id}'").to_pylist()
        verdicts = [(g["verdict"], g["graded_value"]) for g in graded if g["grader"] == "vet-a"]
        assert verdicts == [("accept", "down_struggling")]
        browser.close()
