"""Opening and spot-checking audio/video with PyAV, with every failure mapped to a MediaError.

``open_av`` opens a container and turns FFmpeg errors into one-line UNDECODABLE errors;
``check_stream`` decodes the first frame and the frames after a seek near the end, so a file
whose tail is missing fails with TRUNCATED and garbage fails with UNDECODABLE, without
decoding the whole file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container

from syncline.media.container import box_problem, riff_truncation
from syncline.media.types import MediaError, MediaErrorKind

NS = 1_000_000_000
MAX_PIXELS = 100_000_000
_MAX_FIRST_PACKETS = 500


def display_name(path: Path) -> str:
    return os.fsdecode(path.name).encode("utf-8", "backslashreplace").decode("utf-8")


def to_ns(value: int | None, time_base: Fraction | None) -> int | None:
    """A timestamp in ``time_base`` units to integer nanoseconds (exact rounding)."""
    if value is None or time_base is None:
        return None
    num = value * time_base.numerator * NS
    return (2 * num + time_base.denominator) // (2 * time_base.denominator)


def stream_span_ns(container: av.container.InputContainer, stream: Any) -> tuple[int, int | None]:
    """(start, duration) of ``stream`` in ns; the container's duration when the stream has none."""
    tb = stream.time_base
    duration_ns = to_ns(stream.duration, tb)
    if duration_ns is None and container.duration is not None:
        duration_ns = container.duration * 1000
    return to_ns(stream.start_time, tb) or 0, duration_ns


@contextmanager
def decode_errors(path: Path, what: str) -> Iterator[None]:
    """Turn an FFmpeg failure while decoding ``what`` (audio, video) into UNDECODABLE."""
    try:
        yield
    except av.error.FFmpegError as exc:
        raise MediaError(
            MediaErrorKind.UNDECODABLE,
            f"{display_name(path)}: {what} fails to decode ({str(exc).splitlines()[0]})",
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def structure_problem(path: Path, fmt: str) -> None:
    """Raise TRUNCATED / UNDECODABLE from the container structure alone (no decoding)."""
    name = display_name(path)
    try:
        if fmt in ("mp4", "mov", "m4a"):
            problem = box_problem(path)
            if problem is not None:
                kind, box = problem
                if kind == "truncated":
                    raise MediaError(
                        MediaErrorKind.TRUNCATED,
                        f"{name} is truncated: {box}; re-copy the complete file",
                    )
                raise MediaError(
                    MediaErrorKind.UNDECODABLE,
                    f"{name} is corrupt: {box} is not valid MP4 structure; re-export the file",
                )
        elif fmt == "wav":
            where = riff_truncation(path)
            if where is not None:
                raise MediaError(
                    MediaErrorKind.TRUNCATED,
                    f"{name} is truncated: {where}; re-copy the complete file",
                )
    except OSError as exc:
        raise MediaError(
            MediaErrorKind.UNREADABLE, f"{name} cannot be read ({exc.strerror}); re-copy it"
        ) from None


@contextmanager
def open_av(path: Path) -> Iterator[av.container.InputContainer]:
    """Open ``path`` with PyAV; FFmpeg failures become one-line UNDECODABLE errors."""
    name = display_name(path)
    try:
        container = av.open(os.fsdecode(path), mode="r")
    except av.error.EOFError:
        raise MediaError(
            MediaErrorKind.TRUNCATED,
            f"{name} ends before its headers do; the file is cut short, re-copy it",
        ) from None
    except av.error.FFmpegError as exc:
        raise MediaError(
            MediaErrorKind.UNDECODABLE,
            f"{name} cannot be opened by the decoder ({_first_line(exc)}); re-export the file",
        ) from None
    except (OSError, UnicodeError) as exc:
        raise MediaError(
            MediaErrorKind.UNREADABLE, f"{name} cannot be read ({_first_line(exc)})"
        ) from None
    try:
        yield container
    finally:
        container.close()


@dataclass(frozen=True)
class SpotCheck:
    first_pts_ns: int | None
    last_end_ns: int | None
    frames_at_end: int


def _frame_end_ns(frame: Any, pts_ns: int, tb: Fraction) -> int:
    samples = getattr(frame, "samples", None)
    if samples:
        return pts_ns + int(samples) * NS // int(frame.sample_rate)
    return pts_ns + (to_ns(getattr(frame, "duration", None) or 0, tb) or 0)


def _decode_some(
    container: av.container.InputContainer, stream: Any, *, limit: int | None
) -> tuple[int | None, int | None, int]:
    """Decode ``stream`` (at most ``limit`` frames if given): first pts, last end (ns), count."""
    tb = stream.time_base
    first: int | None = None
    last_end: int | None = None
    count = 0
    for n_packets, packet in enumerate(container.demux(stream)):
        if limit is not None and n_packets > _MAX_FIRST_PACKETS:
            break
        for frame in packet.decode():
            pts_ns = to_ns(frame.pts, tb)
            if pts_ns is not None:
                if first is None:
                    first = pts_ns
                end = _frame_end_ns(frame, pts_ns, tb)
                last_end = end if last_end is None else max(last_end, end)
            count += 1
            if limit is not None and count >= limit:
                return first, last_end, count
    return first, last_end, count


def check_stream(
    container: av.container.InputContainer, stream: Any, path: Path, *, fmt: str
) -> SpotCheck:
    """Decode the first frame and every frame after a seek near the end of ``stream``."""
    name = display_name(path)
    tb = stream.time_base
    try:
        first, _, n_first = _decode_some(container, stream, limit=1)
        if n_first == 0:
            raise MediaError(
                MediaErrorKind.UNDECODABLE,
                f"{name}: the {stream.type} stream has no decodable frame; re-export the file",
            )
        start_ns, duration_ns = stream_span_ns(container, stream)
        end_ns = start_ns + duration_ns if duration_ns else None
        last_end: int | None = None
        n_end = 0
        if end_ns is not None:
            target_ns = max(start_ns, end_ns - 2 * NS)
            target = int(target_ns * tb.denominator // (tb.numerator * NS)) if tb else 0
            container.seek(target, stream=stream, backward=True, any_frame=False)
            _, last_end, n_end = _decode_some(container, stream, limit=None)
            if n_end == 0:
                raise MediaError(
                    MediaErrorKind.TRUNCATED,
                    f"{name}: nothing decodes near the declared end "
                    f"({end_ns / NS:.2f} s); the file is cut short, re-copy it",
                )
    except MediaError:
        raise
    except av.error.FFmpegError as exc:
        raise MediaError(
            MediaErrorKind.UNDECODABLE,
            f"{name}: the {stream.type} stream fails to decode ({_first_line(exc)}); re-export it",
        ) from None
    last_end_ns = last_end
    if (
        end_ns is not None
        and last_end_ns is not None
        and fmt not in ("aac", "mpegts")
        and end_ns - last_end_ns > max(NS // 2, (duration_ns or 0) // 20)
    ):
        raise MediaError(
            MediaErrorKind.TRUNCATED,
            f"{name} is truncated: the {stream.type} stream ends at {last_end_ns / NS:.2f} s "
            f"but declares {end_ns / NS:.2f} s; re-copy the complete file",
        )
    return SpotCheck(first, last_end_ns, n_end)
