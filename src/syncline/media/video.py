"""Video files (MP4/MOV, Matroska/WebM, AVI, MPEG-TS, Ogg Theora): probe and iterate frames.

``probe_video`` reads the header, refuses a declared frame size over 100 megapixels before
decoding anything (BOMB), then decodes the first frame and the frames after a seek near the
end. Edit lists (MP4/MOV) are read from ``moov`` and reported in ``details["edit_list"]``;
FFmpeg honours them, so ``start_ns`` is the presentation time of the first frame shown.
A container whose only pictures are cover art is audio and is probed as audio.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import av.container
import numpy as np

from syncline.media.audio import audio_stream_info, probe_first_audio
from syncline.media.container import mp4_tracks
from syncline.media.decoding import (
    MAX_PIXELS,
    NS,
    check_stream,
    decode_errors,
    display_name,
    open_av,
    stream_span_ns,
    structure_problem,
    to_ns,
)
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality

_DEVICE_TAGS = (
    ("com.apple.quicktime.make", "com.apple.quicktime.model"),
    ("com.android.manufacturer", "com.android.model"),
    ("make", "model"),
)
_CREATION_TAGS = ("com.apple.quicktime.creationdate", "creation_time", "date")
_GPS_TAGS = ("location", "location-eng", "com.apple.quicktime.location.iso6709", "gps")


def parse_iso_utc_ns(value: str) -> int | None:
    """An ISO 8601 timestamp (naive = UTC) to Unix nanoseconds; None when unparsable or epoch 0."""
    text = value.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if dt.year < 1971:  # muxers write the epoch when they know nothing
        return None
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def container_context(tags: dict[str, str]) -> tuple[int | None, str | None, bool]:
    """(capture_time_utc_ns, device, has_gps) from container tags."""
    lower = {k.lower(): v for k, v in tags.items()}
    capture = None
    for key in _CREATION_TAGS:
        if key in lower:
            capture = parse_iso_utc_ns(lower[key])
            if capture is not None:
                break
    device = None
    for make_key, model_key in _DEVICE_TAGS:
        parts = [lower[k].strip() for k in (make_key, model_key) if lower.get(k, "").strip()]
        if parts:
            device = " ".join(parts)
            break
    has_gps = any(k in lower or any(t.startswith(k) for t in lower) for k in _GPS_TAGS)
    return capture, device, has_gps


def _edit_list(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt not in ("mp4", "mov", "m4a"):
        return []
    movie = mp4_tracks(path)
    if movie is None:
        return []
    out: list[dict[str, Any]] = []
    for track in movie.tracks:
        if not track.edits:
            continue
        mt = track.media_time
        out.append(
            {
                "track": track.handler,
                "entries": len(track.edits),
                "media_time": mt,
                "timescale": track.timescale,
                "media_time_ns": (mt * NS // track.timescale) if mt and track.timescale else 0,
                "empty_edit_ns": (
                    track.empty_edit_duration * NS // movie.timescale if movie.timescale else 0
                ),
            }
        )
    return out


def _video_stream(container: av.container.InputContainer) -> Any | None:
    for stream in container.streams.video:
        if not (stream.disposition & av.stream.Disposition.attached_pic):
            return stream
    return None


def probe_video(path: Path, fmt: str) -> MediaInfo:
    """Probe a video file (falls back to ``probe``-as-audio when there is no video stream)."""
    path = Path(path)
    name = display_name(path)
    structure_problem(path, fmt)
    with open_av(path) as container:
        stream = _video_stream(container)
        tags = dict(container.metadata)
        capture, device, has_gps = container_context(tags)
        if stream is None:
            info = probe_first_audio(
                path, fmt, container,
                missing=f"{name} has neither a video nor an audio stream; re-export it",
            )
            return MediaInfo(
                **{
                    **info.__dict__,
                    "capture_time_utc_ns": capture,
                    "device": device,
                    "has_gps": has_gps,
                }
            )
        cc = stream.codec_context
        width, height = int(cc.width or 0), int(cc.height or 0)
        if width * height > MAX_PIXELS:
            raise MediaError(
                MediaErrorKind.BOMB,
                f"{name} declares {width}x{height} video frames (over 100 megapixels); "
                "refused before decoding, re-encode it at a sane size",
            )
        if width == 0 or height == 0:
            raise MediaError(
                MediaErrorKind.UNDECODABLE,
                f"{name}: the video stream declares no frame size; re-export the file",
            )
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        start_ns, duration_ns = stream_span_ns(container, stream)
        audio: dict[str, Any] | None = None
        if container.streams.audio:
            audio = audio_stream_info(path, fmt, container, container.streams.audio[0])
        check = check_stream(container, stream, path, fmt=fmt)
        frame_count = int(stream.frames) if stream.frames else None
        if frame_count is None and duration_ns and fps:
            frame_count = int(round(duration_ns * fps / NS))
        details: dict[str, Any] = {
            "edit_list": _edit_list(path, fmt),
            "audio": audio,
            "pix_fmt": cc.pix_fmt,
            "container_tags": sorted(tags),
            "streams": [s.type for s in container.streams],
        }
        if check.last_end_ns is not None:
            details["last_frame_end_ns"] = check.last_end_ns
        return MediaInfo(
            modality=Modality.VIDEO,
            format=fmt,
            duration_ns=duration_ns,
            start_ns=start_ns,
            codec=cc.name,
            width=width,
            height=height,
            fps=fps,
            frame_count=frame_count,
            sample_rate=audio["sample_rate"] if audio else None,
            channels=audio["channels"] if audio else None,
            priming_samples=audio["priming_samples"] if audio else None,
            capture_time_utc_ns=capture,
            device=device,
            has_gps=has_gps,
            details=details,
        )


def video_frames(path: Path) -> Iterator[tuple[int | None, av.VideoFrame]]:
    """Decode the video stream once, yielding ``(pts_ns, frame)`` with the frame undecoded into
    pixels (the caller converts only what it keeps); ``pts_ns`` is the presentation time after
    edit lists, None where the frame has none. Refuses a bomb; decode errors become ``MediaError``."""
    path = Path(path)
    with open_av(path) as container:
        stream = _video_stream(container)
        if stream is None:
            raise MediaError(
                MediaErrorKind.UNDECODABLE, f"{display_name(path)} has no video stream"
            )
        cc = stream.codec_context
        if int(cc.width or 0) * int(cc.height or 0) > MAX_PIXELS:
            raise MediaError(
                MediaErrorKind.BOMB,
                f"{display_name(path)} declares frames over 100 megapixels; refused",
            )
        stream.thread_type = "AUTO"
        with decode_errors(path, "video"):
            for frame in container.decode(stream):
                yield to_ns(frame.pts, stream.time_base), frame


def iter_frames(
    path: Path, *, every: int = 1, gray: bool = False
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the video stream once, yielding ``(pts_ns, frame)`` for every ``every``-th frame.

    Frames are uint8 RGB ``[h, w, 3]`` (or gray ``[h, w]`` with ``gray=True``); ``pts_ns`` is
    the presentation time after edit lists, never a frame index.
    """
    if every < 1:
        raise ValueError("every must be >= 1")
    fmt = "gray" if gray else "rgb24"
    for i, (pts_ns, frame) in enumerate(video_frames(path)):
        if i % every:
            continue
        yield (pts_ns if pts_ns is not None else 0), frame.to_ndarray(format=fmt)
