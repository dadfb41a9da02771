"""The per-file work that runs in worker processes: probe, then write the managed copy.

Returns plain dicts (cheap to pickle). A managed copy lands at
``media/<sha[:2]>/<sha><ext>`` through a temp file and ``os.replace``; its sidecar
``<sha><ext>.json`` (what scrubbing removed, the copy's own hash) is renamed into place first,
so a copy that exists always has its sidecar and a killed run never leaves a half file.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from syncline.ids import sha256_file
from syncline.media.probe import probe
from syncline.media.scrub import scrub
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo


def managed_relpath(sha256: str, suffix: str) -> str:
    return f"{sha256[:2]}/{sha256}{suffix}"


def _suffix(path: Path, info: MediaInfo) -> str:
    return path.suffix.lower() if path.suffix else f".{info.format.lower()}"


def _blur(tmp: Path, info: MediaInfo, suffix: str) -> list[str]:
    """Blur faces in the scrubbed copy in place (``govern.privacy``); what was done, for the sidecar.
    ``suffix`` is the managed copy's extension (the temp file's own is ``.tmp``)."""
    from syncline.govern.privacy import blur_image, blur_video

    out = tmp.with_name(tmp.name + ".blur" + suffix)
    try:
        if str(info.modality) == "image":
            res = blur_image(tmp, out)
        elif str(info.modality) == "video":
            res = blur_video(tmp, out)
        else:
            return []
        os.replace(out, tmp)
    finally:
        out.unlink(missing_ok=True)
    return [f"faces:{res.faces} in {res.frames_with_faces}/{res.frames} frame(s)"]


def _write_managed(src: Path, info: MediaInfo, media_dir: Path, sha: str, strip: bool,
                   blur: bool = False) -> dict[str, Any]:
    rel = managed_relpath(sha, _suffix(src, info))
    dest = media_dir / rel
    sidecar = dest.with_name(dest.name + ".json")
    if dest.exists() and sidecar.exists():
        meta: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
        return meta
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        if strip:
            stripped = list(scrub(src, info, tmp).stripped)
        else:
            shutil.copyfile(src, tmp)
            stripped = []
        if blur:
            stripped += _blur(tmp, info, dest.suffix)
        meta = {"managed_path": rel, "managed_sha256": sha256_file(tmp), "stripped": stripped}
        side_tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
        side_tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(side_tmp, sidecar)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return meta


def _embeddings(path: Path, modality: str) -> dict[str, Any]:
    """The built-in representation of a file kept as embeddings only (``represent.builtin``)."""
    from syncline.represent.builtin import features_for

    f = features_for(path, modality)
    return {"representation": f.representation.row(), "t0_ns": f.t0_ns, "t1_ns": f.t1_ns,
            "vectors": f.vectors.tolist()}


def process_file(path_str: str, sha: str, media_dir_str: str | None, strip: bool,
                 blur: bool = False, embeddings_only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Probe one file and (optionally) write its scrubbed managed copy — or, for a modality kept
    as embeddings only, compute its built-in representation and keep no copy. Never raises."""
    path = Path(path_str)
    try:
        info = probe(path)
        out: dict[str, Any] = {"ok": True, "info": asdict(info)}
        out["info"]["modality"] = str(info.modality)
        if str(info.modality) in embeddings_only:
            out["embeddings"] = _embeddings(path, str(info.modality))
        elif media_dir_str is not None:
            out.update(_write_managed(path, info, Path(media_dir_str), sha, strip, blur))
        return out
    except MediaError as e:
        return {"ok": False, "kind": str(e.kind), "reason": e.reason}
    except OSError as e:
        return {"ok": False, "kind": str(MediaErrorKind.UNREADABLE),
                "reason": f"cannot read: {e.strerror or e}; check the file and its permissions"}
    except Exception as e:  # a reader bug must not stop the run; say so plainly
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return {"ok": False, "kind": str(MediaErrorKind.UNDECODABLE),
                "reason": f"could not be read ({type(e).__name__}: {first[:160]}); check the file or report a bug"}
