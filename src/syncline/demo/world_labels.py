"""The demo world's annotation: a label schema, annotators of three tiers and their labels,
with one planted systematic error.

What is labelled: every two-second window of the entity timeline that lies wholly inside the
stall camera's clip (``[k·2 s, (k+1)·2 s)``, the grid of ``syncline segment --by fixed
--window 2``), addressed by entity and span. The timeline is the catalog's: the alignment
anchor's (cam1's) manifest clock, so what a window shows happened ``clock_error_ns`` earlier
in truth, and the truth of each window is judged there. ``posture`` (perception: standing, lying,
down_struggling) and ``action`` (judgment: ignore, watch, alert_vet) are the two kinds the
issue keeps apart.

``vocal`` (perception: quiet, calling — is an animal call heard for 300 ms or more of the
window) is labelled by vet-a, tech-b, crowd-d and crowd-e from the same draws of accuracy. It is
the demo's *audio-only* label: the cameras show a call only as a brief head jerk, which the
built-in once-a-second video features do not see, so a fused head on it is an audio model — the
planted dominant modality.

Truth: a window holding a distress call's onset is ``down_struggling``; otherwise ``lying``
with probability 0.7 at night and 0.3 by day, else ``standing``. Action follows posture
(alert_vet / watch at night, or ignore / ignore). Annotators (accuracy = chance of the true
value, otherwise a uniformly wrong one)::

    vet-a    expert   posture, action, vocal; grades    0.97
    tech-b   trained  posture, action, vocal            0.90
    crowd-c  crowd    posture                           0.92 by day; at night calls 70 % of
                                                        lying animals down_struggling (planted)
    crowd-d  crowd    posture, vocal                    0.80
    crowd-e  crowd    posture, vocal                    0.88
    vet-g    expert   grades posture (labels only by fixing)     0.98

The caretaker care-n writes a barn-book ``note`` (free text) on some windows, and the note
names the posture (all struggling animals, a quarter of the lying, a tenth of the standing): a
planted label leak for the audit to find.

Every label whose value differs from its window's truth is a *wrong label* — the planted label
noise the audit's label-noise check should find (``ground_truth.json``: ``annotation.wrong``).
With planting rates (``generate_world(rates=...)``), ``confusion`` replaces crowd-c's 70 % and
``leak`` the quarter of lying windows the note names.

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
VOCAL = ("quiet", "calling")
HEARD_NS = 300_000_000  # a window is "calling" when this much of a call is audible in it
ANNOTATORS: dict[str, dict[str, Any]] = {
    "vet-a": {"tier": "expert", "fields": ["posture", "action", "vocal"], "grades": ["posture"], "accuracy": 0.97},
    "tech-b": {"tier": "trained", "fields": ["posture", "action", "vocal"], "accuracy": 0.90},
    "crowd-c": {"tier": "crowd", "fields": ["posture"], "accuracy": 0.92, "night_lying_as_struggling": 0.7},
    "crowd-d": {"tier": "crowd", "fields": ["posture", "vocal"], "accuracy": 0.80},
    "crowd-e": {"tier": "crowd", "fields": ["posture", "vocal"], "accuracy": 0.88},
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
        "vocal": {"kind": "perception", "granularity": "segment", "type": "class", "values": list(VOCAL),
                  "description": "is an animal call heard in the window (300 ms or more of it)"},
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

**vocal** (perception) — *calling* when an animal call (a moo or a bellow) is heard for 300 ms
or more of the window, otherwise *quiet*. Door creaks and slams are not calls.
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


def _heard_ns(cues: list[dict[str, Any]], w0: int, w1: int) -> int:
    """How much of animal calls is audible inside ``[w0, w1)`` (entity ns)."""
    return sum(max(0, min(w1, c["audible_entity_ns"][1]) - max(w0, c["audible_entity_ns"][0]))
               for c in cues if c["kind"] in ("call", "distress"))


def make_annotations(root: Path, seed: int, truth: dict[str, Any],
                     rates: dict[str, float] | None = None) -> dict[str, Any]:
    """Write the annotation files; return their ground truth. ``rates`` (``confusion``,
    ``leak``) replace crowd-c's night confusion and the share of lying windows the note names."""
    rng = np.random.default_rng([seed, 4242])
    notes_rng = np.random.default_rng([seed, 4243])
    vocal_rng = np.random.default_rng([seed, 4244])  # its own stream: the posture draws stay as they were
    confusion = ANNOTATORS["crowd-c"]["night_lying_as_struggling"] if rates is None else rates["confusion"]
    notes = dict(NOTES) if rates is None else NOTES | {"lying": (NOTES["lying"][0], rates["leak"])}
    windows: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for entity, sync in sorted(truth["sync"].items()):
        cam1 = truth["assets"][sync["reference"]]
        t0 = int(cam1["clock"]["nominal_offset_ns"])  # the catalog's timeline: the anchor camera's manifest clock
        t1 = t0 + int(cam1["video"]["duration_ns"])
        err = int(cam1["clock"]["clock_error_ns"])  # what a window shows happened at (window - err) in truth
        night = truth["entities"][entity]["lighting"] == "night"
        cues = truth["scenes"][entity]["cues"]
        onsets = [c["onset_ns"] for c in cues if c["kind"] == "distress"]
        for k in range(-(-t0 // WINDOW_NS), t1 // WINDOW_NS):
            w0, w1 = k * WINDOW_NS, (k + 1) * WINDOW_NS
            posture, action = _truth(rng, any(w0 <= t + err < w1 for t in onsets), night)
            vocal = "calling" if _heard_ns(cues, w0 - err, w1 - err) >= HEARD_NS else "quiet"
            windows.append({"entity_id": entity, "t0_ns": w0, "t1_ns": w1, "lighting": "night" if night else "day",
                            "posture": posture, "action": action, "vocal": vocal})
            text, share = notes[posture]
            if notes_rng.random() < share:  # the planted leak: the barn book states the label
                labels.append({"field": "note", "entity_id": entity, "t0_ns": w0, "t1_ns": w1, "annotator": "care-n",
                               "value": text})
            for who, a in ANNOTATORS.items():
                if not a.get("labels", True):
                    continue
                said = _say(rng, posture, POSTURES, a["accuracy"])
                if night and posture == "lying" and rng.random() < (confusion if who == "crowd-c" else 0.0):
                    said = "down_struggling"
                where = {"entity_id": entity, "t0_ns": w0, "t1_ns": w1, "annotator": who}
                labels.append({"field": "posture", **where, "value": said})
                if "action" in a["fields"]:
                    labels.append({"field": "action", **where, "value": _say(rng, action, ACTIONS, a["accuracy"])})
                if "vocal" in a["fields"]:
                    labels.append({"field": "vocal", **where, "value": _say(vocal_rng, vocal, VOCAL, a["accuracy"])})
    out = root / "annotation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "labels.yaml").write_text("# the demo farm's label schema (generated)\n" +
                                     yaml.safe_dump(SCHEMA, sort_keys=False), encoding="utf-8")
    (out / "guidelines.md").write_text(GUIDELINES, encoding="utf-8")
    (out / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels), encoding="utf-8")
    grades = _grades(rng, labels, {(w["entity_id"], w["t0_ns"]): w["posture"] for w in windows})
    (out / "grades.jsonl").write_text("".join(json.dumps(r) + "\n" for r in grades), encoding="utf-8")
    return {"window_ns": WINDOW_NS, "windows": windows, "labels": len(labels), "grades": len(grades),
            "annotators": {n: {k: v for k, v in a.items() if k != "fields"}
                           | ({"night_lying_as_struggling": confusion} if n == "crowd-c" else {})
                           for n, a in ANNOTATORS.items()},
            "planted": {"annotator": "crowd-c", "slice": "lighting=night", "confuses": ["lying", "down_struggling"]},
            "wrong": _wrong(labels, windows),
            "leaks": [{"field": "posture", "source": "note:note",
                       "classes": [c for c in ("down_struggling", "lying") if notes[c][1] > 0],
                       "notes": {k: v[0] for k, v in notes.items()}}],
            "dominance": {"vocal": "audio"},
            # lying (and so watch) is likelier at night, and the cameras see night: video may carry
            # these through the lighting, so no dominance verdict on them is planted either way
            "lighting_dependent": ["posture", "action"]}


def _wrong(labels: list[dict[str, Any]], windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every class label whose value is not its window's truth: (field, annotator, entity, span)."""
    truth = {(w["entity_id"], w["t0_ns"]): w for w in windows}
    return [{k: r[k] for k in ("field", "annotator", "entity_id", "t0_ns", "t1_ns", "value")}
            | {"truth": truth[(r["entity_id"], r["t0_ns"])][r["field"]]}
            for r in labels if r["field"] != "note" and r["value"] != truth[(r["entity_id"], r["t0_ns"])][r["field"]]]


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
