"""``syncline monitor``: a new batch of production predictions against the evaluation baseline,
per slice, and the alerts that fire.

Production batches have no labels, so monitoring watches what can be seen without them, per slice
of the task (and overall):

* **capture-condition shift** — the slice's share of the rows (Fisher's exact test on the two
  counts), and overall the population stability index (PSI) over the rows' slice-membership
  patterns (which regimes the rows fall in);
* **confidence shift** — the two-sample Kolmogorov–Smirnov distance between the binned
  confidences of the answered rows (150 bins), its p-value from the KS distribution at the
  effective sample size;
* **abstention-rate shift** — rows the system did not act on (routed to people or no answer),
  and rows with no answer at all (Fisher).

An alert fires when the change is significant after Benjamini–Hochberg over every test of the
batch (q < ``alpha``) *and* large enough to matter (``MIN_EFFECT``): with a million rows, a
0.1-point shift is significant and irrelevant.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
from scipy.stats import fisher_exact, kstwo

from syncline.evaluate.counts import FINE_BINS
from syncline.evaluate.intervals import benjamini_hochberg
from syncline.evaluate.rows import Rows, load_rows
from syncline.ids import stable_id
from syncline.project import Project

MIN_EFFECT = {"share": 0.05, "abstain_rate": 0.05, "no_answer_rate": 0.05, "confidence_ks": 0.1, "psi": 0.2}


def _per_slice(r: Rows) -> dict[str, Any]:
    """Counts per slice from counts per group (rows sharing the slice columns' values)."""
    g = r.patterns.shape[0]
    answered = r.pred >= 0
    good = answered & np.isfinite(r.conf)
    bins = np.clip((np.where(good, r.conf, 0) * FINE_BINS).astype(np.int64), 0, FINE_BINS - 1)
    conf_g = np.bincount(r.group[good] * FINE_BINS + bins[good], minlength=g * FINE_BINS).reshape(g, FINE_BINS)
    rows_g = r.per_group(np.ones(len(r.group), bool))
    return {"rows": r.per_slice(rows_g), "no_answer": r.per_slice(r.per_group(~answered)),
            "routed": r.per_slice(r.per_group(r.routed)), "conf": r.per_slice(conf_g), "n": len(r.pred),
            "patterns": (r.patterns, rows_g)}


def _psi(base: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]) -> float:
    """PSI over membership patterns (both runs' patterns matched by value), with a floor of half a
    row so that a pattern seen on one side only counts without dividing by zero."""
    keys: dict[bytes, list[float]] = {}
    for side, (pat, counts) in enumerate((base, new)):
        for p, c in zip(pat, counts, strict=True):
            keys.setdefault(np.packbits(p).tobytes(), [0.0, 0.0])[side] += float(c)
    a = np.array([v[0] for v in keys.values()])
    b = np.array([v[1] for v in keys.values()])
    pa = np.maximum(a, 0.5) / max(a.sum(), 1.0)
    pb = np.maximum(b, 0.5) / max(b.sum(), 1.0)
    return float(np.sum((pb - pa) * np.log(pb / pa)))


def monitor(project: Project, batch_run: str, *, baseline_run: str, alpha: float = 0.01,
            write: bool = True, field_name: str | None = None) -> dict[str, Any]:
    base = load_rows(project, baseline_run, field_name=field_name, split="all", intersections=False)
    new = load_rows(project, batch_run, field_name=base.field, split="all", intersections=False)
    b, n = _per_slice(base), _per_slice(new)
    tests: list[dict[str, Any]] = []
    for j, name in enumerate(base.slices.names):
        for kind, kb, kn, db, dn in (("share", b["rows"][j], n["rows"][j], b["n"], n["n"]),
                                     ("abstain_rate", b["routed"][j], n["routed"][j], b["rows"][j], n["rows"][j]),
                                     ("no_answer_rate", b["no_answer"][j], n["no_answer"][j], b["rows"][j],
                                      n["rows"][j])):
            if kind == "share" and j == 0:
                continue  # overall is every row on both sides
            if db == 0 or dn == 0:
                continue
            p = float(fisher_exact([[int(kb), int(db - kb)], [int(kn), int(dn - kn)]]).pvalue)
            tests.append({"slice": name, "check": kind, "baseline": round(kb / db, 6), "batch": round(kn / dn, 6),
                          "effect": round(kn / dn - kb / db, 6), "n_baseline": int(db), "n_batch": int(dn), "p": p})
        cb, cn = b["conf"][j], n["conf"][j]
        if cb.sum() and cn.sum():
            d = float(np.abs(np.cumsum(cb) / cb.sum() - np.cumsum(cn) / cn.sum()).max())
            m = int(round(cb.sum() * cn.sum() / (cb.sum() + cn.sum())))
            mean_b = float((cb * (np.arange(FINE_BINS) + 0.5)).sum() / cb.sum() / FINE_BINS)
            mean_n = float((cn * (np.arange(FINE_BINS) + 0.5)).sum() / cn.sum() / FINE_BINS)
            tests.append({"slice": name, "check": "confidence_ks", "baseline": round(mean_b, 4),
                          "batch": round(mean_n, 4), "effect": round(d, 6), "n_baseline": int(cb.sum()),
                          "n_batch": int(cn.sum()), "p": float(kstwo.sf(d, max(m, 1)))})
    q = benjamini_hochberg(np.array([t["p"] for t in tests])) if tests else np.array([])
    for t, qq in zip(tests, q, strict=True):
        t["q"] = float(qq)
        t["alert"] = bool(qq < alpha and abs(t["effect"]) >= MIN_EFFECT[t["check"]])
    psi = _psi(b["patterns"], n["patterns"])
    alerts = [t for t in tests if t["alert"]]
    if psi >= MIN_EFFECT["psi"]:
        alerts.insert(0, {"slice": "overall", "check": "psi", "effect": round(psi, 4), "alert": True})
    result = {"baseline_run": base.run["run_id"], "batch_run": new.run["run_id"], "field": base.field,
              "rows": {"baseline": b["n"], "batch": n["n"]}, "psi": round(psi, 6), "alerts": alerts, "tests": tests,
              "thresholds": {"alpha": alpha, **MIN_EFFECT}}
    if write:
        started = time.time_ns()
        project.catalog().upsert("runs", [{
            "run_id": stable_id("monitor", result["baseline_run"], result["batch_run"], started), "kind": "monitor",
            "started_utc_ns": started, "finished_utc_ns": time.time_ns(), "status": "finished",
            "task_hash": base.spec.content_hash(), "model_name": new.run.get("model_name"),
            "model_version": new.run.get("model_version"), "representation_ids": [],
            "table_versions_json": json.dumps(new.snapshot, sort_keys=True),
            "config_json": json.dumps({k: result[k] for k in ("baseline_run", "batch_run", "field", "rows", "psi",
                                                               "alerts", "thresholds")}, sort_keys=True)}])
    return result
