"""Media-level perturbations for the red team: the files themselves degraded with ffmpeg, then
encoded by the same representation the pipeline reads, so the model sees what the field would
give it — not a stand-in in vector space.

Video: ``blur`` (Gaussian, sigma 6 px), ``dark`` (low light: brightness −0.3, contrast ×0.5),
``codec`` (H.264 at CRF 45). Audio — noise that masks: ``rain`` (brown noise), ``crowd`` (pink
noise); background sounds that should not matter: ``siren`` (a two-tone wail), ``dogs`` (barks
every 1.3 s), ``children`` (high-pitched speech from espeak-ng, looped); and ``codec`` (MP3 at
16 kbit/s). Each is mixed over the whole file; the perturbed copies live in a temporary folder and
are deleted with it. The result is a table in ``Q.asset_windows``'s layout, so it goes through
each file's clock exactly like the stored windows (``represent.search.windows_of``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

VIDEO = {"blur": ["-vf", "gblur=sigma=6"], "dark": ["-vf", "eq=brightness=-0.3:contrast=0.5"],
         "codec": ["-c:v", "libx264", "-crf", "45", "-preset", "veryfast"]}
AUDIO_MIX = {"rain": "anoisesrc=color=brown:amplitude=0.25:sample_rate={sr}",
             "crowd": "anoisesrc=color=pink:amplitude=0.2:sample_rate={sr}",
             "siren": "aevalsrc='0.3*sin(2*PI*(700+250*sin(2*PI*0.4*t))*t)':s={sr}",
             "dogs": "aevalsrc='0.5*sin(2*PI*450*t)*sin(2*PI*900*t)*lt(mod(t,1.3),0.18)*exp(-12*mod(t,1.3))':s={sr}"}
AUDIO = (*AUDIO_MIX, "children", "codec")


def names(modality: str) -> tuple[str, ...]:
    return tuple(VIDEO) if modality == "video" else AUDIO if modality == "audio" else ()


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ValueError(f"cannot make the {what} copy: ffmpeg says {last}")


def perturb_file(src: Path, modality: str, name: str, out_dir: Path, sample_rate: int | None = None) -> Path:
    """A degraded copy of ``src`` in ``out_dir``."""
    ff = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
    if modality == "video":
        out = out_dir / f"{src.stem}.{name}.mp4"
        _run([*ff, "-i", str(src), *VIDEO[name], "-an", str(out)], f"{name} video")
        return out
    sr = int(sample_rate or 16000)
    if name == "codec":
        out = out_dir / f"{src.stem}.codec.mp3"
        _run([*ff, "-i", str(src), "-vn", "-c:a", "libmp3lame", "-b:a", "16k", str(out)], "low-bitrate audio")
        return out
    out = out_dir / f"{src.stem}.{name}.wav"
    if name == "children":
        voice = out_dir / "children.wav"
        if not voice.exists():
            text = "look look the calf is up now can I feed it mummy come and see the little one"
            done = subprocess.run(["espeak-ng", "-v", "en+f5", "-p", "99", "-s", "190", "-w", str(voice), text],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise ValueError(f"cannot make the children's voices: espeak-ng says {done.stderr.strip()}")
        _run([*ff, "-i", str(src), "-stream_loop", "-1", "-i", str(voice), "-filter_complex",
              f"[1:a]aresample={sr},volume=0.6[n];[0:a][n]amix=inputs=2:duration=first:normalize=0",
              "-vn", "-ac", "1", str(out)], "children")
        return out
    _run([*ff, "-i", str(src), "-f", "lavfi", "-i", AUDIO_MIX[name].format(sr=sr), "-filter_complex",
          "[0:a][1:a]amix=inputs=2:duration=first:normalize=0", "-vn", "-ac", "1", str(out)], name)
    return out


def perturbed_windows(project: Any, representation_id: str, modality: str, name: str) -> tuple[pa.Table, list[str]]:
    """Every file of ``modality`` degraded by ``name`` and encoded by ``representation_id``: a
    table in ``Q.asset_windows``'s layout, and the files that could not be perturbed (they then
    lack the modality in the perturbed run, which the report says)."""
    from syncline.align.tuples import asset_path, has_media
    from syncline.catalog import query as Q
    from syncline.represent.embed import project_encoders

    if name not in names(modality):
        raise ValueError(f"no media perturbation {name!r} for {modality}; "
                         f"known: {', '.join(names(modality)) or 'none for this modality'}")
    enc = project_encoders(project, [representation_id])[representation_id]
    with project.catalog().connect() as con:
        assets = [a for a in Q.audit_assets(con, [modality]) if has_media(a)]
    cols: dict[str, list[Any]] = {k: [] for k in ("asset_id", "entity_id", "clock_offset_ns", "clock_drift_ppm",
                                                  "t0_ns", "t1_ns", "vector")}
    failed = []
    tmp = Path(tempfile.mkdtemp(prefix="syncline-redteam-"))
    try:
        for a in assets:
            try:
                src = asset_path(project, a)
                copy = perturb_file(src, modality, name, tmp, _sample_rate(src) if modality == "audio" else None)
                f = enc.encode(copy)
            except (ValueError, OSError) as e:
                failed.append(f"{Path(str(a['source_path'])).name}: {e}")
                continue
            vec = np.asarray(f.vectors, np.float32)
            n = len(vec)
            cols["asset_id"] += [a["asset_id"]] * n
            cols["entity_id"] += [a["entity_id"]] * n
            cols["clock_offset_ns"] += [a["clock_offset_ns"]] * n
            cols["clock_drift_ppm"] += [a["clock_drift_ppm"]] * n
            cols["t0_ns"] += list(f.t0_ns)
            cols["t1_ns"] += list(f.t1_ns)
            cols["vector"] += list(vec)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    types = {"asset_id": pa.string(), "entity_id": pa.string(), "clock_offset_ns": pa.int64(),
             "clock_drift_ppm": pa.float64(), "t0_ns": pa.int64(), "t1_ns": pa.int64(),
             "vector": pa.list_(pa.float32())}
    return pa.table({k: pa.array(v, types[k]) for k, v in cols.items()}), failed


def _sample_rate(path: Path) -> int | None:
    import av

    try:
        with av.open(str(path)) as c:
            return int(c.streams.audio[0].rate) if c.streams.audio else None
    except (av.error.FFmpegError, OSError):
        return None
