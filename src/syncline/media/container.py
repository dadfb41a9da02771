"""Byte-level readers for container structure that PyAV does not expose.

* ISO BMFF (MP4/MOV/M4A): a walk over top-level boxes (``truncated_box``) that finds a box
  whose declared size runs past the end of the file, and a reader of ``moov`` for the movie
  timescale and each track's edit list (``mp4_tracks``).
* RIFF (WAV/AVI/WEBP): declared sizes versus the real file size (``riff_truncation``).
* MP3: the Xing/Info + LAME tag that carries the encoder delay (``mp3_encoder_delay``).

Everything here reads headers only (a few KB, plus ``moov`` for MP4) and never decodes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_MAX_MOOV_BYTES = 64 * 1024 * 1024
_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"edts", b"minf", b"stbl"}


@dataclass(frozen=True)
class EditEntry:
    segment_duration: int  # movie timescale
    media_time: int  # track timescale; -1 is an empty edit (a gap)
    media_rate: float


@dataclass(frozen=True)
class Mp4Track:
    handler: str  # "vide", "soun", ...
    timescale: int
    edits: tuple[EditEntry, ...]

    @property
    def media_time(self) -> int | None:
        """The media time of the first non-empty edit (AAC priming lives here), if any."""
        for e in self.edits:
            if e.media_time >= 0:
                return e.media_time
        return None

    @property
    def empty_edit_duration(self) -> int:
        """Total leading empty-edit duration (movie timescale): a delayed track start."""
        total = 0
        for e in self.edits:
            if e.media_time != -1:
                break
            total += e.segment_duration
        return total


@dataclass(frozen=True)
class Mp4Movie:
    timescale: int
    tracks: tuple[Mp4Track, ...]


def _box_header(f: BinaryIO, offset: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, header size, total size) of the box at ``offset``, or None past ``end``."""
    f.seek(offset)
    head = f.read(16)
    if len(head) < 8:
        return None
    size, kind = struct.unpack(">I4s", head[:8])
    header = 8
    if size == 1:
        if len(head) < 16:
            return kind, 16, 16 + (1 << 62)  # declared 64-bit size we cannot read: truncated
        size = struct.unpack(">Q", head[8:16])[0]
        header = 16
    elif size == 0:
        size = end - offset
    return kind, header, size


def box_problem(path: Path) -> tuple[str, str] | None:
    """Walk the top-level ISO BMFF boxes: ("truncated" | "corrupt", which box) or None.

    "truncated": a box declares more bytes than the file still has (a cut copy);
    "corrupt": a box type is not a four-character code or its size is impossible.
    """
    file_size = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset < file_size:
            hdr = _box_header(f, offset, file_size)
            if hdr is None:
                return "truncated", f"a box header at byte {offset}"
            kind, header, size = hdr
            label = kind.decode("latin-1")
            if not all(0x20 <= b < 0x7F for b in kind) or size < header:
                return "corrupt", f"the box at byte {offset} ({label!r}, size {size})"
            if offset + size > file_size:
                return "truncated", (
                    f"box '{label}' (declares {size} bytes, {file_size - offset} present)"
                )
            offset += size
    return None


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each box inside ``data[start:end]``."""
    out: list[tuple[bytes, int, int]] = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        out.append((kind, pos + header, pos + size))
        pos += size
    return out


def _find_moov(f: BinaryIO, file_size: int) -> bytes | None:
    offset = 0
    while offset < file_size:
        hdr = _box_header(f, offset, file_size)
        if hdr is None:
            return None
        kind, header, size = hdr
        if size < header:
            return None
        if kind == b"moov":
            if size > _MAX_MOOV_BYTES:
                return None
            f.seek(offset)
            data = f.read(size)
            return data if len(data) == size else None
        offset += size
    return None


def _parse_elst(data: bytes, start: int) -> tuple[EditEntry, ...]:
    version = data[start]
    count = struct.unpack(">I", data[start + 4 : start + 8])[0]
    entries: list[EditEntry] = []
    pos = start + 8
    for _ in range(min(count, 1024)):
        if version == 1:
            dur, mt = struct.unpack(">Qq", data[pos : pos + 16])
            pos += 16
        else:
            dur, mt = struct.unpack(">Ii", data[pos : pos + 8])
            pos += 8
        rate_i, rate_f = struct.unpack(">hH", data[pos : pos + 4])
        pos += 4
        entries.append(EditEntry(dur, mt, rate_i + rate_f / 65536))
    return tuple(entries)


def _mdhd_timescale(data: bytes, start: int) -> int:
    version = data[start]
    off = start + (20 if version == 1 else 12)
    return int(struct.unpack(">I", data[off : off + 4])[0])


def mp4_tracks(path: Path) -> Mp4Movie | None:
    """The movie timescale and each track's handler, timescale and edit list; None if unreadable."""
    try:
        with path.open("rb") as f:
            moov = _find_moov(f, path.stat().st_size)
        if moov is None:
            return None
        timescale = 0
        tracks: list[Mp4Track] = []
        for kind, s, e in _children(moov, 8, len(moov)):
            if kind == b"mvhd":
                timescale = _mdhd_timescale(moov, s)
            elif kind == b"trak":
                handler, track_ts = "", 0
                edits: tuple[EditEntry, ...] = ()
                for k2, s2, e2 in _children(moov, s, e):
                    if k2 == b"edts":
                        for k3, s3, _e3 in _children(moov, s2, e2):
                            if k3 == b"elst":
                                edits = _parse_elst(moov, s3)
                    elif k2 == b"mdia":
                        for k3, s3, _e3 in _children(moov, s2, e2):
                            if k3 == b"mdhd":
                                track_ts = _mdhd_timescale(moov, s3)
                            elif k3 == b"hdlr":
                                handler = moov[s3 + 8 : s3 + 12].decode("latin-1")
                tracks.append(Mp4Track(handler, track_ts, edits))
        return Mp4Movie(timescale, tuple(tracks))
    except (OSError, struct.error, IndexError):
        return None


def riff_truncation(path: Path) -> str | None:
    """For RIFF files (WAV), say how the declared sizes exceed the file, if they do."""
    file_size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12:
            return "the RIFF header"
        riff_size = struct.unpack("<I", head[4:8])[0]
        offset = 12
        while offset + 8 <= file_size:
            f.seek(offset)
            kind, size = struct.unpack("<4sI", f.read(8))
            if kind == b"data":
                if size in (0, 0xFFFFFFFF):  # streamed WAV: size unknown
                    return None
                if offset + 8 + size > file_size:
                    return f"the 'data' chunk (declares {size} bytes, {file_size - offset - 8} present)"
                return None
            offset += 8 + size + (size & 1)
        if riff_size not in (0, 0xFFFFFFFF) and riff_size + 8 > file_size:
            return f"the RIFF body (declares {riff_size + 8} bytes, {file_size} present)"
        return "the 'data' chunk (missing)"


def mp3_encoder_delay(path: Path) -> int | None:
    """Encoder delay (samples) from the LAME tag in the first MP3 frame, or None if absent."""
    with path.open("rb") as f:
        head = f.read(10)
        pos = 0
        if head[:3] == b"ID3" and len(head) == 10:
            pos = 10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])
        f.seek(pos)
        frame = f.read(4096)
    sync = 0
    while sync + 1 < len(frame) and not (frame[sync] == 0xFF and frame[sync + 1] & 0xE0 == 0xE0):
        sync += 1
    for tag in (b"Xing", b"Info"):
        x = frame.find(tag, sync, sync + 64)
        if x < 0 or len(frame) < x + 8:
            continue
        flags = struct.unpack(">I", frame[x + 4 : x + 8])[0]
        lame = x + 8 + 4 * bool(flags & 1) + 4 * bool(flags & 2) + 100 * bool(flags & 4)
        lame += 4 * bool(flags & 8)
        if len(frame) < lame + 24 or frame[lame : lame + 4] not in (b"LAME", b"Lavf", b"Lavc"):
            return None
        b = frame[lame + 21 : lame + 24]
        return (b[0] << 4) | (b[1] >> 4)
    return None
