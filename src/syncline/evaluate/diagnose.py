"""Diagnostics that feed the next data: where the errors are, what they look like, what to
collect or relabel next, and how much.

* **Confusion pairs** — the commonest (truth → answer) mistakes, each with example moments (the
  most confident wrong answers: entity and span), so a person can look ("treats lying as
  struggling at night").
* **Error clusters** — the evaluated segments clustered in representation space (k-means on
  the standardised segment vectors, ``represent.search``); a cluster whose error rate is above
  the rest (Fisher, Benjamini–Hochberg) is a kind of input the model gets wrong, named by the
  slices over-represented in it and shown by examples.
* **Data request** — what would settle what is open: an undetermined gate's rows to label (from
  ``samples_to_decide``, turned into rows of the slice by the class's share of it), a gap or a
  searched slice's rows to collect until its error rate is known to ±5 points, a task slice with
  too few labelled rows, and a confusion pair's examples to re-check (label noise looks like a
  confusion pair too).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import fisher_exact

from syncline.evaluate.intervals import Z95, benjamini_hochberg

HALF_WIDTH = 0.05  # a slice's error rate known to ±5 points is enough to act on


def _moment(entity: str, t0: int, t1: int, target: str) -> dict[str, Any]:
    return {"target_id": target, "entity_id": entity, "t0_s": None if t0 < 0 else round(t0 / 1e9, 3),
            "t1_s": None if t1 < 0 else round(t1 / 1e9, 3)}


def confusion_pairs(classes: list[str], truth: NDArray[np.int64], pred: NDArray[np.int64], conf: NDArray[np.float64],
                    targets: list[str], entities: NDArray[np.object_], t0: NDArray[np.int64], t1: NDArray[np.int64],
                    *, top: int = 5, examples: int = 3) -> list[dict[str, Any]]:
    k = len(classes)
    wrong = (truth >= 0) & (pred >= 0) & (truth != pred)
    counts = np.bincount(truth[wrong] * k + pred[wrong], minlength=k * k)
    support = np.bincount(truth[(truth >= 0) & (pred >= 0)], minlength=k)
    out = []
    for cell in np.argsort(-counts, kind="stable")[:top]:
        if counts[cell] == 0:
            break
        t, p = divmod(int(cell), k)
        rows = np.flatnonzero(wrong & (truth == t) & (pred == p))
        order = rows[np.argsort(-np.nan_to_num(conf[rows], nan=-1.0), kind="stable")][:examples]
        out.append({"truth": classes[t], "answer": classes[p], "count": int(counts[cell]),
                    "share_of_truth": round(float(counts[cell] / max(1, support[t])), 6),
                    "examples": [_moment(str(entities[i]), int(t0[i]), int(t1[i]), targets[i]) for i in order]})
    return out


def error_clusters(vectors: NDArray[np.float64], wrong: NDArray[np.bool_], slice_member: NDArray[np.bool_],
                   slice_names: list[str], targets: list[str], entities: NDArray[np.object_], t0: NDArray[np.int64],
                   t1: NDArray[np.int64], *, seed: int = 0, alpha: float = 0.05, examples: int = 3,
                   min_rows: int = 10) -> dict[str, Any]:
    """Clusters of the evaluated rows (labelled, answered) in representation space that err more
    than the rest. ``vectors`` has a NaN row where a segment has no vectors (left out)."""
    from sklearn.cluster import KMeans

    have = ~np.isnan(vectors).any(axis=1)
    n = int(have.sum())
    if n < 4 * min_rows:
        return {"k": 0, "rows": n, "clusters": [],
                "note": f"{n} evaluated segments have vectors: too few to cluster (need {4 * min_rows})"}
    x = vectors[have]
    k = int(np.clip(round(np.sqrt(n / 20)), 2, 12))
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(x)
    w = wrong[have]
    idx = np.flatnonzero(have)
    e_all, n_all = int(w.sum()), len(w)
    tests = []
    for c in range(k):
        inside = labels == c
        n_c, e_c = int(inside.sum()), int((inside & w).sum())
        if n_c < min_rows or n_all - n_c < 1:
            continue
        p = float(fisher_exact([[e_c, n_c - e_c], [e_all - e_c, n_all - n_c - (e_all - e_c)]]).pvalue)
        tests.append((c, n_c, e_c, p))
    q = benjamini_hochberg(np.array([t[3] for t in tests])) if tests else np.array([])
    out: list[dict[str, Any]] = []
    base_share = slice_member[have].mean(axis=0)
    for (c, n_c, e_c, _p), qq in zip(tests, q, strict=True):
        rest = (e_all - e_c) / max(1, n_all - n_c)
        if qq >= alpha or e_c / n_c <= rest:
            continue
        inside = labels == c
        share = slice_member[have][inside].mean(axis=0)
        lift = np.where(base_share > 0, share / np.maximum(base_share, 1e-12), 0.0)
        over = [{"slice": slice_names[j], "share_in_cluster": round(float(share[j]), 4),
                 "share_overall": round(float(base_share[j]), 4)}
                for j in np.argsort(-lift) if j > 0 and lift[j] > 1.2 and share[j] > 0.2][:3]
        wrong_rows = idx[inside & w][:examples]
        out.append({"cluster": int(c), "rows": n_c, "errors": e_c, "error_rate": round(e_c / n_c, 6),
                    "rest_error_rate": round(rest, 6), "q": float(qq), "over_represented": over,
                    "examples": [_moment(str(entities[i]), int(t0[i]), int(t1[i]), targets[i]) for i in wrong_rows]})
    out.sort(key=lambda d: -d["error_rate"])
    return {"k": k, "rows": n, "clusters": out}


def _rows_for_half_width(rate: float, have: int, half: float = HALF_WIDTH) -> int:
    """More labelled rows until a rate's 95 % interval is ±``half`` (normal approximation)."""
    need = int(np.ceil(Z95 ** 2 * max(rate * (1 - rate), 0.01) / half ** 2))
    return max(0, need - have)


def _collect(where: str, err: float, rest: float, n: int) -> dict[str, Any]:
    """More labelled examples of a regime the model errs in: enough to know its error to ±5
    points, and at least as many again as it has — doubling a slice is the smallest step a
    learning curve shows (syncline has no learning curve of the model to say more)."""
    measure = _rows_for_half_width(err, n)
    return {"priority": 2, "action": "collect and label", "where": where, "rows": max(measure, n),
            "why": f"{where} errs {100 * err:.1f} % vs {100 * rest:.1f} % elsewhere on {n} rows: "
                   + (f"{measure} more to know its error to ±5 points; " if measure else "")
                   + "double it to train on"}


def data_request(ev: Any, pairs: list[dict[str, Any]],
                 prevalence: dict[tuple[str, str], float]) -> list[dict[str, Any]]:
    """The next data to collect or relabel, most urgent first. ``prevalence[(slice, class)]`` is
    the class's share of the slice's labelled rows (to turn positives into rows)."""
    out: list[dict[str, Any]] = []
    for g in ev.gates:
        if g.verdict != "undetermined" or not g.samples_needed or g.samples_needed <= g.n:
            continue
        more = g.samples_needed - g.n
        cls = g.label.split(".")[-1] if g.label else None
        prev = prevalence.get((g.slice, cls), 0.0) if cls else 1.0
        # the metric's denominator: positives (recall, FNR), negatives (FPR, specificity), rows said to be the
        # class (precision: its share is unknown before labelling, the class's prevalence stands in), or rows
        share, of = ((1 - prev, f"rows that are not {cls}") if g.metric in ("false_positive_rate", "specificity")
                     else (prev, f"rows of {cls}") if cls else (1.0, "rows"))
        rows = int(np.ceil(more / share)) if share > 0 else None
        out.append({"priority": 1, "action": "label", "where": g.slice, "rows": rows,
                    "why": f"decide the gate '{g.gate}' in {g.slice}: {more} more {of}"
                           + (f" (about {rows} rows of the slice at a {100 * share:.0f} % share)" if cls and rows
                              else ": the slice has none yet" if cls else "")})
    for s in ev.slices:
        if s["name"] != "overall" and " & " not in s["name"] and s["too_small"]:
            out.append({"priority": 2, "action": "collect and label", "where": s["name"], "rows": 30 - s["labelled"],
                        "why": f"slice {s['name']} has {s['labelled']} labelled rows: too few to judge"})
    seen: set[str] = set()
    same: set[tuple[int, float]] = set()  # (rows, error rate) of a regime already asked for under a task name
    acc_gaps = [g for g in ev.gaps if g["metric"] == "accuracy"]
    explained = {(f["n"], round(f["error_rate"], 4)) for f in ev.discovered if f["explained_by"]}
    for gap in sorted(acc_gaps, key=lambda g: -abs(g["cohens_h"])):
        name = gap["slice"]
        inner = [g for g in acc_gaps if name in g["slice"].split(" & ") and g["slice"] != name]
        if name in seen or any(abs(g["cohens_h"]) > abs(gap["cohens_h"]) for g in inner):
            continue  # an intersection inside it is worse: that is where to collect
        if (gap["n_inside"], round(1 - gap["inside"], 4)) in explained:
            continue  # the slice search found a stronger regime overlapping it that explains it
        if len(seen) == 2:
            break  # the two strongest regimes; the slice search adds the ones nobody named
        seen.add(name)
        same.add((gap["n_inside"], round(1 - gap["inside"], 4)))
        out.append(_collect(name, 1 - gap["inside"], 1 - gap["outside"], gap["n_inside"]))
    for f in ev.discovered:
        if f["explained_by"] is None and (f["n"], round(f["error_rate"], 4)) not in same:
            item = _collect(f["where"], f["error_rate"], f["rest_error_rate"], f["n"])
            item["why"] = "found by search: " + item["why"] + "; add it to task.yaml's slices"
            out.append(item)
    for p in pairs[:3]:
        out.append({"priority": 3, "action": "re-check labels", "where": f"truth {p['truth']}, answer {p['answer']}",
                    "rows": min(p["count"], 50),
                    "why": f"the model answers {p['answer']} for {p['count']} {p['truth']} rows "
                           f"({100 * p['share_of_truth']:.0f} %): look at the examples — a model error, or a "
                           "label that is wrong?"})
    return sorted(out, key=lambda d: d["priority"])


def segment_vectors_for(project: Any, representation_ids: list[str], entities: NDArray[np.object_],
                        t0: NDArray[np.int64], t1: NDArray[np.int64]) -> tuple[NDArray[np.float64], list[str]]:
    """Standardised segment vectors of the rows (NaN where a segment lacks one): the run's own
    representations, or — for imported predictions — every stored one that covers at least 80 %
    of the rows."""
    from syncline.catalog import query as Q
    from syncline.represent.search import segment_vectors, standardised, windows

    span = t0 >= 0
    with project.catalog().connect() as con:
        chosen = list(representation_ids) or [r["representation_id"] for r in Q.representation_usage(con)
                                               if r["vectors"] > 0]
        vecs = {}
        for rid in chosen:
            v = np.full((len(t0), 1), np.nan, np.float32)
            if span.any():
                got = segment_vectors(windows(con, rid), entities[span], t0[span], t1[span])
                v = np.full((len(t0), got.shape[1]), np.nan, np.float32)
                v[span] = got
            if representation_ids or (~np.isnan(v).any(axis=1)).mean() >= 0.8:
                vecs[rid] = v
    if not vecs:
        return np.full((len(t0), 1), np.nan), []
    return np.asarray(standardised(vecs), np.float64), list(vecs)
