"""Split leakage: the same entity, the same person or the same picture on both sides of a split.

For every split set in the catalog (``syncline split``): an entity whose targets sit in two
splits, a subject (a person) who appears in two splits, and near-duplicate images and videos
from different entities across splits. Images are compared by a 64-bit difference hash (dHash:
a 9×8 grey thumbnail, one bit per horizontal gradient sign), which survives re-encoding,
resizing and mild edits; two files within 10 of 64 bits are candidates (the usual dHash
threshold: a re-shared, resized, brightened, re-compressed copy lands at 1–5, different scenes
from the same barn camera mostly at 14 or more — but two shots of the same pen can land at 10).
A candidate is the same picture when its 32×32 grey thumbnails, each brought to zero mean and
unit variance (so brightness and contrast edits drop out), correlate at 0.95 or more: the
demo worlds' re-shared copies give 1.00, different shots of one barn at most 0.90. Videos are
compared over time (``video_duplicates``:
when things change, not one frame — one frame of a fixed camera looks like the next pen's).

A file is in the splits of the targets that name it; a file no target names (a photo of an
entity whose segments are labelled) is in its entity's splits — a model trained on the entity
sees it. A pair is reported when the two files are in more than one split between them. Any of
these lets a model be graded on what it memorised.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from syncline.align.tuples import asset_path
from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.catalog import query as Q
from syncline.media.types import MediaError
from syncline.project import Project

NEAR_BITS = 10
SAME_PICTURE = 0.95  # correlation of the standardised 32×32 thumbnails that confirms a candidate
THUMB = 32


def dhash(gray: np.ndarray) -> int:
    """64-bit difference hash of a grey image (any size)."""
    small = np.asarray(Image.fromarray(np.asarray(gray, np.uint8)).resize((9, 8), Image.Resampling.LANCZOS), np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def _picture(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def _fingerprint(path: Path) -> tuple[int, np.ndarray]:
    """A picture's dHash and its standardised grey thumbnail (zero mean, unit variance)."""
    gray = _picture(path)
    thumb = np.asarray(Image.fromarray(gray).resize((THUMB, THUMB), Image.Resampling.LANCZOS), np.float64)
    return dhash(gray), (thumb - thumb.mean()) / max(float(thumb.std()), 1e-9)


def split_leakage(project: Project) -> CheckResult:
    with project.catalog().connect() as con:
        sets = [str(s) for (s,) in con.sql("SELECT DISTINCT split_set FROM splits ORDER BY 1").fetchall()]
        members = {s: Q.split_members(con, s) for s in sets}
        media = {a["asset_id"]: a for a in Q.audit_assets(con, ["image"])}
        videos = {a["asset_id"]: a for a in Q.audit_assets(con, ["video"])}
    if not sets:
        raise CannotRun("no split in the catalog: run `syncline split FIELD` (or import your own with --from)")
    result = CheckResult("split", ran=True)
    hashes: dict[str, Any] = {}
    sigs: dict[str, Any] = {}
    for name in sets:
        rows = members[name]
        result.findings += _shared(name, rows, "entity_id", "entity")
        result.findings += _shared(name, rows, "subject_ids", "subject")
        result.findings += _near_duplicates(project, name, rows, media, hashes, result)
        result.findings += _near_duplicate_videos(project, name, rows, videos, sigs, result)
        by_split = {s: sum(1 for r in rows if r["split"] == s) for s in ("train", "validation", "test")}
        result.summary.setdefault(name, {}).update({"targets": len(rows), "by_split": by_split})
    return result


def _shared(name: str, rows: list[dict[str, Any]], column: str, noun: str) -> list[Finding]:
    where: dict[str, set[str]] = {}
    for r in rows:
        keys = r[column] if isinstance(r[column], list) else [r[column]] if r[column] else []
        for k in keys:
            where.setdefault(str(k), set()).add(r["split"])
    return [Finding(f"split.{noun}", "error", f"split {name}: {noun} {k} is in {' and '.join(sorted(s))}",
                    f"keep every {noun} in one split (syncline split --by {noun if noun == 'subject' else 'entity'})",
                    "split", name, details={noun: k, "splits": sorted(s)})
            for k, s in sorted(where.items()) if len(s) > 1]


def _membership(rows: list[dict[str, Any]], media: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """The splits each file of ``media`` is in: those of the targets it belongs to, else (a file no
    target names) those of its entity's targets."""
    split_of: dict[str, set[str]] = {}
    by_entity: dict[str, set[str]] = {}
    for r in rows:
        by_entity.setdefault(str(r["entity_id"]), set()).add(r["split"])
        for a in r["asset_ids"] or []:
            if a in media:
                split_of.setdefault(a, set()).add(r["split"])
    for a, m in media.items():  # a file no target names belongs to its entity's splits
        if a not in split_of and str(m["entity_id"]) in by_entity:
            split_of[a] = set(by_entity[str(m["entity_id"])])
    return split_of


def _compute(project: Project, ids: list[str], media: dict[str, dict[str, Any]], cache: dict[str, Any],
             make: Callable[[Path], Any], result: CheckResult) -> None:
    for a in ids:
        if a not in cache:
            try:
                cache[a] = make(asset_path(project, media[a]))
            except (MediaError, OSError, ValueError, av.error.FFmpegError) as e:
                cache[a] = None
                result.errors.append(f"{Path(str(media[a]['source_path'])).name}: {str(e).splitlines()[0]}")


def _finding(name: str, a: str, b: str, media: dict[str, dict[str, Any]], split_of: dict[str, set[str]],
             what: str, details: dict[str, Any]) -> Finding:
    na, nb = (Path(str(media[x]["source_path"])).name for x in (a, b))
    return Finding("split.near_duplicate", "error",
                   f"split {name}: {na} ({'/'.join(sorted(split_of[a]))}) and {nb} "
                   f"({'/'.join(sorted(split_of[b]))}) are {what}",
                   "drop one copy or put both in the same split", "split", name,
                   details={"assets": [a, b], **details}, asset_ids=(a, b))


def _apart(a: str, b: str, media: dict[str, dict[str, Any]], split_of: dict[str, set[str]]) -> bool:
    return len(split_of[a] | split_of[b]) > 1 and media[a]["entity_id"] != media[b]["entity_id"]


def _near_duplicates(project: Project, name: str, rows: list[dict[str, Any]], media: dict[str, dict[str, Any]],
                     hashes: dict[str, Any], result: CheckResult) -> list[Finding]:
    split_of = _membership(rows, media)
    _compute(project, sorted(split_of), media, hashes, _fingerprint, result)
    ids = [a for a in sorted(split_of) if hashes.get(a) is not None]
    h = np.array([hashes[a][0] for a in ids], np.uint64)
    out = []
    for i in range(len(ids)):  # one row of the Hamming matrix at a time: memory stays linear
        bits_row = np.unpackbits((h[i] ^ h[i + 1:]).view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        for j in np.flatnonzero(bits_row <= NEAR_BITS) + i + 1:
            a, b, bits = ids[i], ids[int(j)], int(bits_row[int(j) - i - 1])
            corr = float(np.mean(hashes[a][1] * hashes[b][1]))
            if corr >= SAME_PICTURE and _apart(a, b, media, split_of):
                out.append(_finding(name, a, b, media, split_of,
                                    f"the same picture ({bits} of 64 bits differ, thumbnails correlate {corr:.2f})",
                                    {"bits": bits, "correlation": round(corr, 4), "modality": "image"}))
    return out


def _near_duplicate_videos(project: Project, name: str, rows: list[dict[str, Any]],
                           videos: dict[str, dict[str, Any]], sigs: dict[str, Any],
                           result: CheckResult) -> list[Finding]:
    from syncline.audit.video_duplicates import match, signature

    split_of = _membership(rows, videos)
    _compute(project, sorted(split_of), videos, sigs, signature, result)
    ids = [a for a in sorted(split_of) if sigs.get(a) is not None]
    result.summary.setdefault(name, {})["videos_without_motion"] = sorted(
        Path(str(videos[a]["source_path"])).name for a in ids if not sigs[a].moving)
    out = []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if not _apart(a, b, videos, split_of):
                continue
            m = match(sigs[a], sigs[b])
            if m is not None:
                out.append(_finding(name, a, b, videos, split_of,
                                    f"the same recording (motion timing r {m[0]:.2f}, picture r {m[1]:.2f}, "
                                    f"{m[2]:+.1f} s apart)",
                                    {"modality": "video", "profile_r": round(m[0], 3), "look_r": round(m[1], 3),
                                     "lag_s": m[2]}))
    return out
