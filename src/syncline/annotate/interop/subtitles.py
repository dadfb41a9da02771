"""WebVTT and SRT for time-span fields, in and out: one cue per span.

Why subtitles: every video and audio player shows them, so a reviewer can watch an
annotator's spans run over the recording, and timing tools (subtitle editors, ELAN, Aegisub)
give back spans a person adjusted by ear or eye.

A cue is one label of one annotator on one entity: its text is the span's class (a field with
classes) or the field's name (a field without). A WebVTT cue identifier is the label's
``instance``; SRT has only sequence numbers, so instances come back as ``cue-<n>``.

Time base. Cues count from 0 in the time of one file — the *player time* of an asset — when an
asset is named: times convert through its clock (``interop.common``), so a cue at 1.0 s in a
microphone file whose clock runs 2.5 s late is the span at 3.5 s on the entity timeline, and
back. Without an asset, cue times are entity-timeline times.

Resolution. Both formats count milliseconds: export rounds every time to the nearest
millisecond (a span shorter than 0.5 ms collapses and comes back refused), so round trips are
exact for millisecond-aligned spans.

Import is strict: a cue whose timing is malformed, that ends at or before it starts, that falls
outside the asset, or whose text is not a class of the field, is refused naming ``cue <n>`` (its
1-based position) and its line; the rest is written in one commit. ``media.transcript`` reads
subtitles as transcripts, but it fails a whole file on one bad cue and drops cue identifiers,
which here are label instances — hence this small parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from syncline.annotate.interop.common import Imported, Media, export_rows, media, schema_of, write_converted
from syncline.annotate.schema import FieldSpec, LabelSchema
from syncline.project import Project

FORMATS = ("srt", "vtt")
MS = 1_000_000
_STAMP = re.compile(r"^(?:(\d+):)?(\d{2}):(\d{2})[.,](\d{3})$")
_TIMING = re.compile(r"^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t].*)?$")


@dataclass(frozen=True)
class Cue:
    """A cue as written in the file, before its times and text are checked."""

    n: int  # 1-based position among the file's cues
    line: int  # line number of its first line
    ident: str | None  # WebVTT cue identifier (SRT sequence numbers are not kept)
    timing: str  # the "start --> end" line, or "" when the block has none
    text: str

    @property
    def where(self) -> str:
        return f"cue {self.n} (line {self.line})"


# --- export ------------------------------------------------------------------------------------


def export_subtitles(project: Project, field: str, *, entity_id: str, annotator: str, fmt: str,
                     asset_id: str | None = None) -> str:
    """The spans ``annotator`` drew for ``field`` on ``entity_id`` as an SRT or WebVTT file,
    timed in ``asset_id``'s player time when given, else on the entity timeline."""
    _check_format(fmt)
    spec = _span_field(schema_of(project), field)
    asset = _asset(project, asset_id, entity_id)
    rows = [r for r in export_rows(project, [field]) if r["annotator"] == annotator and r["entity_id"] == entity_id]
    cues = sorted(((*_cue_times(r, asset), _cue_text(r, spec, field), r["instance"]) for r in rows),
                  key=lambda c: (c[0], c[1], c[2], c[3] or ""))
    blocks = [_block(n, t0, t1, text, inst, fmt) for n, (t0, t1, text, inst) in enumerate(cues, 1)]
    head = ["WEBVTT\n"] if fmt == "vtt" else []
    return "\n".join(head + blocks)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"subtitle format {fmt!r}: choose srt or vtt")


def _span_field(schema: LabelSchema, field: str) -> FieldSpec:
    spec = schema.fields.get(field)
    if spec is None:
        raise ValueError(f"unknown field {field!r}; fields: {', '.join(schema.fields)}")
    if spec.type != "time_span":
        raise ValueError(f"field {field!r} is a {spec.type} field; subtitles carry time_span fields only")
    return spec


def _asset(project: Project, asset_id: str | None, entity_id: str | None) -> Media | None:
    if asset_id is None:
        return None
    m = media(project).get(asset_id)
    if m is None:
        raise ValueError(f"asset {asset_id!r} is not in the catalog")
    if entity_id is not None and m.entity_id != entity_id:
        raise ValueError(f"asset {m.name} ({asset_id}) belongs to entity {m.entity_id!r}, not {entity_id!r}; "
                         "its player time does not count for this entity")
    return m


def _cue_times(row: dict[str, Any], asset: Media | None) -> tuple[int, int]:
    t0, t1 = int(row["value"][0]), int(row["value"][1])
    if asset is None:
        if t0 < 0:
            raise ValueError(f"span [{t0}, {t1}] ns (instance {row['instance']!r}) starts before 0 on the entity "
                             "timeline, and cue times cannot be negative; export in an asset's player time")
        return t0, t1
    p0, p1 = asset.to_player(t0), asset.to_player(t1)
    if not (asset.fits(p0) and asset.fits(p1)):
        raise ValueError(f"span [{t0}, {t1}] ns (instance {row['instance']!r}) lies outside {asset.name}, at "
                         f"[{p0}, {p1}] ns of its player time; export on the entity timeline (no asset) or name "
                         "the asset it was drawn on")
    return p0, p1


def _cue_text(row: dict[str, Any], spec: FieldSpec, field: str) -> str:
    return str(row["value"][2]) if spec.values else field


def _block(n: int, t0: int, t1: int, text: str, instance: str | None, fmt: str) -> str:
    if fmt == "srt":
        return f"{n}\n{_stamp(t0, ',')} --> {_stamp(t1, ',')}\n{text}\n"
    if instance is not None and ("-->" in instance or "\n" in instance or not instance.strip()):
        raise ValueError(f"instance {instance!r} cannot be a WebVTT cue identifier (blank, a line break or '-->')")
    ident = f"{instance}\n" if instance is not None else ""
    return f"{ident}{_stamp(t0, '.')} --> {_stamp(t1, '.')}\n{text}\n"


def _stamp(ns: int, sep: str) -> str:
    ms = (ns + MS // 2) // MS
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


# --- import ------------------------------------------------------------------------------------


def import_subtitles(project: Project, text: str, *, fmt: str, field: str, annotator: str, target_id: str,
                     asset_id: str | None = None, name: str = "<file>") -> Imported:
    """Labels of ``field`` by ``annotator`` on ``target_id`` from an SRT or WebVTT file, one per
    cue; cue times count in ``asset_id``'s player time when given, else on the entity timeline."""
    _check_format(fmt)
    schema = schema_of(project)
    spec = _span_field(schema, field)
    asset = _asset(project, asset_id, target_id if spec.granularity in ("entity", "sequence") else None)
    cues = parse_cues(text, fmt=fmt, name=name)
    items: list[tuple[str, dict[str, Any]]] = []
    bad: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for cue in cues:
        try:
            value = _span(cue, asset) + _cls(cue, spec, field)
            instance = _instance(cue, seen)
        except ValueError as e:
            bad.append((cue.where, str(e)))
            continue
        items.append((cue.where, {"field": field, "target_id": target_id, "annotator": annotator,
                                  "value": value, "instance": instance}))
    return write_converted(project, items, bad, schema)


def parse_cues(text: str, *, fmt: str, name: str = "<file>") -> list[Cue]:
    """The cues of an SRT or WebVTT file as written; ValueError only when the file as a whole is
    not of the format (a WebVTT file must start with ``WEBVTT``)."""
    _check_format(fmt)
    blocks = _blocks(text.lstrip("\ufeff"))
    if fmt == "vtt":
        if not blocks or not re.match(r"WEBVTT($|[ \t])", blocks[0][1][0]):
            raise ValueError(f"{name}: not a WebVTT file (line 1 must be 'WEBVTT')")
        blocks = [b for b in blocks[1:] if not re.match(r"(NOTE|STYLE|REGION)($|[ \t])", b[1][0])]
    return [_cue(n, line, lines, fmt) for n, (line, lines) in enumerate(blocks, 1)]


def _blocks(text: str) -> list[tuple[int, list[str]]]:
    """Blank-line separated blocks as (first line number, lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for i, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), 1):
        line = raw.rstrip()
        if line.strip() and not current:
            current = [line]
            blocks.append((i, current))
        elif line.strip():
            current.append(line)
        else:
            current = []
    return blocks


def _cue(n: int, line: int, lines: list[str], fmt: str) -> Cue:
    if "-->" in lines[0]:
        return Cue(n, line, None, lines[0], "\n".join(lines[1:]))
    if len(lines) < 2 or "-->" not in lines[1]:
        return Cue(n, line, None, "", "\n".join(lines))
    ident = lines[0].strip() if fmt == "vtt" else None
    return Cue(n, line, ident, lines[1], "\n".join(lines[2:]))


def _span(cue: Cue, asset: Media | None) -> list[Any]:
    if not cue.timing:
        raise ValueError("has no 'start --> end' timing line")
    m = _TIMING.match(cue.timing.strip())
    if m is None:
        raise ValueError(f"bad timing {cue.timing.strip()[:60]!r}; write hh:mm:ss.mmm --> hh:mm:ss.mmm")
    t0, t1 = _ns(m.group(1)), _ns(m.group(2))
    if t1 <= t0:
        raise ValueError(f"ends at or before it starts ({cue.timing.strip()[:60]!r})")
    if asset is None:
        return [t0, t1]
    if not (asset.fits(t0) and asset.fits(t1)):
        end = "?" if asset.duration_ns is None else f"{asset.duration_ns / 1e9:.3f}"
        raise ValueError(f"[{t0 / 1e9:.3f}, {t1 / 1e9:.3f}] s is outside {asset.name} (0 to {end} s)")
    return [asset.to_entity(t0), asset.to_entity(t1)]


def _ns(stamp: str) -> int:
    m = _STAMP.match(stamp)
    if m is None or int(m.group(2)) > 59 or int(m.group(3)) > 59:
        raise ValueError(f"bad timestamp {stamp[:30]!r}; write hh:mm:ss.mmm (minutes and seconds under 60)")
    h, mi, s, ms = (int(g or 0) for g in m.groups())
    return ((h * 60 + mi) * 60 + s) * 1_000_000_000 + ms * MS


def _cls(cue: Cue, spec: FieldSpec, field: str) -> list[Any]:
    text = cue.text.strip()
    if spec.values:
        if text not in spec.values:
            raise ValueError(f"text {text!r} is not a class of {field!r}; classes: {', '.join(spec.values)}")
        return [text]
    if text not in ("", field):
        raise ValueError(f"text {text!r}: field {field!r} has no classes, so a cue's text is empty or {field!r}")
    return []


def _instance(cue: Cue, seen: dict[str, str]) -> str:
    instance = cue.ident or f"cue-{cue.n}"
    if instance in seen:
        raise ValueError(f"identifier {instance!r} is also {seen[instance]}; identifiers name instances and must "
                         "be unique")
    seen[instance] = cue.where
    return instance
