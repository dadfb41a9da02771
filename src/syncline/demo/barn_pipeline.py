"""The demo's decomposed barn pipeline: perception apart from the decision, fusion explicit, and a
failure point for every missing stream.

    hear (vocal, from audio)   see (posture, from video)
               \\                 /
        fuse: the action from what both say      (no microphone: fuse_posture, from see alone)
                          |
        decide: the farm task's cost matrix and review policy -> act, or the vet-review queue

Training uses the 2 s segments labelled in the annotation step, each under its Dawid–Skene
consensus, from the stall-days of the ``train`` and ``validation`` splits (``syncline split
posture --by entity``; nothing is tuned, so validation trains too).
The perception heads are fitted on the built-in vectors (``syncline embed``). The fusion heads
are fitted on the perception heads' *out-of-fold* probabilities (stall-days kept whole), so they
learn how far to trust them rather than how well the heads remember their training data. Every
2 s segment is then predicted; the summary gives the routes, the review volume against the
task's ``max_review_rate``, where stages fell back, skipped or abstained, and agreement with the
labels on the held-out stall-days. The heads are saved under ``models/`` and the pipeline as
``pipeline.yaml``, which the run loads — ``syncline run`` repeats it.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np

from syncline.audit.gold import consensus, with_consensus
from syncline.catalog import query as Q
from syncline.pipeline.heads import LinearHead, fit_head
from syncline.pipeline.local import run_pipeline
from syncline.pipeline.spec import PIPELINE_FILE, load_pipeline, write_pipeline
from syncline.project import Project
from syncline.represent.embed import embed
from syncline.represent.search import segment_vectors, windows
from syncline.task.spec import load_task

REPS = {"audio": "logmel-1s@1", "video": "grid-colour-edges-1s@1"}
SEGMENTER = "fixed-2s@2"
FIELDS = ("vocal", "posture", "action")


def _labelled(project: Project) -> dict[str, Any]:
    """Per labelled 2 s segment: entity, span, split and each field's consensus (arrays)."""
    with project.catalog().connect() as con:
        spans = {r["target_id"]: r for r in Q.label_target_spans(con, "action")}
        values = {f: {t: v for t, _, v, _ in with_consensus(Q.class_conditions(con, f, "entity"),
                                                             consensus(Q.field_labels(con, f)))} for f in FIELDS}
        split = {r["target_id"]: r["split"] for r in Q.split_members(con, "default")}
        wins = {m: windows(con, rid) for m, rid in REPS.items()}
    ids = sorted(t for t, s in spans.items() if s["t0_ns"] is not None and all(t in values[f] for f in FIELDS))
    ents = np.array([spans[t]["entity_id"] for t in ids], object)
    t0 = np.array([spans[t]["t0_ns"] for t in ids], np.int64)
    t1 = np.array([spans[t]["t1_ns"] for t in ids], np.int64)
    return {"ids": ids, "entity": ents, "split": np.array([split.get(t, "none") for t in ids], object),
            **{f: np.array([values[f][t] for t in ids], object) for f in FIELDS},
            **{m: segment_vectors(w, ents, t0, t1) for m, w in wins.items()}}


def _oof(x: np.ndarray, y: np.ndarray, groups: np.ndarray, name: str, classes: list[str]) -> np.ndarray:
    """Out-of-fold probabilities over ``classes`` (each stall-day predicted by a head that never
    saw it); NaN where a fold could not be fitted."""
    out = np.full((len(y), len(classes)), np.nan)
    for g in np.unique(groups):
        test, train = groups == g, groups != g
        try:
            head = fit_head(name, x[train], list(y[train]), list(groups[train]))
        except ValueError:
            continue
        p = head.predict_proba(x[test])
        for j, c in enumerate(head.classes):
            out[test, classes.index(c)] = p[:, j]
        out[test] = np.nan_to_num(out[test], nan=0.0)
    return out


def barn_pipeline(project: Project) -> dict[str, Any]:
    """Fit the heads on the train split, build the pipeline, run it over every 2 s segment."""
    spec = load_task(project.task_path)
    embed(project, list(REPS.values()))
    d = _labelled(project)
    # nothing is tuned on the validation stall-days, so they train too; test stays held out
    train = np.isin(d["split"], ["train", "validation"]) & ~np.isnan(d["video"]).any(axis=1)
    heard = train & ~np.isnan(d["audio"]).any(axis=1)
    groups = d["entity"]
    hear = fit_head("hear-vocal", d["audio"][heard], list(d["vocal"][heard]), list(groups[heard]),
                    fitted_on={"representation_ids": [REPS["audio"]]})
    see = fit_head("see-posture", d["video"][train], list(d["posture"][train]), list(groups[train]),
                   fitted_on={"representation_ids": [REPS["video"]]})
    p_hear = _oof(d["audio"][heard], d["vocal"][heard], groups[heard], "hear-vocal", hear.classes)
    p_see = _oof(d["video"][train], d["posture"][train], groups[train], "see-posture", see.classes)
    p_see_heard = p_see[np.flatnonzero(heard[train])]
    both = ~np.isnan(p_hear).any(axis=1) & ~np.isnan(p_see_heard).any(axis=1)
    fuse = fit_head("fuse-action", np.hstack([p_hear, p_see_heard])[both], list(d["action"][heard][both]),
                    list(groups[heard][both]))
    alone = ~np.isnan(p_see).any(axis=1)
    fuse_posture = fit_head("fuse-action-from-posture", p_see[alone], list(d["action"][train][alone]),
                            list(groups[train][alone]))
    heads: dict[str, LinearHead] = {"hear": hear, "see": see, "fuse": fuse, "fuse_posture": fuse_posture}
    models = {k: str(h.save(project.root / "models").relative_to(project.root)) for k, h in heads.items()}
    same = fuse_posture.classes == fuse.classes
    stages: list[dict[str, Any]] = [
        {"name": "hear", "use": "head", "model": models["hear"], "inputs": {"x": "source.audio"},
         "modalities": ["audio"], "on_missing": "skip"},
        {"name": "see", "use": "head", "model": models["see"], "inputs": {"x": "source.video"},
         "modalities": ["video"], "on_missing": "abstain"},
        {"name": "fuse", "use": "head", "model": models["fuse"], "role": "fusion",
         "inputs": {"a": "hear.probabilities", "b": "see.probabilities"}, "modalities": ["audio", "video"],
         "on_missing": "fallback:fuse_posture" if same else "abstain"},
        {"name": "fuse_posture", "use": "head", "model": models["fuse_posture"], "role": "fusion",
         "inputs": {"b": "see.probabilities"}, "modalities": ["video"]},
        {"name": "decide", "use": "decision", "input": "fuse.probabilities"},
    ]
    if not same:  # the two fusion heads learned other classes: no stand-in, the stage abstains instead
        stages = [st for st in stages if st["name"] != "fuse_posture"]
    path = write_pipeline(project.root / PIPELINE_FILE, {"name": "barn", "version": "1", "segmenter": SEGMENTER,
                                                         "field": "action", "sources": REPS, "stages": stages})
    pipe, _, model_ids = load_pipeline(project, path)  # what `syncline run` will load
    res = run_pipeline(project, pipe, representations=REPS, segmenter=SEGMENTER, field_name="action",
                       model_versions=model_ids)
    preds = {r["target_id"]: r for r in project.catalog().read(
        "predictions", columns=["target_id", "value", "route", "details_json"],
        where=f"run_id = '{res.run_id}'").to_pylist()}
    why = Counter(str(json.loads(r["details_json"])["reason"]).rsplit(": ", 1)[-1] for r in preds.values()
                  if r["route"] in ("abstain", "failed"))
    test = [i for i, s in enumerate(d["split"]) if s == "test"]
    decided = [i for i in test if preds.get(d["ids"][i], {}).get("value") is not None]
    agree = sum(preds[d["ids"][i]]["value"] == d["action"][i] for i in decided)
    routed = sum(res.routes.values()) - res.routes.get("abstain", 0) - res.routes.get("failed", 0)
    return {"run_id": res.run_id, "segments": res.segments, "routes": res.routes, "stage_status": res.stage_status,
            "review_rate": round(res.routes.get("review", 0) / routed, 3) if routed else None,
            "max_review_rate": spec.review.max_review_rate,
            "heads": {k: {"model_id": h.model_id, "classes": h.classes,
                          "out_of_fold_balanced_accuracy": h.fitted_on["out_of_fold_balanced_accuracy"],
                          "rows": h.fitted_on["rows"]} for k, h in heads.items()},
            "test": {"labelled": len(test), "decided": len(decided), "agree_with_labels": agree},
            "not_decided": dict(why.most_common(3))}
