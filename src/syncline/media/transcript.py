"""Transcripts: SRT, WebVTT and JSON with word timings, read into ``Cue`` values.

JSON transcripts are Whisper-like: ``{"segments": [{"start", "end", "text", "speaker"?,
"words": [{"word" | "text", "start", "end", "probability"?}]}]}``, or ``{"words": [...]}``,
or a list of segments. Times are seconds. WebVTT voice tags (``<v Alice>``) give the speaker.
Any bad timestamp, a cue that ends before it starts, or a block that is not a cue raises
MALFORMED_SUBTITLES naming the line (or segment) to fix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncline.media.decoding import display_name
from syncline.media.detect import detect
from syncline.media.tables import read_text
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality
from syncline.timebase import ns_from_seconds

_TS = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}(?:\s+.*)?$")
_TAG = re.compile(r"<[^>]*>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>")


@dataclass(frozen=True)
class Word:
    t0_ns: int
    t1_ns: int
    text: str
    confidence: float | None = None


@dataclass(frozen=True)
class Cue:
    t0_ns: int
    t1_ns: int
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] = ()


def _bad(name: str, where: str, what: str) -> MediaError:
    return MediaError(
        MediaErrorKind.MALFORMED_SUBTITLES, f"{name} {where}: {what}; fix it and re-ingest"
    )


def _ts_ns(groups: tuple[str | None, ...]) -> int:
    h, m, s, frac = groups
    ms = int((frac or "0").ljust(3, "0"))
    return ((int(h or 0) * 60 + int(m or 0)) * 60 + int(s or 0)) * 1_000_000_000 + ms * 1_000_000


def _timing(line: str, name: str, lineno: int) -> tuple[int, int]:
    m = _TIMING.match(line)
    if m is None:
        raise _bad(name, f"line {lineno}", f"bad cue timing {line.strip()[:60]!r}")
    g = m.groups()
    if int(g[2]) > 59 or int(g[6]) > 59 or int(g[1]) > 59 or int(g[5]) > 59:
        raise _bad(name, f"line {lineno}", f"minutes/seconds over 59 in {line.strip()[:60]!r}")
    t0, t1 = _ts_ns(g[:4]), _ts_ns(g[4:])
    if t1 < t0:
        raise _bad(name, f"line {lineno}", f"cue ends before it starts ({line.strip()[:60]!r})")
    return t0, t1


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks as (first line number, lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 0
    for i, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.rstrip()
        if line.strip():
            if not current:
                start = i
            current.append(line)
        elif current:
            blocks.append((start, current))
            current = []
    if current:
        blocks.append((start, current))
    return blocks


def _clean(lines: list[str]) -> tuple[str, str | None]:
    joined = "\n".join(lines)
    voice = _VOICE.search(joined)
    return _TAG.sub("", joined).strip(), (voice.group(1).strip() if voice else None)


def parse_srt(text: str, name: str) -> list[Cue]:
    cues: list[Cue] = []
    for start, lines in _blocks(text):
        idx = 0
        if "-->" not in lines[0]:
            if not lines[0].strip().isdigit() or len(lines) < 2:
                raise _bad(name, f"line {start}", f"expected a cue number or timing, got {lines[0][:60]!r}")
            idx = 1
        t0, t1 = _timing(lines[idx], name, start + idx)
        body, speaker = _clean(lines[idx + 1 :])
        cues.append(Cue(t0, t1, body, speaker))
    return cues


def parse_vtt(text: str, name: str) -> list[Cue]:
    blocks = _blocks(text.lstrip("\ufeff"))
    if not blocks or not blocks[0][1][0].startswith("WEBVTT"):
        raise _bad(name, "line 1", "a WebVTT file must start with 'WEBVTT'")
    cues: list[Cue] = []
    for start, lines in blocks[1:]:
        head = lines[0]
        if head.startswith(("NOTE", "STYLE", "REGION")) and "-->" not in head:
            continue
        idx = 0 if "-->" in head else 1
        if idx >= len(lines) or "-->" not in lines[idx]:
            raise _bad(name, f"line {start}", f"expected a cue timing, got {head[:60]!r}")
        t0, t1 = _timing(lines[idx], name, start + idx)
        body, speaker = _clean(lines[idx + 1 :])
        cues.append(Cue(t0, t1, body, speaker))
    return cues


def _seconds(obj: dict[str, Any], key: str, name: str, where: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise _bad(name, where, f"'{key}' must be a number of seconds, got {value!r}")
    if value < 0:
        raise _bad(name, where, f"'{key}' is negative ({value})")
    return ns_from_seconds(seconds=float(value))


def _span(obj: Any, noun: str, name: str, where: str) -> tuple[int, int]:
    """(start, end) in ns of a JSON ``word`` or ``segment`` object, checked to be in order."""
    if not isinstance(obj, dict):
        raise _bad(name, where, f"a {noun} must be an object")
    t0, t1 = _seconds(obj, "start", name, where), _seconds(obj, "end", name, where)
    if t1 < t0:
        raise _bad(name, where, f"{noun} ends before it starts")
    return t0, t1


def _words(items: Any, name: str, where: str) -> tuple[Word, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise _bad(name, where, "'words' must be a list")
    out: list[Word] = []
    for j, w in enumerate(items):
        t0, t1 = _span(w, "word", name, f"{where} word {j}")
        conf = w.get("probability", w.get("confidence"))
        text = str(w.get("word", w.get("text", ""))).strip()
        out.append(Word(t0, t1, text, float(conf) if isinstance(conf, (int, float)) else None))
    return tuple(out)


def parse_json(text: str, name: str) -> list[Cue]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise _bad(name, f"line {getattr(exc, 'lineno', '?')}", "invalid JSON") from None
    if isinstance(doc, dict) and isinstance(doc.get("segments"), list):
        segments: list[Any] = doc["segments"]
    elif isinstance(doc, dict) and isinstance(doc.get("words"), list):
        words = _words(doc["words"], name, "top-level")
        if not words:
            return []
        return [
            Cue(
                words[0].t0_ns,
                max(w.t1_ns for w in words),
                " ".join(w.text for w in words),
                doc.get("speaker") if isinstance(doc.get("speaker"), str) else None,
                words,
            )
        ]
    elif isinstance(doc, list):
        segments = doc
    else:
        raise _bad(name, "top level", "expected 'segments' or 'words'")
    cues: list[Cue] = []
    for i, seg in enumerate(segments):
        where = f"segment {i}"
        t0, t1 = _span(seg, "segment", name, where)
        speaker = seg.get("speaker")
        cues.append(
            Cue(
                t0,
                t1,
                str(seg.get("text", "")).strip(),
                str(speaker) if speaker is not None else None,
                _words(seg.get("words"), name, where),
            )
        )
    return cues


def read_transcript(path: Path, fmt: str | None = None) -> list[Cue]:
    """All cues of a transcript, sorted by start time."""
    path = Path(path)
    name = display_name(path)
    if fmt is None:
        modality, fmt = detect(path)
        if modality is not Modality.TRANSCRIPT:
            raise MediaError(MediaErrorKind.UNSUPPORTED, f"{name} is {modality}, not a transcript")
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise _bad(name, f"byte {exc.start}", "not UTF-8 text") from None
    parsers = {"srt": parse_srt, "vtt": parse_vtt, "json": parse_json}
    if fmt not in parsers:
        raise MediaError(MediaErrorKind.UNSUPPORTED, f"{name}: transcript format {fmt!r} is not read")
    cues = parsers[fmt](text, name)
    return sorted(cues, key=lambda c: (c.t0_ns, c.t1_ns))


def probe_transcript(path: Path, fmt: str) -> MediaInfo:
    cues = read_transcript(path, fmt)
    if not cues:
        raise MediaError(
            MediaErrorKind.MALFORMED_SUBTITLES,
            f"{display_name(path)} holds no cues; export the transcript again",
        )
    n_words = sum(len(c.words) for c in cues)
    speakers = sorted({c.speaker for c in cues if c.speaker})
    if n_words == 0:
        n_text_words = sum(len(c.text.split()) for c in cues)
    else:
        n_text_words = n_words
    return MediaInfo(
        modality=Modality.TRANSCRIPT,
        format=fmt,
        duration_ns=max(c.t1_ns for c in cues),
        start_ns=cues[0].t0_ns,
        n_items=len(cues),
        details={
            "n_words": n_text_words,
            "has_word_timings": n_words > 0,
            "speakers": speakers,
        },
    )
