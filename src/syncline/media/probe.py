"""``probe(path) -> MediaInfo``: detect the kind from content, then ask that kind's prober.

Every failure is a ``MediaError`` with a one-line message; an unexpected exception from a
third-party reader is wrapped as UNDECODABLE rather than escaping as a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from syncline.media.audio import probe_audio
from syncline.media.decoding import display_name
from syncline.media.detect import detect
from syncline.media.document import probe_document
from syncline.media.events import probe_events
from syncline.media.image import probe_image
from syncline.media.metadata import probe_metadata
from syncline.media.sensor import probe_sensor
from syncline.media.transcript import probe_transcript
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality
from syncline.media.video import probe_video

PROBERS: dict[Modality, Callable[[Path, str], MediaInfo]] = {
    Modality.VIDEO: probe_video,
    Modality.AUDIO: probe_audio,
    Modality.IMAGE: probe_image,
    Modality.TRANSCRIPT: probe_transcript,
    Modality.SENSOR: probe_sensor,
    Modality.EVENTS: probe_events,
    Modality.DOCUMENT: probe_document,
    Modality.METADATA: probe_metadata,
}


def probe(path: Path) -> MediaInfo:
    """What ``path`` is and what it holds; raises MediaError (one line) when it cannot be used."""
    path = Path(path)
    modality, fmt = detect(path)
    prober = PROBERS[modality]
    if modality is Modality.AUDIO and fmt in ("m4a", "ogg"):
        prober = probe_video  # containers that may also hold video; falls back to audio
    try:
        return prober(path, fmt)
    except MediaError:
        raise
    except MemoryError:
        raise MediaError(
            MediaErrorKind.BOMB,
            f"{display_name(path)} needs more memory to read than is available; refused",
        ) from None
    except Exception as exc:  # noqa: BLE001 - the last line of defence against stack traces
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise MediaError(
            MediaErrorKind.UNDECODABLE,
            f"{display_name(path)} could not be read as {fmt} ({type(exc).__name__}: {first}); "
            "re-export it",
        ) from exc
