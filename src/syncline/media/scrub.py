"""Privacy scrubbing: write a copy of a file without identifying metadata, content unchanged.

``scrub(src, info, dest)`` writes ``dest`` only (the caller renames it into place) and returns
what it removed. Per kind:

* JPEG: segments are copied byte for byte except APP1..APP15 and COM (EXIF, GPS, XMP, IPTC,
  comments, maker data) and trailing bytes after EOI. APP0 JFIF, APP2 ICC_PROFILE and APP14
  Adobe (needed to decode colours correctly) are kept. Pixels are untouched: no re-encode.
* PNG: tEXt, zTXt, iTXt (XMP lives here), eXIf and tIME chunks are dropped; the rest is
  copied byte for byte.
* GIF, WebP, TIFF: pixels are re-encoded losslessly in the same format, without metadata.
* Video/audio: ``ffmpeg -map 0:V? -map 0:a? -c copy -map_metadata -1 -map_chapters -1
  -fflags +bitexact``: only audio and video streams survive (cover art, data, subtitle and
  timecode tracks go), no container or stream tags. Start time, duration and priming are
  checked equal before and after; if remuxing changed them, scrubbing fails rather than
  silently moving the timeline.
* PDF: the Info dictionary and the XMP metadata stream are removed with pypdf.
* Text kinds (transcript, sensor, events, metadata) are copied byte for byte.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from syncline.media.decoding import display_name, open_av
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality

_MUXERS = {
    "mp4": "mp4", "mov": "mov", "m4a": "ipod", "matroska": "matroska", "webm": "webm",
    "avi": "avi", "mpegts": "mpegts", "wav": "wav", "flac": "flac", "ogg": "ogg",
    "mp3": "mp3", "aac": "adts",
}
_PNG_DROP = {b"tEXt": "text", b"zTXt": "text", b"iTXt": "text", b"eXIf": "exif", b"tIME": "time"}
_TEXT_KINDS = {Modality.TRANSCRIPT, Modality.SENSOR, Modality.EVENTS, Modality.METADATA}
_TIMING_TOLERANCE_NS = 1_000_000
# tags that describe the container itself and that the muxer writes again: not "stripped"
_STRUCTURAL_TAGS = {"major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id"}


@dataclass(frozen=True)
class ScrubReport:
    """What was removed (e.g. ``"exif"``, ``"gps"``, ``"xmp"``, ``"container:title"``)."""

    stripped: tuple[str, ...]


def scrub(src: Path, info: MediaInfo, dest: Path) -> ScrubReport:
    """Write ``src`` without identifying metadata to ``dest``; return what was removed."""
    src, dest = Path(src), Path(dest)
    if info.modality in _TEXT_KINDS:
        shutil.copyfile(src, dest)
        return ScrubReport(())
    if info.modality is Modality.IMAGE:
        if info.format == "jpeg":
            stripped = _scrub_jpeg(src, dest)
        elif info.format == "png":
            stripped = _scrub_png(src, dest)
        else:
            stripped = _scrub_reencode(src, dest, info.format)
        if info.has_gps and ("exif" in stripped or "xmp" in stripped):
            stripped = [*stripped, "gps"]
        return ScrubReport(tuple(dict.fromkeys(stripped)))
    if info.modality is Modality.DOCUMENT:
        return ScrubReport(_scrub_pdf(src, dest))
    if info.format == "wav":
        wav = _scrub_wav(src, dest)
        if wav is not None:
            return ScrubReport(wav)
    return ScrubReport(_scrub_av(src, info, dest))


# --- WAV --------------------------------------------------------------------------------

_WAV_KEEP = {b"fmt ", b"fact", b"data"}
_WAV_NAMES = {b"LIST": "container:info", b"id3 ": "id3", b"ID3 ": "id3", b"bext": "container:bext",
              b"iXML": "container:ixml", b"_PMX": "xmp", b"cue ": "container:cue", b"smpl": "container:smpl"}


def _scrub_wav(src: Path, dest: Path) -> tuple[str, ...] | None:
    """Keep only the fmt/fact/data chunks of a plain RIFF/WAVE file, bytes untouched; drop
    LIST/INFO, id3, bext, iXML, XMP and the rest. ``None`` (use ffmpeg) for RF64 or odd files.
    Streams chunk by chunk, so memory stays flat whatever the file size."""
    with src.open("rb") as f, dest.open("wb") as out:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        out.write(b"RIFF\0\0\0\0WAVE")
        stripped: list[str] = []
        kept = set()
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                break
            cid, size = hdr[:4], int.from_bytes(hdr[4:], "little")
            padded = size + (size & 1)
            if cid in _WAV_KEEP:
                out.write(hdr)
                remaining = padded
                while remaining:
                    block = f.read(min(remaining, 1 << 20))
                    if not block:
                        return None  # truncated chunk: let the ffmpeg path decide
                    out.write(block)
                    remaining -= len(block)
                kept.add(cid)
            else:
                stripped.append(_WAV_NAMES.get(cid, f"container:{cid.decode('latin-1').strip()}"))
                f.seek(padded, 1)
        if not {b"fmt ", b"data"} <= kept:
            return None
        total = out.tell()
        out.seek(4)
        out.write((total - 8).to_bytes(4, "little"))
    return tuple(dict.fromkeys(stripped))


# --- JPEG -------------------------------------------------------------------------------

def _app_name(marker: int, payload: bytes) -> str | None:
    """What a dropped APPn/COM segment held; None when the segment is kept."""
    if marker == 0xFE:
        return "comment"
    if marker == 0xE1:
        if payload.startswith(b"Exif\x00"):
            return "exif"
        if payload.startswith((b"http://ns.adobe.com/xap/1.0/", b"http://ns.adobe.com/xmp/")):
            return "xmp"
        return "app1"
    if marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"):
        return None
    if marker == 0xE0:
        return "jfxx" if payload.startswith(b"JFXX") else None
    if marker == 0xED:
        return "iptc"
    if marker == 0xEE and payload.startswith(b"Adobe"):
        return None
    if 0xE1 <= marker <= 0xEF:
        return f"app{marker - 0xE0}"
    return None


def _scrub_jpeg(src: Path, dest: Path) -> list[str]:
    data = src.read_bytes()
    name = display_name(src)
    if data[:2] != b"\xff\xd8":
        raise MediaError(MediaErrorKind.UNDECODABLE, f"{name} is not a JPEG; cannot scrub it")
    out = bytearray(b"\xff\xd8")
    stripped: list[str] = []
    pos, n = 2, len(data)
    in_scan = False
    while pos < n:
        if in_scan:
            # entropy-coded data: find the next marker that is not stuffing or a restart
            start = pos
            while True:
                pos = data.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= n:
                    out += data[start:]
                    pos = n
                    break
                nxt = data[pos + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
                    pos += 1 if nxt == 0xFF else 2
                    continue
                out += data[start:pos]
                in_scan = False
                break
            continue
        if data[pos] != 0xFF:
            raise MediaError(
                MediaErrorKind.UNDECODABLE,
                f"{name}: JPEG structure is broken at byte {pos}; re-export it",
            )
        while pos < n and data[pos] == 0xFF:
            pos += 1
        if pos >= n:
            break
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI: anything after it is a trailer (maker data, thumbnails)
            out += b"\xff\xd9"
            if pos < n:
                stripped.append("trailer")
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += bytes((0xFF, marker))
            continue
        if pos + 2 > n:
            break
        length = struct.unpack(">H", data[pos : pos + 2])[0]
        segment = data[pos : pos + length]
        what = _app_name(marker, segment[2:]) if (0xE0 <= marker <= 0xEF or marker == 0xFE) else None
        if what is None:
            out += bytes((0xFF, marker)) + segment
        else:
            stripped.append(what)
        pos += length
        if marker == 0xDA:
            in_scan = True
    dest.write_bytes(bytes(out))
    return list(dict.fromkeys(stripped))


# --- PNG --------------------------------------------------------------------------------

def _scrub_png(src: Path, dest: Path) -> list[str]:
    data = src.read_bytes()
    out = bytearray(data[:8])
    stripped: list[str] = []
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        chunk = data[pos:end]
        if kind in _PNG_DROP:
            body = data[pos + 8 : pos + 8 + length]
            stripped.append("xmp" if body.startswith(b"XML:com.adobe.xmp") else _PNG_DROP[kind])
        else:
            out += chunk
        pos = end
        if kind == b"IEND":
            break
    dest.write_bytes(bytes(out))
    return list(dict.fromkeys(stripped))


# --- other images -----------------------------------------------------------------------

def _scrub_reencode(src: Path, dest: Path, fmt: str) -> list[str]:
    with Image.open(src) as im:
        stripped = [k for k in ("exif", "xmp", "comment") if im.info.get(k)]
        if fmt != "tiff" and im.getexif():  # TIFF tags are structure, not EXIF
            stripped.append("exif")
        icc = im.info.get("icc_profile")
        kwargs: dict[str, object] = {"icc_profile": icc} if icc else {}
        n_frames = int(getattr(im, "n_frames", 1))
        if n_frames > 1 and fmt in ("gif", "webp", "tiff"):
            kwargs["save_all"] = True
        if fmt == "webp":
            kwargs.update(lossless=True, exact=True, quality=100)
            im.save(dest, format="WEBP", **kwargs)
        elif fmt == "tiff":
            im.save(dest, format="TIFF", compression="tiff_lzw", **kwargs)
        elif fmt == "gif":
            im.info.pop("comment", None)
            im.save(dest, format="GIF", **kwargs)
        else:
            raise MediaError(
                MediaErrorKind.UNSUPPORTED,
                f"{display_name(src)}: scrubbing {fmt} images is not supported; convert to PNG",
            )
    return list(dict.fromkeys(stripped))


# --- PDF --------------------------------------------------------------------------------

def _scrub_pdf(src: Path, dest: Path) -> tuple[str, ...]:
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(src, strict=False)
    writer = PdfWriter(clone_from=reader)
    stripped: list[str] = []
    if reader.metadata:
        stripped.append("pdf:info")
    if "/Metadata" in reader.root_object:
        stripped.append("xmp")
    writer.metadata = None  # no Info dictionary in the trailer
    writer.xmp_metadata = None
    with dest.open("wb") as f:
        writer.write(f)
    return tuple(stripped)


# --- audio / video ----------------------------------------------------------------------

def _tag_names(src: Path) -> list[str]:
    names: list[str] = []
    with open_av(src) as c:
        names += [f"container:{k}" for k in sorted(c.metadata) if k not in _STRUCTURAL_TAGS]
        kinds = {s.type for s in c.streams}
        for s in c.streams:
            names += [f"stream:{k}" for k in sorted(s.metadata) if k not in _STRUCTURAL_TAGS]
            if s.type == "video" and s.disposition & av.stream.Disposition.attached_pic:
                names.append("stream:attached_pic")
        for kind in sorted(kinds - {"video", "audio"}):
            names.append(f"stream:{kind}")
        if getattr(c, "chapters", None) and len(c.chapters()) > 0:
            names.append("chapters")
    return list(dict.fromkeys(names))


def _scrub_av(src: Path, info: MediaInfo, dest: Path) -> tuple[str, ...]:
    from syncline.media.probe import probe

    name = display_name(src)
    muxer = _MUXERS.get(info.format)
    if muxer is None:
        raise MediaError(
            MediaErrorKind.UNSUPPORTED, f"{name}: scrubbing {info.format} is not supported"
        )
    stripped = _tag_names(src)
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", os.fsdecode(src),
        "-map", "0:V?", "-map", "0:a?", "-c", "copy",
        "-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact",
    ]
    if muxer == "mp3" and info.details.get("priming_source") != "lame_tag":
        cmd += ["-write_xing", "0"]  # a new LAME tag would claim zero encoder delay
    cmd += ["-f", muxer, os.fsdecode(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["ffmpeg failed"])[-1][:160]
        raise MediaError(
            MediaErrorKind.UNDECODABLE, f"{name}: remuxing to strip metadata failed ({first})"
        )
    after = probe(dest)
    for field in ("start_ns", "duration_ns", "priming_samples", "frame_count", "sample_rate"):
        a, b = getattr(info, field), getattr(after, field)
        if a is None or b is None:
            continue
        tol = _TIMING_TOLERANCE_NS if field.endswith("_ns") else 0
        if abs(a - b) > tol:
            raise MediaError(
                MediaErrorKind.UNSUPPORTED,
                f"{name}: stripping metadata would change {field} ({a} -> {b}); "
                "ingest it with metadata kept or re-export it",
            )
    return tuple(stripped)
