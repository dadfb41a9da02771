"""Shape agreement: the one-to-one matching equals a brute-force search over all assignments,
and the field report scores identical annotators 1, a shifted one lower, per annotator."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from syncline.annotate.agreement import match_shapes
from syncline.annotate.report import field_agreement
from syncline.project import init_project


def _brute(iou: np.ndarray, threshold: float) -> tuple[int, float]:
    n, m = iou.shape
    best = (0, 0.0)
    small, big = (n, m) if n <= m else (m, n)
    mat = iou if n <= m else iou.T
    for cols in itertools.permutations(range(big), small):
        pairs = [(i, j) for i, j in enumerate(cols) if mat[i, j] >= threshold]
        best = max(best, (len(pairs), float(sum(mat[i, j] for i, j in pairs))))
    return best


@pytest.mark.parametrize("seed", range(30))
def test_matching_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    iou = rng.random((int(rng.integers(0, 5)), int(rng.integers(0, 5))))
    pairs, f1 = match_shapes(iou, 0.5)
    count, total = _brute(iou, 0.5)
    assert len(pairs) == count  # the most matches ...
    assert sum(iou[i, j] for i, j in pairs) == pytest.approx(total)  # ... with the most overlap
    n = sum(iou.shape)
    assert (f1 == pytest.approx(2 * count / n)) if n else np.isnan(f1)


def test_span_agreement_scores_the_shifted_annotator_lower(tmp_path: Path) -> None:
    project = init_project(tmp_path / "p")
    rows = []
    spans = [[0, 10], [20, 30], [40, 55]]
    for t in range(6):
        for who, shift in (("a", 0), ("b", 0), ("c", 6)):  # c's spans overlap a's by 4/16 < 0.5
            for k, (t0, t1) in enumerate(spans):
                rows.append({"label_id": f"{t}{who}{k}", "target_type": "entity", "target_id": f"e{t}",
                             "field": "call", "value": json.dumps([t0 + shift, t1 + shift, "moo"]),
                             "kind": "perception", "annotator": who, "instance": str(k)})
    project.catalog().upsert("labels", rows)
    report = field_agreement(project, "call", level="time_span", n_boot=50)
    per = {r["annotator"]: r["score"] for r in report.per_annotator}
    assert report.measure == "matched_f1" and report.targets == 6
    assert per["a"] == pytest.approx(0.5) and per["b"] == pytest.approx(0.5)  # 1 with each other, 0 with c
    assert per["c"] == pytest.approx(0.0) and report.value == pytest.approx(1 / 3)
