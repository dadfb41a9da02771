"""Label files by format: what ``syncline labels import|export`` reads and writes.

``jsonl`` is syncline's own (one label object per line); ``label-studio``, ``coco``, ``srt``
and ``vtt`` go through their converters. The format is named, or guessed from the extension
(``.jsonl``, ``.srt``, ``.vtt``; a ``.json`` file is COCO when it is an object with ``images``
and Label Studio when it is a list of tasks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncline.annotate.interop.common import Imported, by_name, media, resolve
from syncline.project import Project

FORMATS = ("jsonl", "label-studio", "coco", "srt", "vtt")


@dataclass(frozen=True)
class SpanOptions:
    """What a subtitle file does not say: which field, who, what it labels, on which media."""

    field: str | None = None
    annotator: str | None = None
    target: str | None = None      # import: the label target (an entity ID for entity-level spans)
    entity: str | None = None      # export: the entity whose spans to write
    asset: str | None = None       # the media whose player time the cues count in (ID or file name)


def guess_format(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ValueError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
        return fmt
    ext = path.suffix.lower()
    if ext in (".jsonl", ".srt", ".vtt"):
        return ext[1:]
    if ext == ".json":
        data = _json(path)
        return "coco" if isinstance(data, dict) and "images" in data else "label-studio"
    raise ValueError(f"{path}: cannot tell the format from {ext or 'no extension'!r}; pass --format "
                     f"({', '.join(FORMATS)})")


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e.msg} at line {e.lineno} column {e.colno})") from None


def import_file(project: Project, path: Path, fmt: str | None = None, *, annotator_map: dict[str, str] | None = None,
                spans: SpanOptions = SpanOptions()) -> Imported:
    """Labels from ``path``; every record converted and checked, the valid ones in one commit."""
    from syncline.annotate.labels import import_jsonl

    fmt = guess_format(path, fmt)
    if fmt == "jsonl":
        res = import_jsonl(project, path)
        return Imported(res.written, [(f"line {r.index + 1}", r.reason) for r in res.refused])
    if fmt == "label-studio":
        from syncline.annotate.interop.labelstudio import import_label_studio

        return import_label_studio(project, _json(path), annotator_map=annotator_map)
    if fmt == "coco":
        from syncline.annotate.interop.coco import import_coco

        return import_coco(project, _json(path), annotator=spans.annotator)
    from syncline.annotate.interop.subtitles import import_subtitles

    missing = [k for k in ("field", "annotator", "target") if not getattr(spans, k)]
    if missing:
        raise ValueError(f"a {fmt} file names no {', '.join(missing)}; pass --{' --'.join(missing)}")
    assert spans.field and spans.annotator and spans.target
    return import_subtitles(project, path.read_text(encoding="utf-8-sig"), fmt=fmt, field=spans.field,
                            annotator=spans.annotator, target_id=spans.target,
                            asset_id=_asset(project, spans.asset), name=path.name)


def export_file(project: Project, path: Path, fmt: str | None = None, *, fields: list[str] | None = None,
                kind: str | None = None, spans: SpanOptions = SpanOptions()) -> tuple[int, list[str]]:
    """Write the current labels to ``path`` (written whole, then renamed: never half a file);
    returns how many records it holds and the labels the format could not carry, each with why.
    ``kind`` (perception | judgment) exports one kind only: what is there apart from what to do."""
    fmt = guess_format(path, fmt) if fmt or path.suffix.lower() != ".json" else "label-studio"
    from syncline.annotate.interop.common import schema_of

    if fields:
        known = schema_of(project).fields
        unknown = [f for f in fields if f not in known]
        if unknown:
            raise ValueError(f"--field {', '.join(map(repr, unknown))}: no such field in the schema; "
                             f"fields: {', '.join(known)}")
    if kind is not None:
        if kind not in ("perception", "judgment"):
            raise ValueError(f"--kind {kind!r}: choose perception or judgment")
        fields = [n for n, f in schema_of(project).fields.items() if f.kind == kind and (not fields or n in fields)]
        if not fields:
            raise ValueError(f"no {kind} field{' among ' + ', '.join(fields or []) if fields else ''} in the schema")
    skipped: list[str] = []
    text, n = _render(project, fmt, fields, spans, skipped)
    tmp = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return n, skipped


def _render(project: Project, fmt: str, fields: list[str] | None, spans: SpanOptions,
            skipped: list[str]) -> tuple[str, int]:
    if fmt == "jsonl":
        from syncline.annotate.interop.common import export_rows

        rows = export_rows(project, fields)
        keep = ("field", "kind", "target_id", "annotator", "value", "instance", "confidence", "guideline_version")
        lines = [json.dumps({k: r[k] for k in keep if r[k] is not None}, sort_keys=True) for r in rows]
        return "".join(line + "\n" for line in lines), len(lines)
    if fmt == "label-studio":
        from syncline.annotate.interop.labelstudio import export_label_studio

        tasks = export_label_studio(project, fields, skipped)
        return json.dumps(tasks, indent=1), len(tasks)
    if fmt == "coco":
        from syncline.annotate.interop.coco import export_coco

        if not fields:
            raise ValueError("a COCO export needs --field (the box or polygon fields to write)")
        coco = export_coco(project, fields)
        skipped += [str(s) for s in coco.get("info", {}).get("syncline_skipped", [])]
        return json.dumps(coco, indent=1), len(coco["annotations"])
    from syncline.annotate.interop.subtitles import export_subtitles

    missing = [k for k in ("annotator", "entity") if not getattr(spans, k)]
    if not fields or len(fields) != 1 or missing:
        raise ValueError(f"a {fmt} export is one field, one annotator and one entity: pass --field, --annotator and "
                         "--entity (and --asset for the media's own time)")
    assert spans.annotator and spans.entity
    text = export_subtitles(project, fields[0], entity_id=spans.entity, annotator=spans.annotator, fmt=fmt,
                            asset_id=_asset(project, spans.asset))
    return text, text.count(" --> ")


def _asset(project: Project, ref: str | None) -> str | None:
    if not ref:
        return None
    items = media(project)
    return resolve(ref, items, by_name(items)).asset_id
