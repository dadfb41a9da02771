"""Split leakage: the same entity, the same person or the same picture on both sides of a split.

For every split set in the catalog (``syncline split``): an entity whose targets sit in two
splits, a subject (a person) who appears in two splits, and near-duplicate images across splits, compared by a
64-bit difference hash (dHash: a 9×8 grey thumbnail, one bit per horizontal gradient sign),
which survives re-encoding, resizing and mild edits; two files within 10 of 64 bits are the same
picture (the usual dHash threshold: a re-shared, resized, brightened, re-compressed copy lands
at ~5, different scenes from the same barn camera at 14 or more). An image belongs to the splits
of its own targets, and to those of its entity's targets: a model trained on the entity sees its
photos. Any of these lets a model be graded on what it memorised. (Video is not compared: one
frame of a fixed camera looks like the next pen's; video near-duplicates need a comparison over
time, left for the representation index.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from syncline.align.tuples import asset_path
from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.catalog import query as Q
from syncline.media.types import MediaError
from syncline.project import Project

NEAR_BITS = 10


def dhash(gray: np.ndarray) -> int:
    """64-bit difference hash of a grey image (any size)."""
    small = np.asarray(Image.fromarray(np.asarray(gray, np.uint8)).resize((9, 8), Image.Resampling.LANCZOS), np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def _picture(project: Project, asset: dict[str, Any]) -> np.ndarray:
    path = asset_path(project, asset)
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def split_leakage(project: Project) -> CheckResult:
    with project.catalog().connect() as con:
        sets = [str(s) for (s,) in con.sql("SELECT DISTINCT split_set FROM splits ORDER BY 1").fetchall()]
        members = {s: Q.split_members(con, s) for s in sets}
        media = {a["asset_id"]: a for a in Q.audit_assets(con, ["image"])}
    if not sets:
        raise CannotRun("no split in the catalog: run `syncline split FIELD` (or import your own with --from)")
    result = CheckResult("split", ran=True)
    hashes: dict[str, int] = {}
    for name in sets:
        rows = members[name]
        result.findings += _shared(name, rows, "entity_id", "entity")
        result.findings += _shared(name, rows, "subject_ids", "subject")
        result.findings += _near_duplicates(project, name, rows, media, hashes, result)
        result.summary[name] = {"targets": len(rows), "by_split": {s: sum(1 for r in rows if r["split"] == s)
                                                                   for s in ("train", "validation", "test")}}
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


def _near_duplicates(project: Project, name: str, rows: list[dict[str, Any]], media: dict[str, dict[str, Any]],
                     hashes: dict[str, int], result: CheckResult) -> list[Finding]:
    split_of: dict[str, set[str]] = {}
    by_entity: dict[str, set[str]] = {}
    for r in rows:
        by_entity.setdefault(str(r["entity_id"]), set()).add(r["split"])
        for a in r["asset_ids"] or []:
            if a in media:
                split_of.setdefault(a, set()).add(r["split"])
    for a, m in media.items():
        if str(m["entity_id"]) in by_entity:
            split_of.setdefault(a, set()).update(by_entity[str(m["entity_id"])])
    for a in sorted(split_of):
        if a not in hashes:
            try:
                hashes[a] = dhash(_picture(project, media[a]))
            except (MediaError, OSError, ValueError) as e:
                result.errors.append(f"{Path(str(media[a]['source_path'])).name}: {str(e).splitlines()[0]}")
    ids = [a for a in sorted(split_of) if a in hashes]
    h = np.array([hashes[a] for a in ids], np.uint64)
    out = []
    for i in range(len(ids)):  # one row of the Hamming matrix at a time: memory stays linear
        bits_row = np.unpackbits((h[i] ^ h[i + 1:]).view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
        for j in np.flatnonzero(bits_row <= NEAR_BITS) + i + 1:
            a, b, bits = ids[i], ids[int(j)], int(bits_row[int(j) - i - 1])
            if split_of[a] == split_of[b] or media[a]["entity_id"] == media[b]["entity_id"]:
                continue
            na, nb = (Path(str(media[x]["source_path"])).name for x in (a, b))
            out.append(Finding("split.near_duplicate", "error",
                               f"split {name}: {na} ({'/'.join(sorted(split_of[a]))}) and {nb} "
                               f"({'/'.join(sorted(split_of[b]))}) are the same picture ({bits} of 64 bits differ)",
                               "drop one copy or put both in the same split", "split", name,
                               details={"assets": [a, b], "bits": bits}, asset_ids=(a, b)))
    return out
