"""The web app's API on a real project (ingested media, Lance catalog): token auth on every
route, media by ID with range requests and no path traversal, labels written within the
annotator's qualification, the grader queue, the timeline's rows, and twenty annotators saving
a hundred labels each at once over real HTTP without losing one."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient
from mediafiles import make_sensor_csv, make_tone, make_video, sensor_truth
from webserver import running

from syncline.align.segment import run_segmenters
from syncline.annotate.schema import load_schema
from syncline.ingest import ingest
from syncline.media.audio import read_audio
from syncline.project import Project, init_project
from syncline.server.app import create_app
from syncline.server.auth import Principal, Tokens, annotators

pytestmark = pytest.mark.functional

STATES = ["calm", "restless", "distressed"]
CROWD = [f"ann-{i:02d}" for i in range(20)]
SCHEMA = {"version": 1,
          "fields": {"animal_state": {"kind": "perception", "type": "ordinal", "values": STATES},
                     "action": {"kind": "judgment", "type": "class", "values": ["alert_vet", "watch", "ignore"]}},
          "annotators": {"vet-a": {"tier": "expert", "fields": ["animal_state", "action"], "grades": ["animal_state"]},
                         "crowd-c": {"tier": "crowd", "fields": ["animal_state"]},
                         **{a: {"tier": "crowd", "fields": ["animal_state"]} for a in CROWD}}}


def _project(root: Path, seconds: float) -> Project:
    data = root / "data" / "stall-1"
    data.mkdir(parents=True)
    make_video(data, "cam.mp4", seconds=min(seconds, 6.0), fps=25, size=(160, 120), audio=False)
    make_tone(data, "mic.wav", seconds=seconds, sample_rate=8000)
    make_sensor_csv(data, "imu.csv", rate_hz=50, seconds=min(seconds, 60.0))
    p = init_project(root / "p")
    ingest(p, [data.parent])
    run_segmenters(p, ["fixed"], window_s=2.0)
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    return p


def _tokens(p: Project) -> tuple[Tokens, dict[str, str]]:
    tokens = Tokens()
    tokens.add(Principal("owner", "owner"), "tok-owner")
    for who in annotators(load_schema(p.root / "labels.yaml")):
        tokens.add(who, f"tok-{who.name}")
    return tokens, {n: f"tok-{n}" for n in ["owner", "vet-a", "crowd-c", *CROWD]}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    p = _project(tmp_path_factory.mktemp("web"), 200.0)
    tokens, tok = _tokens(p)
    client = TestClient(create_app(p, tokens))
    return {"project": p, "client": client, "tok": tok}


@pytest.fixture()
def fresh(tmp_path: Path) -> dict[str, Any]:
    """A project of its own (ten 2 s segments) for a test that needs unlabelled targets."""
    p = _project(tmp_path, 20.0)
    tokens, tok = _tokens(p)
    return {"project": p, "client": TestClient(create_app(p, tokens)), "tok": tok}


def _h(tok: str) -> dict[str, str]:
    return {"authorization": f"Bearer {tok}"}


def _segments(p: Project) -> list[dict[str, Any]]:
    return sorted(p.catalog().read("segments").to_pylist(), key=lambda s: s["t0_ns"])


def test_every_route_refuses_a_request_without_a_valid_token(served: dict[str, Any]) -> None:
    client: TestClient = served["client"]
    schema = client.get("/api/openapi.json", headers=_h(served["tok"]["owner"])).json()
    routes = [(m.upper(), path) for path, ops in schema["paths"].items() for m in ops]
    routes += [("GET", "/"), ("GET", "/static/{name}"), ("GET", "/api/openapi.json")]
    assert len(routes) >= 14
    for method, path in routes:
        url = path.replace("{entity_id}", "stall-1").replace("{asset_id}", "x").replace("{name}", "app.js")
        for headers in ({}, _h("wrong-token"), {"cookie": "syncline_token=wrong"}):
            resp = client.request(method, url, headers=headers, json={"labels": [{"field": "x"}]})
            assert resp.status_code == 401, (method, url, headers, resp.status_code)
    assert client.get("/login?token=nope", follow_redirects=False).status_code == 401


def test_the_login_url_sets_a_strict_http_only_cookie_that_opens_the_app(served: dict[str, Any]) -> None:
    client = TestClient(served["client"].app)
    resp = client.get(f"/login?token={served['tok']['crowd-c']}", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200 and "<script src=\"/static/app.js\">" in page.text
    assert client.get("/static/app.js").status_code == 200
    me = client.get("/api/me").json()
    assert me["name"] == "crowd-c" and set(me["fields"]) == {"animal_state"}  # action is not theirs to see


def test_media_is_served_by_id_with_ranges_and_never_by_path(served: dict[str, Any]) -> None:
    client, p, tok = served["client"], served["project"], served["tok"]["owner"]
    video = next(a for a in p.catalog().read("assets").to_pylist() if a["modality"] == "video")
    on_disk = (p.media_dir / video["managed_path"]) if video["managed_path"] else Path(video["source_path"])
    raw = on_disk.read_bytes()
    full = client.get(f"/api/assets/{video['asset_id']}/media", headers=_h(tok))
    assert full.status_code == 200 and full.content == raw and full.headers["content-type"] == "video/mp4"
    part = client.get(f"/api/assets/{video['asset_id']}/media", headers=_h(tok) | {"range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == raw[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(raw)}"
    tail = client.get(f"/api/assets/{video['asset_id']}/media", headers=_h(tok) | {"range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == raw[-50:]
    for bad in ["nope", "..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", str(on_disk).replace("/", "%2F")]:
        resp = client.get(f"/api/assets/{bad}/media", headers=_h(tok))
        assert resp.status_code == 404 and b"root:" not in resp.content


def test_the_waveform_is_the_min_and_max_of_the_decoded_samples(served: dict[str, Any]) -> None:
    client, p = served["client"], served["project"]
    audio = next(a for a in p.catalog().read("assets").to_pylist() if a["modality"] == "audio")
    w = client.get(f"/api/assets/{audio['asset_id']}/waveform?bins=500", headers=_h(served["tok"]["owner"])).json()
    samples, rate, _ = read_audio(p.media_dir / audio["managed_path"] if audio["managed_path"]
                                  else Path(audio["source_path"]))
    assert len(w["max"]) == 500 and len(w["min"]) == 500
    assert max(w["max"]) == pytest.approx(float(samples[0].max()), abs=1e-4)
    assert min(w["min"]) == pytest.approx(float(samples[0].min()), abs=1e-4)
    assert w["step_ns"] * 500 == pytest.approx(samples.shape[1] / rate * 1e9, rel=1e-6)


def test_the_spectrogram_puts_a_440_hz_tone_in_the_band_that_holds_440_hz(served: dict[str, Any]) -> None:
    import base64

    client, p = served["client"], served["project"]
    audio = next(a for a in p.catalog().read("assets").to_pylist() if a["modality"] == "audio")
    sp = client.get(f"/api/assets/{audio['asset_id']}/spectrogram?bins=400", headers=_h(served["tok"]["owner"])).json()
    levels = np.frombuffer(base64.b64decode(sp["levels"]), np.uint8).reshape(sp["bins"], sp["bands"])
    edges = np.array(sp["edges_hz"])
    band = int(np.searchsorted(edges, 440.0, side="right") - 1)
    assert sp["bins"] == 400 and edges[0] == 50.0 and edges[-1] == 4000.0  # Nyquist of the 8 kHz file
    assert np.mean(levels.argmax(axis=1) == band) > 0.95
    assert sp["step_ns"] * 400 == pytest.approx(200e9, rel=1e-3)
    assert levels[:, band].mean() > levels[:, : band - 2].mean() + 100  # the tone stands far above the rest


def test_sensor_series_are_each_channels_min_and_max_per_bin(served: dict[str, Any]) -> None:
    client, p = served["client"], served["project"]
    sensor = next(a for a in p.catalog().read("assets").to_pylist() if a["modality"] == "sensor")
    s = client.get(f"/api/assets/{sensor['asset_id']}/series?bins=300", headers=_h(served["tok"]["owner"])).json()
    t, ax = sensor_truth(rate_hz=50, seconds=60.0)
    assert len(s["t_ns"]) == 300 and s["t_ns"][0] == 0 and s["t_ns"][-1] == pytest.approx(t[-10] * 1e9, abs=2e7)
    accel = next(v for k, v in s["channels"].items() if k.startswith("accel_x"))
    edges = np.linspace(0, len(ax), 301).astype(int)
    want_hi = [ax[a:b].max() for a, b in zip(edges[:-1], edges[1:], strict=True)]
    assert accel["max"] == pytest.approx(want_hi, abs=1e-4)
    assert min(accel["min"]) == pytest.approx(ax.min(), abs=1e-4)


def test_labels_are_written_as_the_caller_within_their_qualification(served: dict[str, Any]) -> None:
    client, p, tok = served["client"], served["project"], served["tok"]
    seg = _segments(p)[3]
    ok = client.post("/api/labels", headers=_h(tok["crowd-c"]), json={"labels": [
        {"field": "animal_state", "value": "restless", "target_id": seg["segment_id"]},
        {"field": "action", "value": "watch", "target_id": seg["segment_id"]},
        {"field": "animal_state", "value": "sleepy", "target_id": seg["segment_id"]},
        {"field": "animal_state", "value": "calm", "target_id": "no-such-segment"}]}).json()
    assert ok["written"] == 1
    reasons = {r["index"]: r["reason"] for r in ok["refused"]}
    assert "not qualified" in reasons[1] and "sleepy" in reasons[2] and "no such segment" in reasons[3]
    rows = [r for r in p.catalog().read("labels").to_pylist() if r["target_id"] == seg["segment_id"]]
    assert [(r["annotator"], r["value"], r["annotator_tier"]) for r in rows] == [("crowd-c", "restless", "crowd")]
    owner = client.post("/api/labels", headers=_h(tok["owner"]),
                        json={"labels": [{"field": "animal_state", "value": "calm", "target_id": seg["segment_id"]}]})
    assert owner.status_code == 403
    forged = client.post("/api/labels", headers=_h(tok["crowd-c"]), json={"labels": [
        {"field": "animal_state", "value": "calm", "target_id": seg["segment_id"], "annotator": "vet-a"}]})
    assert forged.status_code == 422  # the writer is who logged in; a body cannot name someone else
    timeline = client.get("/api/entities/stall-1/timeline", headers=_h(tok["crowd-c"])).json()
    assert [(lab["field"], lab["value"], lab["t0_ns"]) for lab in timeline["labels"]] == \
        [("animal_state", "restless", seg["t0_ns"])]


def test_the_grader_queue_shows_what_they_may_grade_and_writes_their_verdict(served: dict[str, Any]) -> None:
    client, p, tok = served["client"], served["project"], served["tok"]
    seg = _segments(p)[5]
    res = client.post("/api/labels", headers=_h(tok["crowd-c"]),
                      json={"labels": [{"field": "animal_state", "value": "calm", "target_id": seg["segment_id"]}]})
    assert res.json()["written"] == 1
    mine = client.post("/api/labels", headers=_h(tok["vet-a"]),
                       json={"labels": [{"field": "animal_state", "value": "calm", "target_id": seg["segment_id"]}]})
    assert mine.json()["written"] == 1
    queue = client.get("/api/queue/grading?limit=500", headers=_h(tok["vet-a"])).json()
    here = [it for it in queue["items"] if it["target_id"] == seg["segment_id"]]
    assert [it["annotator"] for it in here] == ["crowd-c"]  # never their own label
    assert here[0]["entity_id"] == "stall-1" and here[0]["t0_ns"] == seg["t0_ns"]
    assert client.get("/api/queue/grading", headers=_h(tok["crowd-c"])).json()["total"] == 0  # crowd grades nothing
    refused = client.post("/api/grades", headers=_h(tok["crowd-c"]),
                          json={"grades": [{"label_id": here[0]["label_id"], "verdict": "accept"}]}).json()
    assert refused["written"] == 0 and "may not grade" in refused["refused"][0]["reason"]
    done = client.post("/api/grades", headers=_h(tok["vet-a"]),
                       json={"grades": [{"label_id": here[0]["label_id"], "verdict": "accept"}]}).json()
    assert done == {"written": 1, "refused": []}
    grades = p.catalog().read("grades").to_pylist()
    assert [(g["label_id"], g["grader"], g["verdict"]) for g in grades if g["label_id"] == here[0]["label_id"]] == \
        [(here[0]["label_id"], "vet-a", "accept")]
    after = client.get("/api/queue/grading?limit=500", headers=_h(tok["vet-a"])).json()
    assert here[0]["label_id"] not in {it["label_id"] for it in after["items"]}


def test_lists_paginate_and_bad_parameters_are_422_not_500(served: dict[str, Any]) -> None:
    client, tok = served["client"], served["tok"]["owner"]
    page = client.get("/api/entities?offset=0&limit=1", headers=_h(tok)).json()
    assert page["total"] == 1 and page["items"][0]["entity_id"] == "stall-1"
    assert page["items"][0]["modalities"] == ["audio", "sensor", "video"]
    assert client.get("/api/entities?offset=5", headers=_h(tok)).json()["items"] == []
    for url in ["/api/entities?limit=0", "/api/entities?limit=100000", "/api/entities?offset=-1",
                "/api/findings?severity=bad", "/api/assets/x/waveform?bins=0"]:
        assert client.get(url, headers=_h(tok)).status_code == 422, url
    assert client.get("/api/entities/nope/timeline", headers=_h(tok)).status_code == 404
    assert client.post("/api/labels", headers=_h(tok), content=b"{not json").status_code == 422
    assert client.get("/api/findings", headers=_h(tok)).json()["total"] == 0
    assert client.get("/api/evaluation", headers=_h(tok)).json()["note"].startswith("no evaluation yet")


def test_twenty_annotators_saving_a_hundred_labels_each_at_once_lose_nothing(served: dict[str, Any]) -> None:
    p, tok = served["project"], served["tok"]
    segs = [s["segment_id"] for s in _segments(p)]
    assert len(segs) == 100
    tokens, _ = _tokens(p)
    rng = np.random.default_rng(0)
    planned = {(a, s): STATES[int(rng.integers(3))] for a in CROWD for s in segs}
    failures: list[str] = []

    def annotate(who: str, base: str) -> None:
        with httpx.Client(base_url=base, headers=_h(tok[who]), timeout=60) as c:
            for s in segs:
                r = c.post("/api/labels", json={"labels": [{"field": "animal_state", "value": planned[(who, s)],
                                                            "target_id": s}]})
                if r.status_code != 200 or r.json()["written"] != 1:
                    failures.append(f"{who} {s}: {r.status_code} {r.text[:200]}")

    with running(create_app(p, tokens)) as base:
        workers = [threading.Thread(target=annotate, args=(a, base)) for a in CROWD]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        seconds = time.perf_counter() - t0
    assert failures == []
    stored = {(r["annotator"], r["target_id"]): r["value"] for r in p.catalog().read("labels").to_pylist()
              if r["annotator"] in CROWD}
    assert stored == planned, f"{len(stored)} of {len(planned)} labels stored"
    versions = len(p.catalog().dataset("labels").versions())
    assert versions < 2000, "the group writer should commit many requests at once"
    print(f"2000 labels from 20 annotators in {seconds:.1f} s, {versions} table versions")


def test_annotators_see_only_what_their_qualification_allows(fresh: dict[str, Any]) -> None:
    """Labels: a labeller sees their own, a grader everyone's of the field they grade; findings
    about other fields or other annotators, evaluations and routed decisions of fields they do
    not work on stay hidden — and the totals do not count them either."""
    client, p, tok = fresh["client"], fresh["project"], fresh["tok"]
    seg = _segments(p)[7]
    for who, field, value in (("crowd-c", "animal_state", "calm"), ("ann-00", "animal_state", "restless"),
                              ("vet-a", "action", "watch")):
        res = client.post("/api/labels", headers=_h(tok[who]),
                          json={"labels": [{"field": field, "value": value, "target_id": seg["segment_id"]}]})
        assert res.json()["written"] == 1
    cat = p.catalog()
    cat.upsert("findings", [
        {"finding_id": "f-state", "check": "label_noise.disagreement", "severity": "warning", "target_type": "field",
         "target_id": "animal_state", "message": "state",
         "details_json": '{"fraction": 0.1, "suspects": [["s1", "ann-00", "calm"]]}'},
        {"finding_id": "f-action", "check": "label_noise.disagreement_slice", "severity": "warning",
         "target_type": "field", "target_id": "action@lighting=night", "message": "action"},
        {"finding_id": "f-crowd", "check": "label_noise.annotator", "severity": "warning", "target_type": "annotator",
         "target_id": "crowd-c", "message": "crowd-c"},
        {"finding_id": "f-ann", "check": "label_noise.annotator", "severity": "warning", "target_type": "annotator",
         "target_id": "ann-00", "message": "ann-00"},
        {"finding_id": "f-media", "check": "media.video.black", "severity": "warning", "target_type": "asset",
         "target_id": "a1", "entity_id": "stall-1", "message": "black"}])
    cat.upsert("runs", [{"run_id": "eval-action", "kind": "eval", "status": "finished", "started_utc_ns": 1},
                        {"run_id": "pipe-1", "kind": "pipeline", "status": "finished", "started_utc_ns": 1}])
    cat.upsert("metrics", [{"metric_id": "m1", "run_id": "eval-action", "field": "action", "slice": "overall",
                            "metric": "accuracy", "value": 0.5, "lo": 0.4, "hi": 0.6, "n": 100}])
    routed = _segments(p)[9]
    cat.upsert("predictions", [
        {"prediction_id": f"p-{f}", "run_id": "pipe-1", "target_type": "segment", "target_id": routed["segment_id"],
         "field": f, "value": v, "route": "review", "score": 0.5} for f, v in (("animal_state", "calm"),
                                                                                 ("action", "watch"))])

    def seen(who: str) -> dict[str, Any]:
        h = _h(tok[who])
        tl = client.get("/api/entities/stall-1/timeline", headers=h).json()
        return {"labels": sorted((lab["annotator"], lab["field"]) for lab in tl["labels"]
                                 if lab["target_id"] == seg["segment_id"]),
                "predictions": sorted(pr["field"] for pr in tl["predictions"]),
                "findings": sorted(f["finding_id"] for f in client.get("/api/findings", headers=h).json()["items"]),
                "evaluation": client.get("/api/evaluation", headers=h).json()["run"] is not None,
                "review": sorted(it["field"] for it in client.get("/api/queue/review", headers=h).json()["items"])}

    crowd, vet, owner = seen("crowd-c"), seen("vet-a"), seen("owner")
    assert crowd == {"labels": [("crowd-c", "animal_state")], "predictions": [],
                     "findings": ["f-crowd", "f-media", "f-state"], "evaluation": False, "review": ["animal_state"]}
    assert vet["labels"] == [("ann-00", "animal_state"), ("crowd-c", "animal_state"), ("vet-a", "action")]
    assert vet["predictions"] == ["animal_state"] and vet["review"] == ["action", "animal_state"]  # grades state only
    assert vet["findings"] == ["f-action", "f-media", "f-state"] and vet["evaluation"] is False  # grades no action
    assert owner["findings"] == ["f-action", "f-ann", "f-crowd", "f-media", "f-state"] and owner["evaluation"]
    assert client.get("/api/findings", headers=_h(tok["crowd-c"])).json()["total"] == 3

    def evidence(who: str) -> dict[str, Any]:
        items = client.get("/api/findings", headers=_h(tok[who])).json()["items"]
        return next(f["details"] for f in items if f["finding_id"] == "f-state")

    assert evidence("crowd-c") == {"fraction": 0.1}  # other people's labels are not a labeller's to see
    assert evidence("vet-a")["suspects"] == [["s1", "ann-00", "calm"]]  # vet-a grades animal_state


def test_a_relabel_reopens_its_grade_and_a_huge_number_is_a_refusal_not_a_500(fresh: dict[str, Any]) -> None:
    client, p, tok = fresh["client"], fresh["project"], fresh["tok"]
    seg = _segments(p)[8]

    def label(value: Any, field: str = "animal_state") -> Any:
        return client.post("/api/labels", headers=_h(tok["crowd-c"]),
                           json={"labels": [{"field": field, "value": value, "target_id": seg["segment_id"]}]})

    assert label("calm").json()["written"] == 1
    queue = client.get("/api/queue/grading?limit=500", headers=_h(tok["vet-a"])).json()["items"]
    lid = next(it["label_id"] for it in queue if it["target_id"] == seg["segment_id"])
    client.post("/api/grades", headers=_h(tok["vet-a"]), json={"grades": [{"label_id": lid, "verdict": "accept"}]})
    in_queue = lambda: lid in {it["label_id"] for it in  # noqa: E731
                               client.get("/api/queue/grading?limit=500", headers=_h(tok["vet-a"])).json()["items"]}
    assert not in_queue()
    assert label("restless").json()["written"] == 1  # the same label, a new value: the accept no longer covers it
    assert in_queue()
    huge = label(10 ** 400)
    assert huge.status_code == 200 and huge.json()["written"] == 0


def test_an_asset_kept_as_embeddings_only_has_no_media_to_serve(fresh: dict[str, Any]) -> None:
    """The privacy setting keeps an asset's embeddings, not its file: its media, waveform and
    spectrogram are a 404 that says why, never a 500 or the file."""
    client, p, tok = fresh["client"], fresh["project"], fresh["tok"]["owner"]
    audio = next(a for a in p.catalog().read("assets").to_pylist() if a["modality"] == "audio")
    p.catalog().upsert("assets", [audio | {"media_json": '{"embeddings_only": true}'}])
    for what in ("media", "waveform", "spectrogram"):
        resp = client.get(f"/api/assets/{audio['asset_id']}/{what}", headers=_h(tok))
        assert resp.status_code == 404 and "embeddings only" in resp.text, (what, resp.text)
