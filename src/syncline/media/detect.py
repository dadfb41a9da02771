"""What a file is, from its content: ``detect(path) -> (Modality, format)``.

Binary kinds are recognised from magic bytes in the first 4 KB; text kinds (subtitles,
transcript JSON, tables) from a text sniff of the first 64 KB (a JSON document is parsed
whole). The extension is only a hint, with one rule: when the content contradicts a known
extension (a WAV named ``.mp4``, text named ``.jpg``) the file is refused with
WRONG_EXTENSION so a mislabelled file never reaches a decoder that would misread it.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from syncline.media.tables import classify, decode_text, sniff_delimiter
from syncline.media.types import MediaError, MediaErrorKind, Modality

_BINARY_HEAD = 4096
_TEXT_HEAD = 64 * 1024
_MAX_JSON_SNIFF = 32 * 1024 * 1024

# format -> (human description, canonical extension)
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "mp4": ("MP4 video", ".mp4"),
    "mov": ("QuickTime video", ".mov"),
    "m4a": ("MPEG-4 audio", ".m4a"),
    "matroska": ("Matroska video", ".mkv"),
    "webm": ("WebM video", ".webm"),
    "avi": ("AVI video", ".avi"),
    "mpegts": ("MPEG transport stream video", ".ts"),
    "wav": ("WAV audio", ".wav"),
    "flac": ("FLAC audio", ".flac"),
    "ogg": ("Ogg media", ".ogg"),
    "mp3": ("MP3 audio", ".mp3"),
    "aac": ("ADTS AAC audio", ".aac"),
    "jpeg": ("a JPEG image", ".jpg"),
    "png": ("a PNG image", ".png"),
    "gif": ("a GIF image", ".gif"),
    "webp": ("a WebP image", ".webp"),
    "tiff": ("a TIFF image", ".tif"),
    "heif": ("a HEIF/AVIF image", ".heic"),
    "pdf": ("a PDF document", ".pdf"),
    "srt": ("SRT subtitles", ".srt"),
    "vtt": ("WebVTT subtitles", ".vtt"),
    "json": ("JSON", ".json"),
    "csv": ("a CSV table", ".csv"),
    "tsv": ("a TSV table", ".tsv"),
    "jsonl": ("JSON Lines", ".jsonl"),
    "parquet": ("a Parquet table", ".parquet"),
    "text": ("plain text", ".txt"),
}

_ISO = ("mp4", "mov", "m4a")
_MKV = ("matroska", "webm")
_TABLES_TEXT = ("csv", "tsv")
# known extension -> the formats its content may be
EXTENSIONS: dict[str, tuple[str, ...]] = {
    ".mp4": _ISO, ".m4v": _ISO, ".mov": _ISO, ".qt": _ISO, ".m4a": _ISO, ".m4b": _ISO,
    ".3gp": _ISO, ".mkv": _MKV, ".webm": _MKV, ".mka": _MKV, ".avi": ("avi",),
    ".ts": ("mpegts",), ".mts": ("mpegts",), ".m2ts": ("mpegts",),
    ".wav": ("wav",), ".wave": ("wav",), ".flac": ("flac",),
    ".ogg": ("ogg",), ".oga": ("ogg",), ".ogv": ("ogg",), ".opus": ("ogg",),
    ".mp3": ("mp3",), ".aac": ("aac",),
    ".jpg": ("jpeg",), ".jpeg": ("jpeg",), ".png": ("png",), ".gif": ("gif",),
    ".webp": ("webp",), ".tif": ("tiff",), ".tiff": ("tiff",),
    ".heic": ("heif",), ".heif": ("heif",), ".avif": ("heif",),
    ".pdf": ("pdf",), ".srt": ("srt",), ".vtt": ("vtt",), ".json": ("json",),
    ".jsonl": ("jsonl",), ".ndjson": ("jsonl",), ".csv": _TABLES_TEXT, ".tsv": _TABLES_TEXT,
    ".parquet": ("parquet",),
}
_TEXT_FORMATS = {"srt", "vtt", "json", "jsonl", "csv", "tsv", "text"}
# what a text file with a text extension is taken as when its content is not recognised
_TEXT_FALLBACK: dict[str, tuple[Modality, str]] = {
    ".srt": (Modality.TRANSCRIPT, "srt"),
    ".vtt": (Modality.TRANSCRIPT, "vtt"),
}

_SRT_TIME = re.compile(r"^\s*\d+:\d{2}:\d{2}[,.]\d{1,3}\s*-->\s*\d+:\d{2}:\d{2}[,.]\d{1,3}")


def _fail(kind: MediaErrorKind, msg: str) -> MediaError:
    return MediaError(kind, msg)


def _display(path: Path) -> str:
    return os.fsdecode(path.name).encode("utf-8", "backslashreplace").decode("utf-8")


def read_head(path: Path, n: int) -> bytes:
    """The first ``n`` bytes, or a one-line UNREADABLE / EMPTY error."""
    name = _display(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise _fail(
                MediaErrorKind.UNREADABLE,
                f"{name} is a broken symbolic link; point it at a real file or remove it",
            ) from None
        raise _fail(MediaErrorKind.UNREADABLE, f"{name} does not exist; check the path") from None
    except OSError as exc:
        raise _fail(
            MediaErrorKind.UNREADABLE, f"{name} cannot be read ({exc.strerror}); check the path"
        ) from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(
            MediaErrorKind.UNREADABLE, f"{name} is a directory, not a file; ingest the files in it"
        )
    if not stat.S_ISREG(st.st_mode):
        raise _fail(
            MediaErrorKind.UNREADABLE, f"{name} is not a regular file (device, pipe or socket)"
        )
    if st.st_size == 0:
        raise _fail(MediaErrorKind.EMPTY, f"{name} is empty (0 bytes); re-export or re-copy it")
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as exc:
        raise _fail(
            MediaErrorKind.UNREADABLE,
            f"{name} cannot be read ({exc.strerror}); fix its permissions or re-copy it",
        ) from None


def sniff_binary(head: bytes) -> tuple[Modality, str] | None:
    """Recognise a binary format from magic bytes, or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"M4P "):
            return Modality.AUDIO, "m4a"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"heim", b"heis"):
            return Modality.IMAGE, "heif"
        return Modality.VIDEO, ("mov" if brand == b"qt  " else "mp4")
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return Modality.VIDEO, "mov"  # old QuickTime without ftyp
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Modality.VIDEO, ("webm" if b"webm" in head[:64] else "matroska")
    if head.startswith(b"RIFF") and len(head) >= 12:
        sub = head[8:12]
        if sub == b"WAVE":
            return Modality.AUDIO, "wav"
        if sub == b"AVI ":
            return Modality.VIDEO, "avi"
        if sub == b"WEBP":
            return Modality.IMAGE, "webp"
        return None
    if head.startswith(b"fLaC"):
        return Modality.AUDIO, "flac"
    if head.startswith(b"OggS"):
        return (Modality.VIDEO if b"\x80theora" in head else Modality.AUDIO), "ogg"
    if head.startswith(b"\xff\xd8\xff"):
        return Modality.IMAGE, "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Modality.IMAGE, "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Modality.IMAGE, "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Modality.IMAGE, "tiff"
    if b"%PDF-" in head[:1024]:
        return Modality.DOCUMENT, "pdf"
    if head.startswith(b"PAR1"):
        return Modality.SENSOR, "parquet"  # refined by the caller from the schema
    if len(head) >= 189 * 2 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return Modality.VIDEO, "mpegts"
    body = head
    if head.startswith(b"ID3") and len(head) >= 10:
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        body = head[10 + size :]
        if not body:
            return Modality.AUDIO, "mp3"  # tag longer than the head: ID3 is an MP3 convention
    if len(body) >= 4 and body[0] == 0xFF:
        b1 = body[1]
        if b1 & 0xF6 == 0xF0:
            return Modality.AUDIO, "aac"
        layer = (b1 >> 1) & 3
        if b1 & 0xE0 == 0xE0 and layer != 0 and body[2] >> 4 != 0xF and (body[2] >> 2) & 3 != 3:
            return Modality.AUDIO, "mp3"
    if head.startswith(b"ID3"):
        return Modality.AUDIO, "mp3"
    return None


def _json_kind(doc: Any) -> tuple[Modality, str] | None:
    if isinstance(doc, dict):
        if isinstance(doc.get("segments"), list) or isinstance(doc.get("words"), list):
            return Modality.TRANSCRIPT, "json"
        return None
    if isinstance(doc, list) and doc and all(isinstance(r, dict) for r in doc[:50]):
        keys = set(doc[0])
        if {"start", "end", "text"} <= keys:
            return Modality.TRANSCRIPT, "json"
        cols = list(dict.fromkeys(k for r in doc[:50] for k in r))
        numeric = {c for c in cols if isinstance(doc[0].get(c), (int, float))}
        kind = classify(cols, numeric)
        return (kind, "json") if kind is not None else None
    return None


def _csv_kind(text: str) -> tuple[Modality, str] | None:
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    header = lines[0]
    delimiter = sniff_delimiter(header)
    cols = [c.strip().strip('"') for c in header.split(delimiter)]
    if len(cols) < 2 or any(not c for c in cols):
        return None
    rows = [ln.split(delimiter) for ln in lines[1:20] if ln.strip()]
    numeric: set[str] = set()
    for j, c in enumerate(cols):
        cells = [r[j].strip().strip('"') for r in rows if j < len(r)]
        if cells and all(_is_number(v) for v in cells if v):
            numeric.add(c)
    kind = classify(cols, numeric)
    if kind is None:
        return None
    return kind, ("tsv" if delimiter == "\t" else "csv")


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def sniff_text(path: Path, text: str) -> tuple[Modality, str] | None:
    """Recognise subtitles, transcript JSON and tables from decoded text, or None."""
    body = text.lstrip()
    if body.startswith("WEBVTT"):
        return Modality.TRANSCRIPT, "vtt"
    first_lines = [ln for ln in body.split("\n")[:4]]
    if any(_SRT_TIME.match(ln) for ln in first_lines):
        return Modality.TRANSCRIPT, "srt"
    if body.startswith(("{", "[")):
        size = path.stat().st_size
        if size <= _MAX_JSON_SNIFF:
            try:
                with open(path, "rb") as f:
                    doc = json.loads(decode_text(f.read()))
                return _json_kind(doc)
            except (ValueError, UnicodeDecodeError):
                pass
        lines = [ln for ln in body.split("\n")[:20] if ln.strip()]
        if len(lines) > 1 or size > _MAX_JSON_SNIFF:
            rows = []
            for ln in lines[:-1] or lines:  # the last line of the head may be cut
                try:
                    rows.append(json.loads(ln))
                except ValueError:
                    return None
            if rows and all(isinstance(r, dict) for r in rows):
                cols = list(dict.fromkeys(k for r in rows for k in r))
                numeric = {c for c in cols if isinstance(rows[0].get(c), (int, float))}
                kind = classify(cols, numeric)
                return (kind, "jsonl") if kind is not None else None
        return None
    return _csv_kind(body)


def _parquet_kind(path: Path) -> tuple[Modality, str] | None:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return None
    numeric = {
        f.name for f in schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
    }
    kind = classify(list(schema.names), numeric)
    return (kind, "parquet") if kind is not None else None


def detect(path: Path) -> tuple[Modality, str]:
    """(modality, format name) from the file's content; the extension is only a hint.

    Raises MediaError: EMPTY (0 bytes), UNREADABLE (missing, broken link, directory,
    permission), WRONG_EXTENSION (content contradicts a known extension), UNDECODABLE
    (unrecognisable bytes behind a media extension), MALFORMED_TABLE (a table with neither a
    time nor an entity_id column), UNSUPPORTED (content of no kind syncline reads).
    """
    path = Path(path)
    name = _display(path)
    head = read_head(path, _BINARY_HEAD)
    ext = os.fsdecode(path.suffix).lower()
    expected = EXTENSIONS.get(ext)
    found = sniff_binary(head)
    text: str | None = None
    if found is not None and found[1] == "parquet":
        found = _parquet_kind(path)
        if found is None:
            raise _fail(
                MediaErrorKind.MALFORMED_TABLE,
                f"{name} is Parquet with neither a time column nor an entity_id column; "
                "add one (t, time, timestamp, ts, t_s, or entity_id)",
            )
    elif found is None:
        if len(head) == _BINARY_HEAD:
            head = read_head(path, _TEXT_HEAD)  # not binary: text kinds need a longer look
        try:
            text = decode_text(head, partial=len(head) == _TEXT_HEAD)
        except UnicodeDecodeError:
            text = None
        if text is not None:
            found = sniff_text(path, text)
    if found is None:
        if text is not None:
            if expected is not None and set(expected) & _TEXT_FORMATS:
                if ext in _TEXT_FALLBACK:
                    return _TEXT_FALLBACK[ext]
                raise _fail(
                    MediaErrorKind.MALFORMED_TABLE,
                    f"{name} is text but not a table syncline understands: it needs a time "
                    "column (t, time, timestamp, ts, t_s) or an entity_id column; add one",
                )
            if expected is not None:
                raise _wrong(name, ext, "text")
            raise _fail(
                MediaErrorKind.UNSUPPORTED,
                f"{name} is text of no kind syncline reads (subtitles, transcript JSON, "
                "sensor/events/metadata table); convert it or leave it out",
            )
        if expected is not None:
            what = DESCRIPTIONS[expected[0]][0]
            raise _fail(
                MediaErrorKind.UNDECODABLE,
                f"{name} is named {ext} but its bytes are not {what} or any known format; "
                "the file is corrupt: re-export or re-copy it",
            )
        raise _fail(
            MediaErrorKind.UNSUPPORTED,
            f"{name}: unrecognised binary content; convert it to a format syncline reads",
        )
    if expected is not None and found[1] not in expected:
        if not (found[1] in _TEXT_FORMATS and ext in (".json", ".jsonl") and found[1] in (
            "json", "jsonl"
        )):
            raise _wrong(name, ext, found[1])
    return found


def _wrong(name: str, ext: str, fmt: str) -> MediaError:
    what, canonical = DESCRIPTIONS.get(fmt, (fmt, "." + fmt))
    return _fail(
        MediaErrorKind.WRONG_EXTENSION,
        f"{name} is named {ext} but the content is {what}; rename it to {canonical} and re-ingest",
    )

