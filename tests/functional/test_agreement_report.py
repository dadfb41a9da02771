"""Agreement from labels in a real catalog: the overall alpha equals the krippendorff package on
the same matrix, and the annotator who was planted to guess is the one whose kappa against the
others' majority is low (with an interval that excludes the careful ones')."""

from __future__ import annotations

import json
import subprocess
import sys

import krippendorff
import numpy as np
import pytest

from syncline.annotate.report import field_agreement
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

STATES = ["calm", "restless", "distressed"]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, np.ndarray]:
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 3, 150)
    noise = {"vet-a": 0.05, "vet-b": 0.1, "crowd-c": 0.8}  # crowd-c mostly guesses
    project = init_project(tmp_path_factory.mktemp("p") / "p")
    rows, matrix = [], np.full((3, len(truth)), np.nan)
    for i, (who, p) in enumerate(noise.items()):
        for t, true in enumerate(truth):
            if rng.random() < 0.15:
                continue  # not every segment is labelled by everyone
            value = int(rng.integers(0, 3)) if rng.random() < p else int(true)
            matrix[i, t] = value
            rows.append({"label_id": f"{who}-{t}", "target_type": "segment", "target_id": f"seg-{t:03d}",
                         "field": "animal_state", "value": STATES[value], "kind": "perception", "annotator": who})
    rows.append({"label_id": "x", "target_type": "segment", "target_id": "seg-000", "field": "other",
                 "value": "calm", "kind": "perception", "annotator": "vet-a"})
    project.catalog().upsert("labels", rows)
    return project, matrix


def test_overall_alpha_equals_the_reference_with_an_interval(labelled: tuple[Project, np.ndarray]) -> None:
    project, matrix = labelled
    report = field_agreement(project, "animal_state", level="ordinal", order=STATES, n_boot=200)
    keep = ~np.all(np.isnan(matrix), axis=0)
    assert report.targets == int(keep.sum()) and report.annotators == ["crowd-c", "vet-a", "vet-b"]
    ref = krippendorff.alpha(reliability_data=matrix[[2, 0, 1]][:, keep], level_of_measurement="ordinal")
    assert report.value == pytest.approx(ref, abs=1e-9)
    assert report.interval[0] < report.value < report.interval[1]


def test_the_guessing_annotator_stands_out(labelled: tuple[Project, np.ndarray]) -> None:
    project, _ = labelled
    per = {r["annotator"]: r for r in field_agreement(project, "animal_state", n_boot=200).per_annotator}
    assert per["crowd-c"]["score"] < 0.4 < min(per["vet-a"]["score"], per["vet-b"]["score"])
    assert per["crowd-c"]["interval"][1] < min(per["vet-a"]["interval"][0], per["vet-b"]["interval"][0])
    assert all(r["targets"] > 50 for r in per.values())  # ties among the others are no majority


def test_bad_requests_get_one_line_errors(labelled: tuple[Project, np.ndarray]) -> None:
    project, _ = labelled
    with pytest.raises(ValueError, match="no labels of field 'nothing'"):
        field_agreement(project, "nothing")
    with pytest.raises(ValueError, match="not in the field's ordered values"):
        field_agreement(project, "animal_state", level="ordinal", order=["calm", "restless"])
    cli = subprocess.run([sys.executable, "-m", "syncline.cli", "agreement", "animal_state", "-p", str(project.root),
                          "--json"], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["targets"] == field_agreement(project, "animal_state", n_boot=10).targets
    bad = subprocess.run([sys.executable, "-m", "syncline.cli", "agreement", "nothing", "-p", str(project.root)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "no labels of field 'nothing'" in bad.stderr
