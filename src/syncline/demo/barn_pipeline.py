"""The demo's decomposed barn pipeline: perception apart from the decision, fusion explicit, and a
failure point for every missing stream.

    locate (the animal, video)                      temperature (anomaly, stall sensor)
       |
    see (posture, from the animal's look)    hear (vocal, audio)         |
                 \\                             /                       /
                  fuse: the action from what all three say    (no microphone or logger: fuse_posture)
                                   |
          decide: the farm task's cost matrix and review policy -> act, or the vet-review queue

``locate`` and ``temperature`` are the barn's own code (``demo.barn_sensing``), declared the way a
project declares its models: two encoders in ``syncline.yaml`` and two ``python:`` stages in
``pipeline.yaml``. Where the animal is not seen (a black feed), ``locate`` abstains and every
stage after it abstains with that reason, so the trace blames locating, not judging posture.

Training uses the 2 s segments labelled in the annotation step, each under its Dawid–Skene
consensus, from the stall-days of the ``train`` and ``validation`` splits (``syncline split
posture --by entity``; nothing is tuned, so validation trains too).
The perception heads are fitted on stored vectors (``syncline embed``). The fusion heads are
fitted on the perception stages' *out-of-fold* probabilities (stall-days kept whole), so they
learn how far to trust them rather than how well the heads remember their training data. Every
2 s segment is then predicted; the summary gives the routes, the review volume against the
task's ``max_review_rate``, where stages fell back, skipped or abstained, and agreement with the
labels on the held-out stall-days. The heads are saved under ``models/`` and the pipeline as
``pipeline.yaml``, which the run loads — ``syncline run`` repeats it.
"""

from __future__ import annotations

import json
from collections import Counter
from types import SimpleNamespace
from typing import Any

import numpy as np
import yaml

from syncline.audit.gold import consensus, with_consensus
from syncline.catalog import query as Q
from syncline.demo.barn_sensing import locate_stage, temperature_stage
from syncline.pipeline.heads import LinearHead, fit_head
from syncline.pipeline.local import run_pipeline
from syncline.pipeline.spec import PIPELINE_FILE, load_pipeline, write_pipeline
from syncline.project import SETTINGS_FILE, Project
from syncline.represent.embed import embed
from syncline.represent.search import segment_vectors, windows
from syncline.task.spec import load_task

ENCODERS: list[dict[str, Any]] = [
    {"name": "barn-animal-1s", "version": "2", "modality": "video",
     "python": "syncline.demo.barn_sensing:animal_locator", "params": {"max_width": 320}},
    {"name": "barn-temperature-1s", "version": "2", "modality": "sensor",
     "python": "syncline.demo.barn_sensing:temperature_trend",
     "params": {"column": "temperature", "window_s": 300, "min_scale": 0.03}},
]
REPS = {"audio": "logmel-1s@1", "video": "barn-animal-1s@2", "sensor": "barn-temperature-1s@2"}
SEGMENTER = "fixed-2s@2"
FIELDS = ("vocal", "posture", "action")
MIN_FOUND = 0.5  # locate abstains where the animal is seen in fewer of a segment's frames
LOCATE: dict[str, Any] = {"name": "locate", "use": "python:syncline.demo.barn_sensing:locate_stage",
                          "inputs": {"x": "source.video"}, "modalities": ["video"], "on_missing": "abstain",
                          "params": {"min_found": MIN_FOUND}}
TEMPERATURE: dict[str, Any] = {"name": "temperature", "use": "python:syncline.demo.barn_sensing:temperature_stage",
               "inputs": {"x": "source.sensor"}, "modalities": ["sensor"], "on_missing": "skip",
               "params": {"z0": 2.5, "k": 3.0}}


def declare_encoders(project: Project) -> Project:
    """Add the barn's encoders to ``syncline.yaml`` (as a user would), unless already there."""
    path = project.root / SETTINGS_FILE
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    have = {(e.get("name"), e.get("version")) for e in raw.get("encoders") or []}
    new = [e for e in ENCODERS if (e["name"], e["version"]) not in have]
    if new:
        raw["encoders"] = list(raw.get("encoders") or []) + new
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        tmp.replace(path)
    return Project.open(project.root)


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


def _fit(project: Project, d: dict[str, Any]) -> dict[str, LinearHead]:
    """The perception heads on the train split, and the fusion heads on their out-of-fold output."""
    has = {m: ~np.isnan(d[m]).any(axis=1) for m in REPS}
    # nothing is tuned on the validation stall-days, so they train too; test stays held out
    base = np.isin(d["split"], ["train", "validation"]) & has["video"]
    located = locate_stage("locate", SimpleNamespace(**LOCATE), project).fn(
        x=np.where(has["video"][:, None], d["video"], 0.0))  # what the pipeline's locate stage gives
    seen = base & ~located["_abstain"]
    looks = located["look"]
    temp = temperature_stage("temperature", SimpleNamespace(**TEMPERATURE), project).fn(
        x=np.nan_to_num(d["sensor"]))["probabilities"]
    heard = seen & has["audio"] & has["sensor"]
    groups = d["entity"]
    hear = fit_head("hear-vocal", d["audio"][heard], list(d["vocal"][heard]), list(groups[heard]),
                    fitted_on={"representation_ids": [REPS["audio"]]})
    see = fit_head("see-posture", looks[seen], list(d["posture"][seen]), list(groups[seen]),
                   fitted_on={"representation_ids": [REPS["video"]], "input": "locate.look"})
    p_hear = _oof(d["audio"][heard], d["vocal"][heard], groups[heard], "hear-vocal", hear.classes)
    p_see = _oof(looks[seen], d["posture"][seen], groups[seen], "see-posture", see.classes)
    p_see_heard = p_see[np.flatnonzero(heard[seen])]
    both = ~np.isnan(p_hear).any(axis=1) & ~np.isnan(p_see_heard).any(axis=1)
    fuse = fit_head("fuse-action", np.hstack([p_hear, p_see_heard, temp[heard]])[both],
                    list(d["action"][heard][both]), list(groups[heard][both]))
    alone = ~np.isnan(p_see).any(axis=1)
    fuse_posture = fit_head("fuse-action-from-posture", p_see[alone], list(d["action"][seen][alone]),
                            list(groups[seen][alone]))
    return {"hear": hear, "see": see, "fuse": fuse, "fuse_posture": fuse_posture}


def _stages(models: dict[str, str], same: bool) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = [
        LOCATE,
        {"name": "see", "use": "head", "model": models["see"], "inputs": {"x": "locate.look"},
         "modalities": ["video"], "on_missing": "abstain"},
        {"name": "hear", "use": "head", "model": models["hear"], "inputs": {"x": "source.audio"},
         "modalities": ["audio"], "on_missing": "skip"},
        TEMPERATURE,
        {"name": "fuse", "use": "head", "model": models["fuse"], "role": "fusion",
         "inputs": {"a": "hear.probabilities", "b": "see.probabilities", "c": "temperature.probabilities"},
         "modalities": ["audio", "video", "sensor"], "on_missing": "fallback:fuse_posture" if same else "abstain"},
        {"name": "fuse_posture", "use": "head", "model": models["fuse_posture"], "role": "fusion",
         "inputs": {"b": "see.probabilities"}, "modalities": ["video"]},
        {"name": "decide", "use": "decision", "input": "fuse.probabilities"},
    ]
    # the two fusion heads learned other classes: no stand-in, the stage abstains instead
    return stages if same else [st for st in stages if st["name"] != "fuse_posture"]


def barn_pipeline(project: Project) -> dict[str, Any]:
    """Fit the heads on the train split, build the pipeline, run it over every 2 s segment."""
    project = declare_encoders(project)
    spec = load_task(project.task_path)
    embed(project, list(REPS.values()))
    d = _labelled(project)
    heads = _fit(project, d)
    models = {k: str(h.save(project.root / "models").relative_to(project.root)) for k, h in heads.items()}
    stages = _stages(models, heads["fuse_posture"].classes == heads["fuse"].classes)
    path = write_pipeline(project.root / PIPELINE_FILE, {"name": "barn", "version": "2", "segmenter": SEGMENTER,
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
    uses = {st["name"]: "cost matrix + review policy" if st["use"] == "decision" else st["use"].rpartition(":")[2]
            for st in stages}
    return {"run_id": res.run_id, "segments": res.segments, "routes": res.routes, "stage_status": res.stage_status,
            "uses": uses,
            "review_rate": round(res.routes.get("review", 0) / routed, 3) if routed else None,
            "max_review_rate": spec.review.max_review_rate,
            "heads": {k: {"model_id": h.model_id, "classes": h.classes,
                          "out_of_fold_balanced_accuracy": h.fitted_on["out_of_fold_balanced_accuracy"],
                          "rows": h.fitted_on["rows"]} for k, h in heads.items()},
            "test": {"labelled": len(test), "decided": len(decided), "agree_with_labels": agree},
            "not_decided": dict(why.most_common(3))}
