"""One entity on one timeline: what the web app's timeline page draws.

Every row the catalog holds about the entity — its files with their clocks, segments, events,
transcript words, labels with their grades, the latest predictions, audit findings — in entity
time (ns), plus what each file's clock was before alignment corrected it (``raw_offset_ns``),
so that the page can toggle between raw and corrected time and show the offset. Waveforms and
sensor plots are summaries sized for a screen (min/max per pixel column), computed from one
decode; media itself is served by ID, never by path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from syncline.catalog import views as V
from syncline.media.types import MediaError
from syncline.project import Project

MAX_BINS = 4000


class NotFound(LookupError):
    """No such entity or asset."""


def entity_timeline(project: Project, entity_id: str) -> dict[str, Any]:
    with project.catalog().connect(tables=V.TIMELINE) as con:
        assets = V.entity_assets(con, entity_id)
        if not assets and not V.entity_exists(con, entity_id):
            raise NotFound(f"no entity {entity_id!r}")
        out: dict[str, Any] = {
            "entity_id": entity_id, "assets": assets, "segments": V.entity_segments(con, entity_id),
            "events": V.entity_events(con, entity_id), "words": V.entity_words(con, entity_id),
            "labels": V.entity_labels(con, entity_id), "predictions": V.entity_predictions(con, entity_id),
            "findings": V.entity_findings(con, entity_id),
        }
    ends = [a["offset_ns"] + (a["duration_ns"] or 0) for a in assets] + [s["t1_ns"] for s in out["segments"]]
    starts = [min(a["offset_ns"], a["raw_offset_ns"]) for a in assets] + [s["t0_ns"] for s in out["segments"]]
    out["t0_ns"] = int(min(starts, default=0))
    out["t1_ns"] = int(max(ends, default=0))
    return out


def media_file(project: Project, asset_id: str) -> tuple[Path, dict[str, Any]]:
    """The file behind an asset ID (the managed, scrubbed copy when there is one)."""
    from syncline.align.tuples import asset_path

    with project.catalog().connect(tables=V.ASSET) as con:
        row = V.asset_row(con, asset_id)
    if row is None:
        raise NotFound(f"no asset {asset_id!r}")
    try:
        path = asset_path(project, row)
    except MediaError as e:  # kept as embeddings only: there is no file, by design
        raise NotFound(str(e)) from e
    if not path.is_file():
        raise NotFound(f"the file of asset {asset_id} is missing from disk")
    return path, row


def _minmax(values: np.ndarray, bins: int) -> tuple[list[float | None], list[float | None]]:
    """Per bin of equal length, the smallest and largest value; NaNs are ignored (``fmin`` /
    ``fmax``), a bin of NaNs only is None. One pass over the samples in their own dtype: an hour
    of 16 kHz audio takes ~50 ms, where a float64 copy and a NaN mask took 2 s."""
    n = len(values)
    if n == 0:
        return [], []
    bins = max(1, min(bins, n))
    starts = np.linspace(0, n, bins + 1).astype(np.int64)[:-1]

    def clean(a: np.ndarray) -> list[float | None]:
        return [None if x != x else round(float(x), 5) for x in a.tolist()]

    return clean(np.fmin.reduceat(values, starts)), clean(np.fmax.reduceat(values, starts))


def waveform(project: Project, asset_id: str, bins: int = 2000) -> dict[str, Any]:
    """Min/max of the first channel per bin, on the file's own time (``start_ns``, ``step_ns``)."""
    from syncline.media.audio import read_audio

    path, _ = media_file(project, asset_id)
    samples, rate, start_ns = read_audio(path)
    mono = samples[0] if samples.ndim > 1 else samples
    bins = max(1, min(int(bins), MAX_BINS))
    lo, hi = _minmax(mono, bins)
    return {"asset_id": asset_id, "start_ns": int(start_ns), "step_ns": float(len(mono) / max(len(lo), 1) * 1e9 / rate),
            "min": lo, "max": hi}


def spectrogram(project: Project, asset_id: str, bins: int = 800, bands: int = 48) -> dict[str, Any]:
    """A thumbnail spectrogram: at ``bins`` evenly spaced moments, the power of a 1,024-sample
    Hann window in ``bands`` log-spaced bands from 50 Hz to Nyquist, in dB scaled to 0..255
    (the loudest 0.5 % saturate). One gather and one FFT call for all moments, however long the
    file: an hour of audio costs what 800 windows cost. ``levels`` is base64 of uint8,
    moment-major (bins x bands)."""
    import base64

    from syncline.media.audio import read_audio

    path, _ = media_file(project, asset_id)
    samples, rate, start_ns = read_audio(path)
    mono = samples[0] if samples.ndim > 1 else samples
    n = len(mono)
    bins = max(1, min(int(bins), MAX_BINS))
    bands = max(4, min(int(bands), 128))
    if n == 0:
        return {"asset_id": asset_id, "start_ns": int(start_ns), "step_ns": 0.0, "bins": 0, "bands": bands,
                "edges_hz": [], "levels": ""}
    n_fft = int(min(1024, 2 ** int(np.floor(np.log2(max(n, 2))))))
    centers = (np.arange(bins) + 0.5) * n / bins
    starts = np.clip((centers - n_fft / 2).astype(np.int64), 0, max(0, n - n_fft))
    frames = mono[starts[:, None] + np.arange(n_fft)[None, :]] * np.hanning(n_fft).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    edges = np.geomspace(50.0, rate / 2, bands + 1)
    which = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, bands - 1)
    inside = (freqs >= edges[0]) & (freqs <= edges[-1])
    banded = np.zeros((bins, bands))
    np.add.at(banded.T, which[inside], power[:, inside].T)  # bands x bins, summed per band
    db = 10 * np.log10(banded + 1e-12)
    top = float(np.percentile(db, 99.5))
    levels = np.clip((db - (top - 80.0)) / 80.0 * 255, 0, 255).astype(np.uint8)
    return {"asset_id": asset_id, "start_ns": int(start_ns), "step_ns": float(n / bins * 1e9 / rate), "bins": bins,
            "bands": bands, "edges_hz": np.round(edges, 1).tolist(),
            "levels": base64.b64encode(levels.tobytes()).decode("ascii")}


def sensor_series(project: Project, asset_id: str, bins: int = 1000) -> dict[str, Any]:
    """Each numeric channel as min/max per bin of rows, with each bin's first time (file time)."""
    import pyarrow as pa

    from syncline.media.sensor import read_sensor

    path, _ = media_file(project, asset_id)
    table = read_sensor(path)
    t = table.column("t_ns").to_numpy()
    bins = max(1, min(int(bins), MAX_BINS, len(t) or 1))
    edges = np.linspace(0, len(t), bins + 1).astype(np.int64)[:-1]
    channels = {}
    for f in table.schema:
        if f.name == "t_ns" or not (pa.types.is_floating(f.type) or pa.types.is_integer(f.type)):
            continue
        v = table.column(f.name).cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
        lo, hi = _minmax(v, bins)
        channels[f.name] = {"min": lo, "max": hi}
    return {"asset_id": asset_id, "t_ns": t[edges].tolist() if len(t) else [], "channels": channels}
