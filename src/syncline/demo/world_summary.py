"""Assemble ``ground_truth.json`` from the generated assets (schema: ``syncline.demo.world``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from syncline.demo.world_plan import ENTITIES, SUBJECTS, AssetOut
from syncline.demo.world_scene import plan_scene
from syncline.demo.world_sync import misattached, plant_sync

SCHEMA_VERSION = 2
_SENSOR_KINDS = {"spikes": "spike", "dropouts": "dropout", "stuck": "stuck"}


def modality_label(a: AssetOut) -> str:
    """``video:cam1``, ``audio:mic``, ``audio:memo``, or the bare modality."""
    if a.modality == "video":
        return f"video:{a.camera}"
    if a.modality == "audio":
        return "audio:mic" if a.truth.get("kind") == "stall_microphone" else "audio:memo"
    return a.modality


def _planted(assets: list[AssetOut]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for a in assets:
        t = a.truth
        items: list[tuple[str, dict[str, Any]]] = [(d["kind"], d) for d in t.get("defects", [])]
        for kind, spans in t.get("faults", {}).items():
            items += [(kind, s) for s in spans]
        for key, spans in t.get("glitches", {}).items():
            items += [(_SENSOR_KINDS[key], s) for s in spans]
        out += [{"path": a.path, "modality": a.modality, "kind": kind, **s} for kind, s in items]
    return out


def _class_balance(assets: list[AssetOut]) -> dict[str, Any]:
    calls: Counter[str] = Counter({"call": 0, "distress": 0})
    background: Counter[str] = Counter({"fan": 0, "rain": 0})
    by_entity: dict[str, dict[str, int]] = {}
    for a in assets:
        if a.truth.get("kind") != "stall_microphone" or a.entity_id is None:
            continue
        here = Counter({"call": 0, "distress": 0}) + Counter(c["class"] for c in a.truth["calls"])
        by_entity[a.entity_id] = {"call": here["call"], "distress": here["distress"]}
        calls.update(c["class"] for c in a.truth["calls"])
        background.update(b["class"] for b in a.truth["background"])
    return {"calls": dict(calls), "by_entity": by_entity, "background": dict(background)}


def _capture_conditions(assets: list[AssetOut]) -> dict[str, Any]:
    video: Counter[str] = Counter({"day": 0, "night": 0})
    audio: Counter[str] = Counter({"day": 0, "night": 0})
    by_camera: dict[str, dict[str, int]] = {}
    for a in assets:
        lighting = a.context.get("lighting")
        if a.modality == "video" and lighting and a.camera:
            video[lighting] += 1
            cam = by_camera.setdefault(a.camera, {"day": 0, "night": 0})
            cam[lighting] += 1
        elif a.truth.get("kind") == "stall_microphone" and lighting:
            audio[lighting] += 1
    return {"video": dict(video), "by_camera": by_camera, "audio": dict(audio)}


def summarise(seed: int, assets: list[AssetOut], bad: list[AssetOut]) -> dict[str, Any]:
    sync = plant_sync(seed, assets)
    entities: dict[str, Any] = {}
    for e in ENTITIES:
        mine = [a for a in assets if a.entity_id == e.entity_id]
        entities[e.entity_id] = {
            "start_time": e.start_time, "start_ns": e.start_ns, "barn": e.barn,
            "stall": e.stall, "day": e.day, "lighting": e.lighting, "breed": e.breed,
            "animal_count": e.animal_count, "caretakers": list(e.caretakers),
            "distress_calls": e.distress_calls, "needs_vet": e.distress_calls > 0,
            "present": sorted({modality_label(a) for a in mine}), "missing": e.missing,
        }
    subjects = {
        s.subject_id: {"consent": s.status, "voice": s.voice,
                       "assets": sorted(a.path for a in assets if s.subject_id in a.subjects)}
        for s in SUBJECTS
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": "syncline.demo.world",
        "seed": seed,
        "entities": entities,
        "subjects": subjects,
        "assets": {a.path: a.truth for a in assets},
        "planted": _planted(assets),
        "class_balance": _class_balance(assets),
        "capture_conditions": _capture_conditions(assets),
        "missing_modalities": {e.entity_id: e.missing for e in ENTITIES if e.missing},
        "scenes": {e.entity_id: plan_scene(seed, e.index).truth() for e in ENTITIES},
        "sync": sync,
        "misattached": misattached(assets),
        "bad_files": [b.truth for b in bad],
        "counts": {
            "by_modality": dict(sorted(Counter(a.modality for a in assets).items())),
            "assets": len(assets),
            "bad_files": len(bad),
        },
    }
