"""Which pairs of assets to compare, per entity (pure: rows in, pairs out).

The anchor of an entity is its first fixed camera (video assets sorted by camera name, then
asset ID); everything else is aligned to it, directly or through a partner:

* another video            -> motion against the anchor's motion       (moves the video)
* an audio stream          -> audio onsets against the anchor's motion (moves the audio)
* a transcript             -> its cues against the speech of the audio file with the same
                              stem, e.g. memo-03.wav + memo-03.srt     (moves the transcript)
* a spoken memo (audio with such a transcript) is not compared with the camera: a phone in a
  pocket shares no sync cues with a barn camera, and a forced comparison would only produce a
  false "wrong entity" alarm
* a sensor stream          -> its transients against the anchor's motion bursts (moves the sensor)
* an event log             -> its event times against the anchor's motion bursts (moves the log)
* a sensor stream, again   -> its transients against the entity's event log (moves the sensor):
                              a logger and the barn server's log share every door transition over
                              their whole span, where a short clip may show only a few, so this
                              pair measures the logger's drift; it comes last so that it builds on
                              the log's own correction, and a direct sensor <-> camera alignment
                              takes precedence over it (``align.run``)

Entities without a video anchor get only the transcript and sensor <-> event log pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

Row = dict[str, Any]


@dataclass(frozen=True)
class Pair:
    kind: str          # video_video | audio_video | transcript_audio | sensor_video | events_video | sensor_events
    reference: Row
    target: Row
    moves: str         # "target" or "reference": which side's clock a correction changes


def _stem(asset: Row) -> str:
    return PurePath(str(asset.get("source_path") or "")).stem


def anchor_of(assets: list[Row]) -> Row | None:
    videos = [a for a in assets if a["modality"] == "video"]
    if not videos:
        return None
    return sorted(videos, key=lambda a: (str(a.get("camera") or "~"), a["asset_id"]))[0]


def plan_pairs(assets: list[Row]) -> list[Pair]:
    """Pairs for one entity's assets, in a deterministic order."""
    pairs: list[Pair] = []
    anchor = anchor_of(assets)
    audio_by_stem = {_stem(a): a for a in assets if a["modality"] == "audio"}
    transcripts = sorted((a for a in assets if a["modality"] == "transcript"), key=lambda a: a["asset_id"])
    memo_ids = set()
    for t in transcripts:
        audio = audio_by_stem.get(_stem(t))
        if audio is not None:
            memo_ids.add(audio["asset_id"])
            pairs.append(Pair("transcript_audio", t, audio, moves="reference"))
    for a in sorted(assets, key=lambda a: (a["modality"], a["asset_id"])):
        if anchor is None or a["asset_id"] == anchor["asset_id"]:
            continue
        if a["modality"] == "video":
            pairs.append(Pair("video_video", anchor, a, moves="target"))
        elif a["modality"] == "audio" and a["asset_id"] not in memo_ids:
            pairs.append(Pair("audio_video", anchor, a, moves="target"))
        elif a["modality"] == "sensor":
            pairs.append(Pair("sensor_video", anchor, a, moves="target"))
        elif a["modality"] == "events":
            pairs.append(Pair("events_video", anchor, a, moves="target"))
    logs = sorted((a for a in assets if a["modality"] == "events"), key=lambda a: a["asset_id"])
    if logs:
        for a in sorted((a for a in assets if a["modality"] == "sensor"), key=lambda a: a["asset_id"]):
            pairs.append(Pair("sensor_events", logs[0], a, moves="target"))
    return pairs
