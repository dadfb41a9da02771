"""Typed values the media layer hands to the rest of syncline.

``probe(path)`` (in ``media.probe``) returns a ``MediaInfo`` or raises ``MediaError``. A
``MediaError`` is what ingest quarantines: its message is one line that names what is wrong
and what to do, never a stack trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Modality(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    IMAGE = "image"
    TRANSCRIPT = "transcript"
    SENSOR = "sensor"
    EVENTS = "events"
    DOCUMENT = "document"
    METADATA = "metadata"


class MediaErrorKind(StrEnum):
    EMPTY = "empty"                      # zero bytes
    TRUNCATED = "truncated"              # container/stream ends early
    UNDECODABLE = "undecodable"          # no decodable stream / not the format it claims
    WRONG_EXTENSION = "wrong_extension"  # content contradicts a known extension
    BOMB = "decompression_bomb"          # declared size far beyond sane limits
    NON_MONOTONIC_TIME = "non_monotonic_time"
    MALFORMED_SUBTITLES = "malformed_subtitles"
    MALFORMED_TABLE = "malformed_table"  # sensor/event/metadata table unusable
    UNSUPPORTED = "unsupported"          # a format syncline does not read
    UNREADABLE = "unreadable"            # permission denied, broken link, I/O error


class MediaError(Exception):
    """A file syncline cannot ingest. ``str(err)`` is one line: what is wrong, what to do."""

    def __init__(self, kind: MediaErrorKind, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learned about one file. All times are integer nanoseconds (asset-local).

    ``start_ns`` is the presentation time of the first decoded sample or frame after edit
    lists are honoured; ``priming_samples`` is encoder delay (AAC 1024/2112, MP3 ~1105) that a
    decoder must drop. ``capture_time_utc_ns`` is the wall-clock start of the recording where
    the file says so (EXIF DateTimeOriginal, container creation_time, absolute sensor time).
    ``details`` holds per-modality extras and must be JSON-serialisable.
    """

    modality: Modality
    format: str
    duration_ns: int | None = None
    start_ns: int = 0
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    frame_count: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    priming_samples: int | None = None
    n_items: int | None = None
    capture_time_utc_ns: int | None = None
    device: str | None = None
    has_gps: bool = False
    details: dict[str, Any] = field(default_factory=dict)
