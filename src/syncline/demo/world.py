"""The demo world: a small dairy farm whose data must serve "alert a vet about a distressed animal".

``generate_world(out_dir, seed=7)`` writes a project folder, offline and seeded::

    out_dir/
      manifest.yaml          # syncline.manifest format: entities, subjects, assets (no bad files)
      ground_truth.json      # everything planted; the product never reads it
      data/video/            # {entity}_{cam1|cam2}.mp4   H.264, cam1 320x240@8, cam2 256x192@10
      data/audio/            # {entity}_mic1.{m4a|wav}   16 kHz mono: calls, door sounds, fan, rain
      data/memos/            # {entity}_{memo}.{wav|m4a} espeak-ng voice memos (22.05 kHz)
      data/transcripts/      # {entity}_{memo}.{srt|vtt} exact cue times of the memos
      data/sensors/          # {entity}_ths.csv          10 Hz, 10 min: temperature[degC],
                             #                           humidity[%], door[0/1], lux[lx]
      data/photos/           # {entity}_{photo}.jpg      EXIF + GPS IFD + XMP GPS + COM comment
      data/events/           # {entity}.jsonl            door/feed/water/vet events
      data/metadata/stalls.csv                          # keyed by entity_id
      data/incoming/         # 3 deliberately bad files (ingest scans the folder)
      annotation/            # labels.yaml, guidelines.md, labels.jsonl: five annotators of three
                             # tiers label two-second windows; crowd-c confuses lying with
                             # down_struggling at night (``world_labels``)

Entities are stall-days (3 stalls x 2 days); two are night sessions under infrared (noisier
video and audio).

Sync cues (``world_scene``): each stall-day has one scene on its entity timeline. Every animal
call is heard on the stall microphone and seen on cam1/cam2 as a head jerk from its onset to
its end; every door cycle is a creak on the open swing, a creak and a thud on the close swing,
the door panel turning on camera, a ``door[0/1]``/``lux[lx]`` transient (and a temperature
dip) in the logger CSV and ``door_open``/``door_close`` lines in the event log. About 30
audio-visual cues a minute on most stall-days; ``stall-c-2026-05-01`` is sparse (a few cues:
alignment should abstain). More door cycles happen before and after the clips, inside the
ten-minute sensor span, so the loggers' drift (about +150 ppm) can be measured against the
exact event log. Manifest start times are off by up to ±5 s for cameras, microphones and
loggers (±2 s for phones). One microphone file is mis-attached: ``stall-a-2026-05-02_mic1.wav``
recorded ``stall-a-2026-05-01`` (``misattached`` in the ground truth).

Planted media defects: by default a fixed table (black, frozen and blurred frames on five of
the ten clips; clipped and silent audio on four microphones; one spike, stuck run and dropout
per logger), which many tests pin exactly. ``generate_world(out_dir, seed=11, rates={...})``
instead draws them per file from planting rates (``PLANTING_KINDS``: the probability that one
file gets one defect of that kind; ``duplicate``: that an original photo is re-shared under
another stall-day; ``confusion``: that crowd-c calls a lying animal at night down_struggling;
``leak``: that the barn book names a lying window's posture; missing kinds are 0), so an
audit's precision and recall can be measured on a world nobody tuned it on. The drawn defects
vary in length and place, never overlap, and use their own generators: the scene, clocks and signals are those of the
same seed without rates.

Ground truth (``ground_truth.json``, keys sorted). All times are ``int`` nanoseconds. *Entity*
time is 0 at the entity's ``start_time``; *local* time is the asset's own presentation time
(0 = first frame/sample/row); ``t_entity = true_offset_ns + t_local * (1 + drift_ppm * 1e-6)``
(``syncline.timebase.Clock``). Spans are half-open ``[t0, t1)`` pairs. For AAC (.m4a) local 0
is the first sample after the MP4 edit list drops the encoder priming. Photos and memos use the
phone clock (EXIF wall time is farm time, +02:00, from the nominal clock); the event log's clock
is exact (error 0, no drift) and its local 0 is its first line (as ``syncline.media.events``
reads it); the metadata table has no entity and no clock. The mis-attached microphone's
``entity_ns`` times (and ``true_offset_ns``) are on its *true* entity's timeline, its
``nominal_offset_ns`` on the claimed one's (that is what its manifest start_time says)::

    schema_version: 2, seed: int, generator: "syncline.demo.world"
    planting_rates: null (the default table) | {kind: probability per file} (PLANTING_KINDS)
    entities: {entity_id: {start_time, start_ns, barn, stall, day, lighting, breed,
               animal_count, caretakers, distress_calls, needs_vet, present, missing}}
        present/missing: modality labels, e.g. "video:cam1", "video:cam2", "audio:mic",
        "audio:memo", "sensor", "image", "transcript", "events"
    subjects: {subject_id: {consent: granted|withdrawn|pending, voice, assets: [path]}}
    assets: {path: {entity_id, modality, clock: {true_offset_ns, nominal_offset_ns,
             clock_error_ns (= nominal - true; the manifest start_time is entity start +
             nominal_offset_ns), drift_ppm}, ...per kind:}}
        video:  camera, view, lighting, video {codec, container, width, height, fps,
                frame_count, duration_ns, has_audio},
                defects [{kind: black|frozen|blurred, frames [i0, i1), local_ns, entity_ns}],
                cues [{kind: call|distress|door_open|door_close, onset_ns (entity),
                       frames [i0, i1) (frames whose instant is in the motion span),
                       local_ns, entity_ns (the motion span)}]  # only cues wholly in the clip
        audio (kind stall_microphone): lighting, audio {codec, container, sample_rate,
                channels, n_samples, duration_ns},
                calls [{class: call|distress, f0_hz, clipped, local_ns, entity_ns}],
                door_sounds [{kind: creak|thud, event: door_open|door_close, local_ns,
                              entity_ns}],
                background [{class: fan|rain, local_ns, entity_ns}],
                faults {silent: [{samples, local_ns, entity_ns}],
                        clipped: [{samples, gain, local_ns, entity_ns}]},
                misattached {claimed_entity_id, true_entity_id}  # only on that one file
        audio (kind voice_memo): speaker, audio {...}, sentences [{text, local_ns,
                entity_ns}], transcripts [srt path, vtt path]
        transcript: format srt|vtt, audio (memo path), speaker, cues (as sentences)
        sensor: sensor {rate_hz (10), time_format iso8601|seconds, time_column, columns,
                expected_rows, rows, duration_ns}, glitches {spikes: [{column, value, rows,
                local_ns, entity_ns}], dropouts: [{rows, ...}], stuck: [{column, value, rows, ...}]}
                (row i is at local i/rate_hz s; dropout rows are absent from the file),
                door_events [{type: door_open|door_close, entity_ns, local_ns, row (the first
                row whose instant is at or after the event: door[0/1] flips there)}],
                sync_vs_events (as sync, against the event log: drift measurable)
        image: kind phone_photo, taken_by, people, capture_entity_ns, image {width, height,
               format}, privacy {exif {Make, Model, DateTimeOriginal, OffsetTimeOriginal,
               SubSecTimeOriginal}, gps {lat, lon}, xmp_has_gps, jpeg_comment}
        events: events [{entity_ns, local_ns, type, state, actor}]
        metadata: key, columns, rows
        every timed asset but cam1: sync {reference (the entity's cam1 path), lag_ns,
                drift_ppm, nominal_lag_ns, correction_ns, shared_cues, cues_per_min,
                expect: aligned|abstain} in the convention of ``syncline.align.types``
                (see ``world_sync``); cam1: sync {reference, role: "reference"}; the
                mis-attached file: sync {reference, expect: no_plausible_alignment,
                nominal_lag_ns, true_match {reference: the true entity's cam1, lag_ns, ...}}
    planted: [{path, modality, kind, local_ns, entity_ns, frames|samples|rows}]  # flat index
    class_balance: {calls: {call, distress}, by_entity: {entity_id: {call, distress}},  # by file
                    background: {fan, rain}}
    capture_conditions: {video: {day, night}, by_camera: {cam: {day, night}},
                         audio: {day, night}}
    missing_modalities: {entity_id: [label]}
    scenes: {entity_id: {sparse, quiet_entity_ns, cues [{kind, onset_ns, audible_entity_ns,
             motion_entity_ns}], door_cycles [{open_ns, opened_ns, closing_ns, slam_ns, actor}]}}
    sync: {entity_id: {reference, sparse, door_events (in the log), door_events_in_reference,
           cues_in_reference, av_cues_per_min (cam1 x stall mic), pairs {path: sync},
           sensor_vs_events {path: sync}}}
    misattached: [{path, modality, claimed_entity_id, true_entity_id}]
    bad_files: [{path, kind: truncated|empty|wrong_extension, detail}]
    counts: {by_modality: {modality: n}, assets: n, bad_files: n}
    annotation: {window_ns, labels (count), windows [{entity_id, t0_ns, t1_ns, lighting, posture,
                 action}], annotators {name: {tier, accuracy, ...}}, planted {annotator, slice, confuses}}
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from syncline.demo.world_audio import make_mic_audio
from syncline.demo.world_bad import BAD_FILE, make_bad_files
from syncline.demo.world_encode import require_tools
from syncline.demo.world_labels import make_annotations
from syncline.demo.world_people import MEMOS, make_memo, make_photo, photo_plans
from syncline.demo.world_plan import ENTITIES, JURISDICTION, SUBJECTS, AssetOut
from syncline.demo.world_records import make_events, make_metadata
from syncline.demo.world_sensor import make_sensor
from syncline.demo.world_summary import summarise
from syncline.demo.world_video import make_video

PLANTING_KINDS = ("black", "frozen", "blurred", "silent", "clipped", "spike", "stuck", "gap",
                  "duplicate", "confusion", "leak")  # the last three: per photo, per night lying label, per lying note
DATA_DIRS = ("video", "audio", "memos", "transcripts", "sensors", "photos", "events",
             "metadata", "incoming")


@dataclass(frozen=True)
class WorldSummary:
    """Where the world was written and what it holds."""

    out_dir: Path
    manifest_path: Path
    ground_truth_path: Path
    counts: Mapping[str, int]  # manifest assets per modality
    bad_files: int
    n_files: int  # every file under data/, bad files included
    total_bytes: int


def _prepare(out_dir: Path) -> None:
    data = out_dir / "data"
    if data.exists():
        if not (out_dir / "ground_truth.json").exists():
            raise FileExistsError(
                f"{data} exists and is not a syncline demo world; choose an empty folder"
            )
        shutil.rmtree(data)
    for name in DATA_DIRS:
        (data / name).mkdir(parents=True, exist_ok=True)


def _one(make: Callable[..., AssetOut], *args: Any) -> list[AssetOut]:
    return [make(*args)]


def planting_rates(rates: Mapping[str, float] | None) -> dict[str, float] | None:
    """``rates`` checked and completed (a kind left out is never planted); ``None`` stays ``None``.

    An unknown kind is refused rather than ignored: a typo ("blur") would otherwise plant
    nothing and make an audit look perfect.
    """
    if rates is None:
        return None
    unknown = sorted(set(rates) - set(PLANTING_KINDS))
    if unknown:
        raise ValueError(f"unknown planting kind(s) {', '.join(unknown)}; kinds: {', '.join(PLANTING_KINDS)}")
    out = {k: float(rates.get(k, 0.0)) for k in PLANTING_KINDS}
    bad = [k for k, v in out.items() if not 0.0 <= v <= 1.0]
    if bad:
        raise ValueError(f"planting rates must be probabilities in [0, 1]: {', '.join(f'{k}={out[k]}' for k in bad)}")
    return out


def _jobs(root: Path, seed: int, rates: dict[str, float] | None) -> list[Callable[[], list[AssetOut]]]:
    """Every generator as a thunk, the slow video encodes first."""
    jobs: list[Callable[[], list[AssetOut]]] = []
    for e in ENTITIES:
        for cam in ("cam1", "cam2") if e.has_cam2 else ("cam1",):
            jobs.append(partial(_one, make_video, root, seed, e, cam, rates))
    jobs.append(partial(make_bad_files, root, seed))
    jobs += [partial(_one, make_mic_audio, root, seed, e, rates) for e in ENTITIES if e.mic_format]
    jobs += [partial(make_memo, root, seed, ENTITIES[m.entity_index], m) for m in MEMOS]
    jobs += [partial(_one, make_photo, root, seed, ENTITIES[p.entity_index], p)
             for p in photo_plans(seed, None if rates is None else rates["duplicate"])]
    jobs += [partial(_one, make_sensor, root, seed, e, rates) for e in ENTITIES if e.sensor_time]
    jobs += [partial(_one, make_events, root, seed, e) for e in ENTITIES]
    jobs.append(partial(_one, make_metadata, root))
    return jobs


def _manifest(assets: list[AssetOut]) -> dict[str, Any]:
    return {
        "version": 1,
        "entities": [
            {"entity_id": e.entity_id, "start_time": e.start_time,
             "attrs": {"barn": e.barn, "stall": e.stall, "day": e.day}}
            for e in ENTITIES
        ],
        "subjects": [
            {"subject_id": s.subject_id,
             "consent": {"status": s.status, "scope": list(s.scope),
                         **({"granted_at": s.granted_at} if s.granted_at else {}),
                         "jurisdiction": JURISDICTION}}
            for s in SUBJECTS
        ],
        "assets": [a.manifest_row() for a in assets],
    }


def generate_world(out_dir: Path, *, seed: int = 7, rates: Mapping[str, float] | None = None) -> WorldSummary:
    """Write the demo farm into ``out_dir`` (an existing demo world there is replaced).

    ``rates``: planting probabilities per file by kind (``PLANTING_KINDS``) instead of the
    default table; ``None`` gives the default world, the same for a seed as it always was.
    """
    checked = planting_rates(rates)
    require_tools()
    root = Path(out_dir)
    _prepare(root)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="syncline-demo") as pool:
        futures = [pool.submit(job) for job in _jobs(root, seed, checked)]
        outputs = [f.result() for f in futures]
    assets = sorted((a for out in outputs for a in out if a.modality != BAD_FILE), key=lambda a: a.path)
    bad = sorted((a for out in outputs for a in out if a.modality == BAD_FILE), key=lambda a: a.path)

    manifest_path = root / "manifest.yaml"
    manifest_path.write_text(
        "# syncline demo world: a dairy farm (generated by syncline.demo; do not edit)\n"
        + yaml.safe_dump(_manifest(assets), sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    truth = summarise(seed, assets, bad)
    truth["annotation"] = make_annotations(root, seed, truth, checked)
    truth["planting_rates"] = checked
    truth_path = root / "ground_truth.json"
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    files = [p for p in (root / "data").rglob("*") if p.is_file()]
    return WorldSummary(
        out_dir=root,
        manifest_path=manifest_path,
        ground_truth_path=truth_path,
        counts=dict(sorted(Counter(a.modality for a in assets).items())),
        bad_files=len(bad),
        n_files=len(files),
        total_bytes=sum(p.stat().st_size for p in files),
    )
