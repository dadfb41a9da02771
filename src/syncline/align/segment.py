"""Segmenters: turn entity timelines into segments with stable IDs.

Every segmenter is named with a version (``fixed-10s@2``, ``cues@1``, ``events@1``,
``speech@1``, ``shots@1``) because the name is part of ``segment_id`` (entity, t0, t1,
segmenter): re-running a segmenter gives the same IDs, and a new version gives new ones
instead of silently changing old segments. Segments carry the assets (and so the subjects)
they were derived from, for consent purges.

* fixed windows tile each entity's recorded extent;
* transcript cues become segments on the entity timeline through the transcript's clock;
* events become windows around each event;
* voice activity (silero VAD) gives speech turns per audio asset;
* shot changes (frame-difference peaks) cut each video into shots.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from syncline.ids import segment_id
from syncline.timebase import NS_PER_S, Clock

Row = dict[str, Any]


def _row(entity_id: str, t0: int, t1: int, segmenter: str, assets: Iterable[Row]) -> Row:
    assets = list(assets)
    subjects = sorted({s for a in assets for s in (a.get("subject_ids") or [])})
    return {
        "segment_id": segment_id(entity_id=entity_id, t0_ns=t0, t1_ns=t1, segmenter=segmenter),
        "entity_id": entity_id, "t0_ns": int(t0), "t1_ns": int(t1), "segmenter": segmenter,
        "asset_ids": sorted(a["asset_id"] for a in assets) or None, "subject_ids": subjects or None,
    }


def clock_of(asset: Row) -> Clock:
    return Clock(offset_ns=int(asset.get("clock_offset_ns") or 0),
                 drift_ppm=float(asset.get("clock_drift_ppm") or 0.0),
                 source=str(asset.get("clock_source") or "assumed"))


def span_on_entity(asset: Row) -> tuple[int, int] | None:
    if not asset.get("duration_ns"):
        return None
    clock = clock_of(asset)
    start = int(asset.get("start_ns") or 0)
    return clock.to_entity(local_ns=start), clock.to_entity(local_ns=start + int(asset["duration_ns"]))


def fixed_windows(assets: list[Row], *, window_ns: int) -> list[Row]:
    """Windows of ``window_ns`` on a grid anchored at the entity's time 0, covering its first to
    its last recorded instant (the first and last window cut there). The grid does not move when
    a clock correction moves the first file by a few milliseconds, so the IDs of inner segments
    — and the labels attached to them — survive ``align --apply``."""
    name = f"fixed-{window_ns / NS_PER_S:g}s@2"  # @2: on the entity-time grid (@1 started at the first file)
    by_entity: dict[str, list[Row]] = {}
    for a in assets:
        if span_on_entity(a) is not None:
            by_entity.setdefault(a["entity_id"], []).append(a)
    rows = []
    for entity, group in sorted(by_entity.items()):
        spans = np.array([span_on_entity(a) for a in group], dtype=np.int64)
        lo, hi = int(spans[:, 0].min()), int(spans[:, 1].max())
        starts = np.arange(lo // window_ns * window_ns, hi, window_ns, dtype=np.int64)
        for grid in starts:
            t0, t1 = max(int(grid), lo), min(int(grid) + window_ns, hi)
            overlapping = [a for a, (s0, s1) in zip(group, spans, strict=True) if s0 < t1 and s1 > t0]
            rows.append(_row(entity, int(t0), t1, name, overlapping))
    return rows


def event_windows(events: list[Row], assets_by_id: dict[str, Row], *, pre_ns: int, post_ns: int) -> list[Row]:
    """A window [t - pre, t + post) around every event in the catalog."""
    name = f"events-{pre_ns / NS_PER_S:g}s+{post_ns / NS_PER_S:g}s@1"
    return [_row(e["entity_id"], int(e["t_ns"]) - pre_ns, int(e["t_ns"]) + post_ns, name,
                 [assets_by_id[a] for a in (e.get("asset_ids") or []) if a in assets_by_id])
            for e in events]


def cue_segments(transcripts: list[Row], path_of: Callable[[Row], Path]) -> list[Row]:
    """One segment per transcript cue, placed through the transcript's clock."""
    from syncline.media.transcript import read_transcript

    rows = []
    for asset in transcripts:
        clock = clock_of(asset)
        for cue in read_transcript(path_of(asset)):
            rows.append(_row(asset["entity_id"], clock.to_entity(local_ns=cue.t0_ns),
                             clock.to_entity(local_ns=cue.t1_ns), "cues@1", [asset]))
    return rows


def speech_turns(audio: list[Row], path_of: Callable[[Row], Path]) -> list[Row]:
    """Speech turns found by voice activity detection in each audio asset."""
    from syncline.align.vad import speech_segments

    rows = []
    for asset in audio:
        clock = clock_of(asset)
        for t0, t1 in speech_segments(path_of(asset)):
            rows.append(_row(asset["entity_id"], clock.to_entity(local_ns=int(t0)),
                             clock.to_entity(local_ns=int(t1)), "speech@1", [asset]))
    return rows


def shot_changes(values: np.ndarray, *, min_ratio: float = 6.0) -> np.ndarray:
    """Indices of frames whose difference to the previous frame is a cut: far above the
    clip's typical frame difference (median + MAD), and a local maximum."""
    v = np.asarray(values, dtype=np.float64)
    if v.size < 3:
        return np.zeros(0, dtype=np.int64)
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med))) or 1e-9
    peak = (v[1:-1] >= v[:-2]) & (v[1:-1] >= v[2:])
    strong = v[1:-1] > med + min_ratio * 1.4826 * mad
    return (np.flatnonzero(peak & strong) + 1).astype(np.int64)


def shots(videos: list[Row], path_of: Callable[[Row], Path]) -> list[Row]:
    """Shots per video: cuts where the frame difference jumps (see ``shot_changes``)."""
    from syncline.align.signals import motion_energy

    rows = []
    for asset in videos:
        sig = motion_energy(path_of(asset))
        times = sig.times_ns()
        cuts = shot_changes(sig.values)
        span = span_on_entity(asset)
        if span is None or len(times) == 0:
            continue
        clock = clock_of(asset)
        bounds = [span[0], *(clock.to_entity(local_ns=int(times[i])) for i in cuts), span[1]]
        for t0, t1 in zip(bounds[:-1], bounds[1:], strict=True):
            if t1 > t0:
                rows.append(_row(asset["entity_id"], t0, t1, "shots@1", [asset]))
    return rows


SEGMENTERS = ("fixed", "cues", "events", "speech", "shots")


def run_segmenters(project: Any, kinds: list[str], *, window_s: float = 10.0, entity: str | None = None,
                   event_pre_s: float = 2.0, event_post_s: float = 5.0) -> dict[str, int]:
    """Run the named segmenters over the catalog and upsert their segments; returns counts."""
    from syncline.align.tuples import asset_path, has_media

    unknown = [k for k in kinds if k not in SEGMENTERS]
    if unknown:
        raise ValueError(f"unknown segmenter(s) {unknown}; choose from {', '.join(SEGMENTERS)}")
    if "fixed" in kinds and not (math.isfinite(window_s) and window_s >= 0.001):
        raise ValueError(f"--window must be a length in seconds of at least 0.001, got {window_s}")
    cat = project.catalog()
    quoted = (entity or "").replace("'", "''")
    where = f"entity_id = '{quoted}'" if entity else "entity_id NOT LIKE '\\_%' ESCAPE '\\'"
    assets = cat.read("assets", where=where).to_pylist()
    if entity and not assets:
        raise ValueError(f"no entity {entity!r} has files in the catalog; `syncline inventory` lists the entities")

    def path_of(a: Row) -> Path:
        return asset_path(project, a)

    def of(modality: str) -> list[Row]:  # what has media to read (not the embeddings-only assets)
        return [a for a in assets if a["modality"] == modality and has_media(a)]

    counts = {}
    for kind in kinds:
        if kind == "fixed":
            rows = fixed_windows(assets, window_ns=int(window_s * NS_PER_S))
        elif kind == "cues":
            rows = cue_segments(of("transcript"), path_of)
        elif kind == "events":
            events = cat.read("events", where=where if entity else None).to_pylist()
            rows = event_windows(events, {a["asset_id"]: a for a in assets},
                                 pre_ns=int(event_pre_s * NS_PER_S), post_ns=int(event_post_s * NS_PER_S))
        elif kind == "speech":
            rows = speech_turns(of("audio"), path_of)
        else:
            rows = shots(of("video"), path_of)
        cat.upsert("segments", rows)
        counts[kind] = len(rows)
    return counts
