"""The demo world: a small dairy farm whose data must serve "alert a vet about a distressed animal".

``generate_world(out_dir, seed=7)`` writes a project folder, offline and seeded::

    out_dir/
      manifest.yaml          # syncline.manifest format: entities, subjects, assets (no bad files)
      ground_truth.json      # everything planted; the product never reads it
      data/video/            # {entity}_{cam1|cam2}.mp4   H.264, cam1 320x240@8, cam2 256x192@10
      data/audio/            # {entity}_mic1.{m4a|wav}   16 kHz mono: calls, distress, fan, rain
      data/memos/            # {entity}_{memo}.{wav|m4a} espeak-ng voice memos (22.05 kHz)
      data/transcripts/      # {entity}_{memo}.{srt|vtt} exact cue times of the memos
      data/sensors/          # {entity}_ths.csv          1 Hz temperature[degC], humidity[%]
      data/photos/           # {entity}_{photo}.jpg      EXIF + GPS IFD + XMP GPS + COM comment
      data/events/           # {entity}.jsonl            door/feed/water/vet events
      data/metadata/stalls.csv                          # keyed by entity_id
      data/incoming/         # 3 deliberately bad files (ingest scans the folder)

Entities are stall-days (3 stalls x 2 days); two are night sessions under infrared.

Ground truth (``ground_truth.json``, keys sorted). All times are ``int`` nanoseconds. *Entity*
time is 0 at the entity's ``start_time``; *local* time is the asset's own presentation time
(0 = first frame/sample/row); ``t_entity = true_offset_ns + t_local * (1 + drift_ppm * 1e-6)``
(``syncline.timebase.Clock``). Spans are half-open ``[t0, t1)`` pairs. For AAC (.m4a) local 0
is the first sample after the MP4 edit list drops the encoder priming. Photos and memos use the
phone clock (EXIF wall time is farm time, +02:00, from the nominal clock); the event log's clock
is exact (error 0); the metadata table has no entity and no clock::

    schema_version: 1, seed: int, generator: "syncline.demo.world"
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
                defects [{kind: black|frozen|blurred, frames [i0, i1), local_ns, entity_ns}]
        audio (kind stall_microphone): lighting, audio {codec, container, sample_rate,
                channels, n_samples, duration_ns},
                calls [{class: call|distress, f0_hz, clipped, local_ns, entity_ns}],
                background [{class: fan|rain, local_ns, entity_ns}],
                faults {silent: [{samples, local_ns, entity_ns}],
                        clipped: [{samples, gain, local_ns, entity_ns}]}
        audio (kind voice_memo): speaker, audio {...}, sentences [{text, local_ns,
                entity_ns}], transcripts [srt path, vtt path]
        transcript: format srt|vtt, audio (memo path), speaker, cues (as sentences)
        sensor: sensor {rate_hz, time_format iso8601|seconds, time_column, columns,
                expected_rows, rows, duration_ns}, glitches {spikes: [{column, value, rows,
                local_ns, entity_ns}], dropouts: [{rows, ...}], stuck: [{column, value, rows, ...}]}
                (row i is at local i seconds; dropout rows are absent from the file)
        image: kind phone_photo, taken_by, people, capture_entity_ns, image {width, height,
               format}, privacy {exif {Make, Model, DateTimeOriginal, OffsetTimeOriginal,
               SubSecTimeOriginal}, gps {lat, lon}, xmp_has_gps, jpeg_comment}
        events: events [{entity_ns, type, state, actor}]
        metadata: key, columns, rows
    planted: [{path, modality, kind, local_ns, entity_ns, frames|samples|rows}]  # flat index
    class_balance: {calls: {call, distress}, by_entity: {entity_id: {call, distress}},
                    background: {fan, rain}}
    capture_conditions: {video: {day, night}, by_camera: {cam: {day, night}},
                         audio: {day, night}}
    missing_modalities: {entity_id: [label]}
    bad_files: [{path, kind: truncated|empty|wrong_extension, detail}]
    counts: {by_modality: {modality: n}, assets: n, bad_files: n}
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
from syncline.demo.world_people import MEMOS, PHOTOS, make_memo, make_photo
from syncline.demo.world_plan import ENTITIES, JURISDICTION, SUBJECTS, AssetOut
from syncline.demo.world_records import make_events, make_metadata
from syncline.demo.world_sensor import make_sensor
from syncline.demo.world_summary import summarise
from syncline.demo.world_video import make_video

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


def _jobs(root: Path, seed: int) -> list[Callable[[], list[AssetOut]]]:
    """Every generator as a thunk, the slow video encodes first."""
    jobs: list[Callable[[], list[AssetOut]]] = []
    for e in ENTITIES:
        for cam in ("cam1", "cam2") if e.has_cam2 else ("cam1",):
            jobs.append(partial(_one, make_video, root, seed, e, cam))
    jobs.append(partial(make_bad_files, root, seed))
    jobs += [partial(_one, make_mic_audio, root, seed, e) for e in ENTITIES if e.mic_format]
    jobs += [partial(make_memo, root, seed, ENTITIES[m.entity_index], m) for m in MEMOS]
    jobs += [partial(_one, make_photo, root, seed, ENTITIES[p.entity_index], p) for p in PHOTOS]
    jobs += [partial(_one, make_sensor, root, seed, e) for e in ENTITIES if e.sensor_time]
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


def generate_world(out_dir: Path, *, seed: int = 7) -> WorldSummary:
    """Write the demo farm into ``out_dir`` (an existing demo world there is replaced)."""
    require_tools()
    root = Path(out_dir)
    _prepare(root)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="syncline-demo") as pool:
        futures = [pool.submit(job) for job in _jobs(root, seed)]
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
