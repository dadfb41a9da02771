"""``syncline plan`` on real media: the media it plans for are the catalog's (as generated), the
budget is the task's, and a run's recorded costs come from its traces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tonefarm import make_tone_farm

from syncline.ingest import ingest
from syncline.project import init_project

pytestmark = pytest.mark.functional


def _plan(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncline.cli", "plan", "-p", str(root), *args],
                          capture_output=True, text=True)


def test_plan_reads_the_media_and_the_budget(tmp_path: Path) -> None:
    make_tone_farm(tmp_path / "data", pens=2)
    p = init_project(tmp_path / "p", template="farm")
    ingest(p, [tmp_path / "data"])
    out = _plan(p.root, "--json", "--window", "4", "--frames-per-s", "2")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["media"] == {"width": 160, "height": 120, "fps": 5.0, "audio_rate": 16000, "audio_channels": 1}
    assert res["estimate"]["frames"] == 8 and res["estimate"]["video_tokens"] == 8 * 196
    assert res["estimate"]["decoded_mb"] == pytest.approx((20 * 160 * 120 * 3 + 64000 * 4) / 1e6, rel=1e-4)
    assert res["budget"]["p95_latency_ms"] == 500 and res["budget"]["cpu_only"] is True
    over = not all(res["fits"].values())
    assert bool(res["reductions"]) == over
    assert any("EUR" in n for n in res["notes"])  # the farm budget is in euros, device prices in dollars
    gpu = json.loads(_plan(p.root, "--json", "--device", "h100").stdout)
    assert gpu["fits"]["cpu_only"] is False and any("CPU only" in n for n in gpu["notes"])
    bad = _plan(p.root, "--device", "tpu9")
    assert bad.returncode == 2 and "unknown device 'tpu9'" in bad.stderr and "Traceback" not in bad.stderr
    none = _plan(p.root, "--run", "no-such-run")
    assert none.returncode == 2 and "has no traces" in none.stderr


@pytest.mark.parametrize("args, message", [
    (["--patch", "0"], "positive, finite numbers"), (["--frames-per-s", "-50"], "positive, finite numbers"),
    (["--window", "nan"], "window must be a positive number"), (["--patch", "448"], "larger than the image"),
])
def test_plan_refuses_shapes_that_are_not_numbers_of_things(tmp_path: Path, args: list[str], message: str) -> None:
    p = init_project(tmp_path / "p", template="farm")
    out = _plan(p.root, *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
