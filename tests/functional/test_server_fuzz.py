"""The API's OpenAPI schema fuzzed by Schemathesis (property-based requests from the schema:
odd strings, huge and negative numbers, missing and extra fields) against a real project, as
an annotator and as the owner: no answer is a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from mediafiles import make_tone

from syncline.align.segment import run_segmenters
from syncline.ingest import ingest
from syncline.project import init_project
from syncline.server.app import create_app
from syncline.server.auth import Principal, Tokens

pytestmark = pytest.mark.functional

SCHEMA = {"version": 1,
          "fields": {"animal_state": {"kind": "perception", "type": "ordinal", "values": ["calm", "restless"]},
                     "weight": {"kind": "perception", "type": "number", "min": 0, "max": 2000},
                     "injury": {"kind": "perception", "granularity": "region", "type": "box"}},
          "annotators": {"vet-a": {"tier": "expert", "fields": ["animal_state", "weight", "injury"],
                                   "grades": ["animal_state"]},
                         "crowd-c": {"tier": "crowd", "fields": ["animal_state", "weight"]}}}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("fuzz")
    data = root / "data" / "stall-1"
    data.mkdir(parents=True)
    make_tone(data, "mic.wav", seconds=10.0, sample_rate=8000)
    p = init_project(root / "p")
    ingest(p, [data.parent])
    run_segmenters(p, ["fixed"], window_s=2.0)
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    tokens = Tokens()
    tokens.add(Principal("owner", "owner"), "tok-owner")
    tokens.add(Principal("vet-a", "annotator", "expert", ("animal_state", "weight", "injury"), ("animal_state",)),
               "tok-vet")
    tokens.add(Principal("crowd-c", "annotator", "crowd", ("animal_state", "weight")), "tok-crowd")
    seg = p.catalog().read("segments").to_pylist()[0]["segment_id"]
    p.catalog().upsert("findings", [{"finding_id": "f1", "check": "label_noise.disagreement", "severity": "warning",
                                     "target_type": "field", "target_id": "animal_state", "message": "m",
                                     "details_json": '{"suspects": []}'}])
    from syncline.annotate.labels import write_labels

    first = {"field": "animal_state", "value": "calm", "target_id": seg, "annotator": "crowd-c"}
    assert write_labels(p, [first]).written == 1
    app = create_app(p, tokens)
    return schemathesis.openapi.from_dict(app.openapi()), app


def test_no_request_the_schema_allows_or_not_gets_a_5xx(api: Any) -> None:
    from fastapi.testclient import TestClient
    from hypothesis import given

    schema, app = api
    client = TestClient(app, raise_server_exceptions=False)
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 10
    seen: list[int] = []
    for op in ops:
        @given(case=op.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def one(case: Any) -> None:
            for token in ("tok-vet", "tok-crowd", "tok-owner"):
                kw = case.as_transport_kwargs(base_url="http://testserver",
                                              headers={"authorization": f"Bearer {token}"})
                body = kw.get("json")
                resp = client.request(kw["method"], kw["url"], headers=kw.get("headers"), params=kw.get("params"),
                                      json=body)
                seen.append(resp.status_code)
                assert resp.status_code < 500, (kw["method"], kw["url"], body, resp.status_code, resp.text[:300])

        one()
    assert len(seen) >= 200 and {200, 422} <= set(seen)
