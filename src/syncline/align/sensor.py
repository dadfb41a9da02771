"""Sensor alignment: transients in sensor channels matched against another sensor, a video's
motion bursts or an event log, giving lag *and* clock drift (``align.events_match``).

A transient is a first difference whose robust z-score (median / MAD of all differences of
the channel) passes a threshold: a spike, a step, a door opening. Its time is the midpoint of
the two samples it spans; transients closer than a refractory time (three sample periods, at
least 100 ms: a contact's bounce, a spike's way back down) merge into the first. Steps closer
than that are rare and lost; a longer floor lost a quarter of the events of a busy stream
(``benchmarks/bench_align_drift.py``).
Differences that span a gap (a dropout of rows) are ignored, and duplicate timestamps are
averaged into one row; both are reported as notes in the estimate's ``details``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from syncline.align.events_match import P_CHANCE, match_event_times
from syncline.align.types import OffsetEstimate, Signal, Verdict
from syncline.media.types import MediaError
from syncline.timebase import NS_PER_S

log = logging.getLogger(__name__)

Polarity = Literal["both", "rising", "falling"]
Kind = Literal["transient", "burst"]
Stamp = Literal["midpoint", "sample", "centroid"]
MAD_TO_SIGMA = 1.4826
DEFAULT_Z = 6.0
MIN_REFRACTORY_NS = 250_000_000  # bursts (a level above threshold) closer than this are one burst
MIN_TRANSIENT_GAP_NS = 100_000_000  # transients closer than this are one (a bounce, a spike's way back down)
MIN_TOLERANCE_NS = 20_000_000
DEFAULT_MAX_LAG_NS = 30 * NS_PER_S


@dataclass(frozen=True)
class Events:
    """Event times (int64 ns, sorted) with what happened on the way: notes and sample period."""

    times_ns: NDArray[np.int64]
    period_ns: int
    notes: tuple[str, ...] = ()


def _robust_z(d: NDArray[np.float64]) -> NDArray[np.float64]:
    """Column-wise (d - median) / (1.4826 MAD), falling back to 1.2533 x the mean absolute
    deviation when MAD is 0 (a switch channel, a static video: most values equal and the rest
    are the events); a constant column scores 0."""
    has_nan = bool(np.isnan(d).any())
    median, mean = (np.nanmedian, np.nanmean) if has_nan else (np.median, np.mean)
    med = median(d, axis=0)
    dev = np.abs(d - med)
    scale = MAD_TO_SIGMA * median(dev, axis=0)
    scale = np.where(scale > 0, scale, 1.2533 * mean(dev, axis=0))
    z = (d - med) / np.where(scale > 0, scale, np.inf)
    return np.nan_to_num(z, nan=0.0) if has_nan else z


def _merge(times: NDArray[np.int64], refractory_ns: int) -> NDArray[np.int64]:
    """Keep the first of every run of events closer than ``refractory_ns`` to the previous."""
    if not len(times):
        return times
    return times[np.r_[True, np.diff(times) > refractory_ns]]


def series_events(
    t_ns: ArrayLike,
    values: ArrayLike,
    *,
    z_threshold: float = DEFAULT_Z,
    refractory_ns: int | None = None,
    polarity: Polarity = "both",
    kind: Kind = "transient",
    stamp: Stamp = "midpoint",
    gap_factor: float = 3.0,
) -> Events:
    """Events in rows ``values`` (n x channels, or n) sampled at ``t_ns``.

    ``kind="transient"``: the robust z of the first difference passes ``z_threshold``;
    ``"burst"``: the robust z of the level crosses it upwards (again only after falling below
    half of it). Several channels combine by the largest score per row. ``stamp="midpoint"``
    times a change between rows ``k-1`` and ``k`` half way between them (instantaneous samples);
    ``"sample"`` at row ``k``; ``"centroid"`` (bursts) at the weighted mean time of the first two
    rows of the burst: for features that stamp a change between frames ``k-1`` and ``k`` at
    ``k`` with a frame-long exposure (``align.signals``), an event spreads over two frames and
    their centroid is its time, where the first frame alone is late or early by up to a frame."""
    t = np.asarray(t_ns, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    v = v.reshape(len(v), -1)
    notes: list[str] = []
    keep = ~np.all(np.isnan(v), axis=1)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} rows without a value skipped")
        t, v = t[keep], v[keep]
    if len(t) > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        notes.append("rows were out of time order; sorted")
    if len(t) > 1 and np.any(np.diff(t) == 0):
        uniq, inv, counts = np.unique(t, return_inverse=True, return_counts=True)
        notes.append(f"{len(t) - len(uniq)} rows with duplicate timestamps averaged into {int((counts > 1).sum())}")
        inv = inv.ravel()
        sums = np.column_stack([np.bincount(inv, np.nan_to_num(col), len(uniq)) for col in v.T])
        n_ok = np.column_stack([np.bincount(inv, ~np.isnan(col), len(uniq)) for col in v.T])
        with np.errstate(invalid="ignore", divide="ignore"):
            v = sums / n_ok
        t = uniq
    if len(t) < 3:
        return Events(np.zeros(0, np.int64), 0, tuple(notes + [f"only {len(t)} rows"]))
    dt = np.diff(t)
    period = int(np.median(dt))
    gap = dt > gap_factor * period
    if gap.any():
        notes.append(f"{int(gap.sum())} gaps in the rows (longest {dt.max() / NS_PER_S:.3g} s); "
                     "changes across them are not events")
    floor = MIN_TRANSIENT_GAP_NS if kind == "transient" else MIN_REFRACTORY_NS
    refr = int(refractory_ns if refractory_ns is not None else max(floor, 3 * period))
    if kind == "transient":
        z = _robust_z(np.diff(v, axis=0))
        score = {"both": np.abs(z), "rising": z, "falling": -z}[polarity].max(axis=1)
        hit = np.flatnonzero((score >= z_threshold) & ~gap)
        stamp_at = hit + 1
    else:
        z = _robust_z(v)
        level = {"both": np.abs(z), "rising": z, "falling": -z}[polarity].max(axis=1)
        above = level >= z_threshold
        up = np.flatnonzero(above[1:] & ~above[:-1]) + 1
        if len(up) > 1:  # hysteresis: a new burst only after the level fell below half the threshold
            dipped = np.minimum.reduceat(level[: up[-1]], up[:-1]) < z_threshold / 2
            up = up[np.r_[True, dipped]]
        up = up[~gap[up - 1]]
        hit, stamp_at = up - 1, up
    if stamp == "centroid" and kind == "burst" and len(up):
        nxt = np.minimum(up + 1, len(t) - 1)
        w0, w1 = np.maximum(level[up], 0.0), np.maximum(level[nxt], 0.0)
        w1 = np.where(nxt > up, w1, 0.0)
        times = t[up] + np.round((t[nxt] - t[up]) * w1 / np.maximum(w0 + w1, 1e-12)).astype(np.int64)
    elif stamp == "midpoint":
        times = t[hit] + dt[hit] // 2
    else:
        times = t[stamp_at]
    return Events(_merge(times.astype(np.int64), refr), period, tuple(notes))


def _value_columns(table: pa.Table) -> list[str]:
    return [f.name for f in table.schema if f.name != "t_ns"
            and (pa.types.is_floating(f.type) or pa.types.is_integer(f.type) or pa.types.is_boolean(f.type))]


def table_events(table: pa.Table, column: str | None = None, **kw: Any) -> Events:
    """``series_events`` over a ``read_sensor`` table: one column, or every numeric column."""
    if column is not None and column not in table.column_names:
        raise KeyError(f"no column '{column}'; columns are {', '.join(c for c in table.column_names if c != 't_ns')}")
    cols = [column] if column is not None else _value_columns(table)
    if not cols:
        return Events(np.zeros(0, np.int64), 0, ("no numeric value column",))
    t = table.column("t_ns").to_numpy()
    v = np.column_stack([
        table.column(c).cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64) for c in cols
    ])
    return series_events(t, v, **kw)


def _column_tries(table: pa.Table, column: str | None) -> list[str | None]:
    """The named column; else every numeric column together and, when there are several,
    each on its own (a door switch is clean where a noisy temperature drowns it)."""
    if column is not None:
        return [column]
    cols = _value_columns(table)
    return [None, *cols] if len(cols) > 1 else [None]


def _load(table_or_path: pa.Table | Path | str) -> pa.Table:
    if isinstance(table_or_path, pa.Table):
        return table_or_path
    from syncline.media.sensor import read_sensor

    return read_sensor(Path(table_or_path))


def sensor_events(table_or_path: pa.Table | Path | str, column: str | None = None, *,
                  z_threshold: float = DEFAULT_Z, refractory_ns: int | None = None,
                  polarity: Polarity = "both") -> NDArray[np.int64]:
    """Transient times (int64 ns, sensor-local) in one channel, or in any numeric channel."""
    ev = table_events(_load(table_or_path), column, z_threshold=z_threshold,
                      refractory_ns=refractory_ns, polarity=polarity)
    for note in ev.notes:
        log.info("sensor events: %s", note)
    return ev.times_ns


def signal_events(sig: Signal, *, z_threshold: float = DEFAULT_Z, refractory_ns: int | None = None,
                  polarity: Polarity = "rising", kind: Kind = "burst", stamp: Stamp = "centroid") -> NDArray[np.int64]:
    """The same for any Signal, on its local timeline. The defaults suit ``align.signals``
    features (motion energy, onset envelope), which already measure change: burst onsets,
    timed by the centroid of their first two samples."""
    return series_events(sig.times_ns(), np.asarray(sig.values, np.float64), z_threshold=z_threshold,
                         refractory_ns=refractory_ns, polarity=polarity, kind=kind, stamp=stamp).times_ns


def timing_bound(*periods_ns: int) -> int:
    """Largest timing error of a truly matched pair of midpoint-stamped transients: half of each
    stream's sample period, plus 10 % for clocks that jitter around their median period."""
    return int(1.1 * sum(periods_ns) / 2)


def tolerance_for(*periods_ns: int, floor_ns: int = MIN_TOLERANCE_NS) -> int:
    """Matching tolerance: two sample periods of the coarser stream, at least ``floor_ns``."""
    return int(max(floor_ns, 2 * max(periods_ns, default=0)))


def best_supported(ests: list[tuple[str, OffsetEstimate]], key: str) -> OffsetEstimate:
    """The estimate with the most support among several tries (event types, channels):
    ALIGNED first, then the most matches; its chance p-value is multiplied by the number of
    tries (Bonferroni), and an ALIGNED one that no longer beats ``P_CHANCE`` abstains."""
    rank = {Verdict.ALIGNED: 3, Verdict.AMBIGUOUS: 2, Verdict.NO_PLAUSIBLE_ALIGNMENT: 1, Verdict.ABSTAIN: 0}
    name, best = max(ests, key=lambda ne: (rank[ne[1].verdict], ne[1].n_events or 0,
                                            ne[1].details.get("match_rate", 0.0)))
    k = len(ests)
    tried = {n: str(e.verdict) for n, e in ests}
    details = {**best.details, key: name, f"{key}_tried": tried}
    p = best.details.get("p_chance")
    if isinstance(p, float) and k > 1:
        details["p_chance"] = min(1.0, p * k)
        if best.verdict is Verdict.ALIGNED and p * k >= P_CHANCE:
            return replace(best, verdict=Verdict.ABSTAIN, lag_ns=None, drift_ppm=None, uncertainty_ns=None,
                           reason=f"cannot determine: best of {k} tries ({key} {name}) is not significant once "
                                  f"the choice is paid for (p {p * k:.2g})", details=details)
    return replace(best, reason=f"{best.reason} [{key} {name}]", details=details)


def _cannot_read(method: str, what: str, err: Exception) -> OffsetEstimate:
    return OffsetEstimate(method=method, verdict=Verdict.ABSTAIN, reason=f"cannot determine: cannot read {what}: {err}")


def estimate_sensor_lag(
    ref: Path, tgt: Path, *, ref_column: str | None = None, tgt_column: str | None = None,
    expected_lag_ns: int = 0, max_lag_ns: int = DEFAULT_MAX_LAG_NS, max_drift_ppm: float = 500.0,
    tolerance_ns: int | None = None, z_threshold: float = DEFAULT_Z, polarity: Polarity = "both",
) -> OffsetEstimate:
    """Sensor <-> sensor: transients of ``ref`` against transients of ``tgt``."""
    method = "sensor_events@1"
    try:
        er = table_events(_load(ref), ref_column, z_threshold=z_threshold, polarity=polarity)
        et = table_events(_load(tgt), tgt_column, z_threshold=z_threshold, polarity=polarity)
    except (MediaError, KeyError, OSError, pa.ArrowException) as err:
        return _cannot_read(method, "sensor stream", err)
    return match_event_times(
        er.times_ns, et.times_ns, expected_lag_ns=expected_lag_ns, max_lag_ns=max_lag_ns,
        max_drift_ppm=max_drift_ppm, tolerance_ns=tolerance_ns or tolerance_for(er.period_ns, et.period_ns),
        timing_bound_ns=timing_bound(er.period_ns, et.period_ns) or None,
        ref_name=f"reference sensor {Path(ref).name}", tgt_name=f"target sensor {Path(tgt).name}",
        method=method, notes=[f"ref: {n}" for n in er.notes] + [f"tgt: {n}" for n in et.notes],
    )


def estimate_sensor_video_lag(
    video: Path, sensor: Path, *, column: str | None = None, expected_lag_ns: int = 0,
    max_lag_ns: int = DEFAULT_MAX_LAG_NS, max_drift_ppm: float = 500.0, tolerance_ns: int | None = None,
    z_threshold: float = DEFAULT_Z, video_z_threshold: float = DEFAULT_Z,
    sensor_polarity: Polarity = "both",
) -> OffsetEstimate:
    """Video (reference) motion-energy burst onsets (``align.signals.motion_energy``) against
    sensor transients (target)."""
    method = "sensor_video_events@1"
    from syncline.align.signals import motion_energy

    try:
        motion = motion_energy(Path(video))
    except (MediaError, OSError) as err:
        return _cannot_read(method, "video", err)
    try:
        table = _load(sensor)
        tries = [(c or "all columns", table_events(table, c, z_threshold=z_threshold, polarity=sensor_polarity))
                 for c in _column_tries(table, column)]
    except (MediaError, KeyError, OSError, pa.ArrowException) as err:
        return _cannot_read(method, "sensor stream", err)
    frame_ns = int(NS_PER_S / motion.rate_hz) if motion.rate_hz > 0 else 0
    ev = series_events(motion.times_ns(), np.asarray(motion.values, np.float64), z_threshold=video_z_threshold,
                       polarity="rising", kind="burst", stamp="centroid")
    return best_supported([(name, match_event_times(
        ev.times_ns, es.times_ns, expected_lag_ns=expected_lag_ns, max_lag_ns=max_lag_ns,
        max_drift_ppm=max_drift_ppm, tolerance_ns=tolerance_ns or tolerance_for(frame_ns, es.period_ns),
        ref_name=f"video motion of {Path(video).name}", tgt_name=f"sensor {Path(sensor).name} ({name})",
        method=method, notes=[f"video: {n}" for n in ev.notes] + [f"sensor: {n}" for n in es.notes],
    )) for name, es in tries], "column")


def estimate_events_lag(
    ref_times_ns: ArrayLike | Path, sensor: Path, *, column: str | None = None,
    event_types: list[str] | None = None, expected_lag_ns: int = 0, max_lag_ns: int = DEFAULT_MAX_LAG_NS,
    max_drift_ppm: float = 500.0, tolerance_ns: int | None = None, z_threshold: float = DEFAULT_Z,
    polarity: Polarity = "both",
) -> OffsetEstimate:
    """An event log (reference: times in ns, or a path read by ``media.events.read_events``,
    optionally only ``event_types``) against sensor transients (target)."""
    method = "events_sensor@1"
    try:
        if isinstance(ref_times_ns, (str, Path)):
            from syncline.media.events import read_events

            log_table = read_events(Path(ref_times_ns))
            ref = log_table.column("t_ns").to_numpy()
            if event_types is not None:
                ref = ref[np.isin(log_table.column("type").to_numpy(zero_copy_only=False), event_types)]
        else:
            ref = np.asarray(ref_times_ns, dtype=np.int64)
        table = _load(sensor)
        tries = [(c or "all columns", table_events(table, c, z_threshold=z_threshold, polarity=polarity))
                 for c in _column_tries(table, column)]
    except (MediaError, KeyError, OSError, pa.ArrowException) as err:
        return _cannot_read(method, "input", err)
    return best_supported([(name, match_event_times(
        ref, es.times_ns, expected_lag_ns=expected_lag_ns, max_lag_ns=max_lag_ns, max_drift_ppm=max_drift_ppm,
        tolerance_ns=tolerance_ns or tolerance_for(es.period_ns, floor_ns=50_000_000),
        ref_name="event log", tgt_name=f"sensor {Path(sensor).name} ({name})", method=method,
        notes=[f"sensor: {n}" for n in es.notes],
    )) for name, es in tries], "column")


def event_trains(log: Path, min_events: int = 5) -> list[tuple[str, NDArray[np.int64]]]:
    """An event log's times, all together and per event type with at least ``min_events`` lines:
    a camera or a door contact sees doors, not feed entries, so a type on its own can match
    where the whole log drowns it."""
    from syncline.media.events import read_events

    table = read_events(Path(log))
    logged = np.asarray(table.column("t_ns").to_numpy(), np.int64)
    trains: list[tuple[str, NDArray[np.int64]]] = [("all", logged)]
    if "type" in table.column_names:
        types = np.asarray([str(x) for x in table.column("type").to_pylist()])
        names, counts = np.unique(types, return_counts=True)
        trains += [(str(n), logged[types == n]) for n, c in zip(names, counts, strict=True) if c >= min_events]
    return trains


def estimate_log_sensor_lag(
    log: Path, sensor: Path, *, expected_lag_ns: int = 0, max_lag_ns: int = DEFAULT_MAX_LAG_NS,
    max_drift_ppm: float = 500.0,
) -> OffsetEstimate:
    """An event log (reference) against a sensor's transients (target), over their whole shared
    span: every event type with enough lines, and all of them, each against every column try;
    the best supported wins, and both choices are paid for in its chance p-value."""
    try:
        trains = event_trains(log)
    except (MediaError, OSError, pa.ArrowException) as err:
        return _cannot_read("events_sensor@1", "event log", err)
    return best_supported([(name, estimate_events_lag(
        times, sensor, expected_lag_ns=expected_lag_ns, max_lag_ns=max_lag_ns, max_drift_ppm=max_drift_ppm,
    )) for name, times in trains], "event_type")
