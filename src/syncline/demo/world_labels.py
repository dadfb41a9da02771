"""The demo world's annotation: a label schema, annotators of three tiers and their labels,
with one planted systematic error.

What is labelled: every two-second window of the entity timeline that lies wholly inside the
stall camera's clip (``[k·2 s, (k+1)·2 s)``, the grid of ``syncline segment --by fixed
--window 2``), addressed by entity and span. ``posture`` (perception: standing, lying,
down_struggling) and ``action`` (judgment: ignore, watch, alert_vet) are the two kinds the
issue keeps apart.

Truth: a window holding a distress call's onset is ``down_struggling``; otherwise ``lying``
with probability 0.7 at night and 0.3 by day, else ``standing``. Action follows posture
(alert_vet / watch at night, or ignore / ignore). Annotators (accuracy = chance of the true
value, otherwise a uniformly wrong one)::

    vet-a    expert   posture, action; grades posture   0.97
    tech-b   trained  posture, action                   0.90
    crowd-c  crowd    posture                           0.92 by day; at night calls 70 % of
                                                        lying animals down_struggling (planted)
    crowd-d  crowd    posture                           0.80
    crowd-e  crowd    posture                           0.88
    vet-g    expert   grades posture (labels only by fixing)     0.98

The caretaker care-n writes a barn-book ``note`` (free text) on some windows, and the note
names the posture (all struggling animals, a quarter of the lying, a tenth of the standing): a
planted label leak for the audit to find.

The grader vet-g reviews 40 of crowd-c's posture labels drawn at random: accept when right
(score 4-5), fix to what they see otherwise (score 1-2) — ``annotation/grades.jsonl``, naming
each label by field, annotator, entity and span.

Files: ``annotation/labels.yaml`` (the schema), ``annotation/guidelines.md``,
``annotation/labels.jsonl`` (one label per line) and ``annotation/grades.jsonl``. The truth
goes to ``ground_truth.json`` under ``annotation``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

WINDOW_NS = 2_000_000_000
POSTURES = ("standing", "lying", "down_struggling")
ACTIONS = ("ignore", "watch", "alert_vet")
ANNOTATORS: dict[str, dict[str, Any]] = {
    "vet-a": {"tier": "expert", "fields": ["posture", "action"], "grades": ["posture"], "accuracy": 0.97},
    "tech-b": {"tier": "trained", "fields": ["posture", "action"], "accuracy": 0.90},
    "crowd-c": {"tier": "crowd", "fields": ["posture"], "accuracy": 0.92, "night_lying_as_struggling": 0.7},
    "crowd-d": {"tier": "crowd", "fields": ["posture"], "accuracy": 0.80},
    "crowd-e": {"tier": "crowd", "fields": ["posture"], "accuracy": 0.88},
    "vet-g": {"tier": "expert", "fields": ["posture"], "grades": ["posture"], "accuracy": 0.98, "labels": False},
    "care-n": {"tier": "trained", "fields": ["note"], "accuracy": 1.0, "labels": False},
}
NOTES = {"down_struggling": ("found her down and struggling, called the vet", 1.0),
         "lying": ("lying quietly in the straw", 0.25), "standing": ("standing at the feeder", 0.1)}
GRADED = 40  # crowd-c labels the grader reviews, drawn at random
SCHEMA = {
    "version": 1,
    "fields": {
        "posture": {"kind": "perception", "granularity": "segment", "type": "class", "values": list(POSTURES),
                    "description": "what the animal's body does in the window",
                    "synonyms": {"down_struggling": ["down and struggling", "struggling"]}},
        "action": {"kind": "judgment", "granularity": "segment", "type": "class", "values": list(ACTIONS),
                   "description": "what the farm should do about it"},
        "note": {"kind": "perception", "granularity": "segment", "type": "text", "context": True,
                 "description": "the caretaker's note on the window, as written in the barn book"},
    },
    "annotators": {name: {k: v for k, v in a.items() if k in ("tier", "fields", "grades")}
                   for name, a in ANNOTATORS.items()},
}
GUIDELINES = """# Stall camera windows: posture and action

**posture** (perception) — what the animal's body does in the two seconds: *standing*; *lying*
(resting on its side or chest, calm); *down_struggling* (down and trying to rise, legs moving,
often with a distress call). Judge the body, not the sound alone. Infrared night video is
grainy: a calm lying animal is still *lying*.

**action** (judgment, vets and trained staff only) — *alert_vet* for a struggling animal,
*watch* for an animal lying at night, otherwise *ignore*.
"""


def _truth(rng: np.random.Generator, distress: bool, night: bool) -> tuple[str, str]:
    if distress:
        return "down_struggling", "alert_vet"
    if rng.random() < (0.7 if night else 0.3):
        return "lying", "watch" if night else "ignore"
    return "standing", "ignore"


def _say(rng: np.random.Generator, truth: str, values: tuple[str, ...], accuracy: float) -> str:
    if rng.random() < accuracy:
        return truth
    return str(rng.choice([v for v in values if v != truth]))


def make_annotations(root: Path, seed: int, truth: dict[str, Any]) -> dict[str, Any]:
    """Write the annotation files; return their ground truth."""
    rng = np.random.default_rng([seed, 4242])
    notes_rng = np.random.default_rng([seed, 4243])
    windows: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for entity, sync in sorted(truth["sync"].items()):
        cam1 = truth["assets"][sync["reference"]]
        t0 = int(cam1["clock"]["true_offset_ns"])
        t1 = t0 + int(cam1["video"]["duration_ns"])
        night = truth["entities"][entity]["lighting"] == "night"
        onsets = [c["onset_ns"] for c in truth["scenes"][entity]["cues"] if c["kind"] == "distress"]
        for k in range(-(-t0 // WINDOW_NS), t1 // WINDOW_NS):
            w0, w1 = k * WINDOW_NS, (k + 1) * WINDOW_NS
            posture, action = _truth(rng, any(w0 <= t < w1 for t in onsets), night)
            windows.append({"entity_id": entity, "t0_ns": w0, "t1_ns": w1, "lighting": "night" if night else "day",
                            "posture": posture, "action": action})
            text, share = NOTES[posture]
            if notes_rng.random() < share:  # the planted leak: the barn book states the label
                labels.append({"field": "note", "entity_id": entity, "t0_ns": w0, "t1_ns": w1, "annotator": "care-n",
                               "value": text})
            for who, a in ANNOTATORS.items():
                if not a.get("labels", True):
                    continue
                said = _say(rng, posture, POSTURES, a["accuracy"])
                if night and posture == "lying" and rng.random() < a.get("night_lying_as_struggling", 0.0):
                    said = "down_struggling"
                where = {"entity_id": entity, "t0_ns": w0, "t1_ns": w1, "annotator": who}
                labels.append({"field": "posture", **where, "value": said})
                if "action" in a["fields"]:
                    labels.append({"field": "action", **where, "value": _say(rng, action, ACTIONS, a["accuracy"])})
    out = root / "annotation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "labels.yaml").write_text("# the demo farm's label schema (generated)\n" +
                                     yaml.safe_dump(SCHEMA, sort_keys=False), encoding="utf-8")
    (out / "guidelines.md").write_text(GUIDELINES, encoding="utf-8")
    (out / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels), encoding="utf-8")
    grades = _grades(rng, labels, {(w["entity_id"], w["t0_ns"]): w["posture"] for w in windows})
    (out / "grades.jsonl").write_text("".join(json.dumps(r) + "\n" for r in grades), encoding="utf-8")
    return {"window_ns": WINDOW_NS, "windows": windows, "labels": len(labels), "grades": len(grades),
            "annotators": {n: {k: v for k, v in a.items() if k != "fields"} for n, a in ANNOTATORS.items()},
            "planted": {"annotator": "crowd-c", "slice": "lighting=night", "confuses": ["lying", "down_struggling"]},
            "leaks": [{"field": "posture", "source": "note:note", "classes": ["down_struggling", "lying"],
                       "notes": {k: v[0] for k, v in NOTES.items()}}]}


def _grades(rng: np.random.Generator, labels: list[dict[str, Any]],
            truth: dict[tuple[str, int], str]) -> list[dict[str, Any]]:
    crowd = [r for r in labels if r["field"] == "posture" and r["annotator"] == "crowd-c"]
    picked = sorted(rng.choice(len(crowd), size=min(GRADED, len(crowd)), replace=False).tolist())
    out = []
    for n in picked:
        r = crowd[n]
        seen = _say(rng, truth[(r["entity_id"], r["t0_ns"])], POSTURES, ANNOTATORS["vet-g"]["accuracy"])
        ref = {k: r[k] for k in ("field", "annotator", "entity_id", "t0_ns", "t1_ns")}
        if seen == r["value"]:
            out.append({**ref, "grader": "vet-g", "verdict": "accept", "score": int(rng.integers(4, 6))})
        else:
            out.append({**ref, "grader": "vet-g", "verdict": "fix", "value": seen, "score": int(rng.integers(1, 3))})
    return out
