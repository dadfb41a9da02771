"""What an aligner should find: each asset's true lag against its stall-day's cam1 clip.

Convention (``syncline.align.types``): an event at reference-local time ``t`` appears at
target-local time ``t * (1 + drift_ppm * 1e-6) + lag_ns``. With true clocks
``t_entity = off + t_local * (1 + d)`` for the reference (r) and the target (t)::

    lag_ns    = (off_r - off_t) / (1 + d_t)
    drift_ppm = ((1 + d_r) / (1 + d_t) - 1) * 1e6
    nominal_lag_ns = nominal_off_r - nominal_off_t      # what the manifest implies, drift 0
    correction_ns  = lag_ns - nominal_lag_ns            # what alignment must add

``shared_cues`` counts the scene cues both assets carry (video: motion bursts in the clip;
stall mic: calls and door sounds; sensor and event log: door transitions), ``cues_per_min``
divides by the entity-time overlap of the two. ``expect`` is a hint for the demo:
``aligned`` with at least ``MIN_SHARED_CUES`` shared cues, ``abstain`` with fewer (memos,
photos and transcripts share none with the cameras), ``no_plausible_alignment`` for a stream
whose content belongs to another stall-day (it carries ``true_match`` against that day's cam1).
"""

from __future__ import annotations

from typing import Any

from syncline.demo.world_plan import ENTITIES, AssetOut
from syncline.demo.world_scene import plan_scene
from syncline.timebase import NS_PER_S

MIN_SHARED_CUES = 6
_DOOR_KINDS = ("door_open", "door_close")


def relation(ref: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """Lag and drift of ``target`` against ``ref`` (both ``clock`` truths), and the nominal lag."""
    d_r, d_t = ref["drift_ppm"] * 1e-6, target["drift_ppm"] * 1e-6
    lag = int(round((ref["true_offset_ns"] - target["true_offset_ns"]) / (1.0 + d_t)))
    nominal = int(ref["nominal_offset_ns"] - target["nominal_offset_ns"])
    return {"lag_ns": lag, "drift_ppm": round(((1.0 + d_r) / (1.0 + d_t) - 1.0) * 1e6, 4),
            "nominal_lag_ns": nominal, "correction_ns": lag - nominal}


def _span(a: AssetOut) -> tuple[int, int]:
    """Entity-time span of an asset (photos: an instant)."""
    t = a.truth
    clock = t["clock"]
    scale = 1.0 + clock["drift_ppm"] * 1e-6
    for key in ("video", "audio", "sensor"):
        if key in t and "duration_ns" in t[key]:
            return clock["true_offset_ns"], clock["true_offset_ns"] + int(t[key]["duration_ns"] * scale)
    if "events" in t:
        return t["events"][0]["entity_ns"], t["events"][-1]["entity_ns"]
    if "cues" in t and t["cues"]:
        return clock["true_offset_ns"], clock["true_offset_ns"] + t["cues"][-1]["local_ns"][1]
    return clock["true_offset_ns"], clock["true_offset_ns"]


def _onsets(a: AssetOut, seed: int, entity_index: int) -> set[tuple[str, int]]:
    """The scene cues (kind, onset ns) this asset carries."""
    t = a.truth
    lo, hi = _span(a)
    if a.modality == "video":
        return {(c["kind"], c["onset_ns"]) for c in t["cues"]}
    scene = plan_scene(seed, entity_index).truth()
    if t.get("kind") == "stall_microphone":
        return {(c["kind"], c["onset_ns"]) for c in scene["cues"]
                if lo <= c["audible_entity_ns"][0] and c["audible_entity_ns"][1] <= hi}
    if a.modality in ("sensor", "events"):  # transitions at open and slam, keyed by swing start
        out = set()
        for d in scene["door_cycles"]:
            if lo <= d["open_ns"] <= hi:
                out.add(("door_open", d["open_ns"]))
            if lo <= d["slam_ns"] <= hi:
                out.add(("door_close", d["closing_ns"]))
        return out
    return set()


def _pair(ref: AssetOut, target: AssetOut, seed: int, entity_index: int) -> dict[str, Any]:
    shared = _onsets(ref, seed, entity_index) & _onsets(target, seed, entity_index)
    (r0, r1), (t0, t1) = _span(ref), _span(target)
    overlap_min = max(min(r1, t1) - max(r0, t0), 0) / (60 * NS_PER_S)
    rel = relation(ref.truth["clock"], target.truth["clock"])
    return {"reference": ref.path, **rel, "shared_cues": len(shared),
            "cues_per_min": round(len(shared) / overlap_min, 1) if overlap_min > 0 else 0.0,
            "expect": "aligned" if len(shared) >= MIN_SHARED_CUES else "abstain"}


def plant_sync(seed: int, assets: list[AssetOut]) -> dict[str, Any]:
    """Adds ``sync`` to every timed asset's truth; returns the top-level ``sync`` section."""
    cam1 = {a.entity_id: a for a in assets if a.modality == "video" and a.camera == "cam1"}
    index = {e.entity_id: e.index for e in ENTITIES}
    section: dict[str, Any] = {}
    for e in ENTITIES:
        ref = cam1[e.entity_id]
        ref.truth["sync"] = {"reference": ref.path, "role": "reference"}
        pairs: dict[str, Any] = {}
        for a in assets:
            if a.entity_id != e.entity_id or a is ref or "clock" not in a.truth:
                continue
            wrong = a.truth.get("misattached")
            if wrong:
                true_ref = cam1[wrong["true_entity_id"]]
                a.truth["sync"] = {
                    "reference": ref.path, "expect": "no_plausible_alignment",
                    "nominal_lag_ns": relation(ref.truth["clock"], a.truth["clock"])["nominal_lag_ns"],
                    "true_match": _pair(true_ref, a, seed, index[wrong["true_entity_id"]]),
                }
            else:
                a.truth["sync"] = _pair(ref, a, seed, e.index)
            pairs[a.path] = a.truth["sync"]
        sensors = [a for a in assets if a.entity_id == e.entity_id and a.modality == "sensor"]
        events = next(a for a in assets if a.entity_id == e.entity_id and a.modality == "events")
        for s in sensors:  # the logger against the exact event log: door transitions, drift
            s.truth["sync_vs_events"] = {**_pair(events, s, seed, e.index), "reference": events.path}
        mic = next((a for a in assets if a.entity_id == e.entity_id
                    and a.truth.get("kind") == "stall_microphone"), None)
        doors = plan_scene(seed, e.index).door_events()
        section[e.entity_id] = {
            "reference": ref.path,
            "sparse": plan_scene(seed, e.index).sparse,
            "door_events": len(doors),
            "door_events_in_reference": sum(c["kind"] in _DOOR_KINDS for c in ref.truth["cues"]),
            "cues_in_reference": len(ref.truth["cues"]),
            "av_cues_per_min": (mic.truth["sync"].get("cues_per_min")
                                if mic and "cues_per_min" in mic.truth["sync"] else None),
            "pairs": pairs,
            **({"sensor_vs_events": {s.path: s.truth["sync_vs_events"] for s in sensors}} if sensors else {}),
        }
    return section


def misattached(assets: list[AssetOut]) -> list[dict[str, Any]]:
    return [{"path": a.path, "modality": a.modality, **a.truth["misattached"]}
            for a in assets if "misattached" in a.truth]
