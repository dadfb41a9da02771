"""Sensor alignment on real files: CSV and Parquet streams read through ``media.sensor``, an
event log, and a rendered video, with planted lag, drift, dropouts and duplicate rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mediafiles import encode_h264

from syncline.align.sensor import (
    estimate_events_lag,
    estimate_sensor_lag,
    estimate_sensor_video_lag,
    sensor_events,
)
from syncline.align.types import Verdict

pytestmark = pytest.mark.functional

S = 1_000_000_000
DURATION_S = 600.0


def true_events(seed: int, n: int, duration_s: float = DURATION_S, min_gap_s: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(2.0, duration_s - 2.0, n))
    return t[np.r_[True, np.diff(t) > min_gap_s]]


def door_channel(rng: np.random.Generator, t_local: np.ndarray, events_local: np.ndarray,
                 miss: float = 0.2, spurious: float = 0.2) -> np.ndarray:
    """A noisy channel stepping at each kept event (+ spurious steps of its own)."""
    kept = events_local[rng.random(len(events_local)) >= miss]
    extra = rng.uniform(t_local[0], t_local[-1], int(spurious * len(events_local)))
    at = np.sort(np.r_[kept, extra])
    steps = rng.choice([-1.0, 1.0], len(at)) * rng.uniform(15, 30, len(at))
    return np.r_[0.0, np.cumsum(steps)][np.searchsorted(at, t_local)] + rng.normal(0, 1.0, len(t_local))


def write_csv(path: Path, t_s: np.ndarray, columns: dict[str, np.ndarray], time_col: str = "t[s]") -> Path:
    data = np.column_stack([t_s, *columns.values()])
    np.savetxt(path, data, delimiter=",", fmt="%.6f", header=",".join([time_col, *columns]), comments="")
    return path


def write_parquet(path: Path, t_ns: np.ndarray, columns: dict[str, np.ndarray]) -> Path:
    pq.write_table(pa.table({"t_ns": pa.array(t_ns, pa.int64()), **columns}), path)
    return path


Pair = tuple[Path, Path, float, float, np.ndarray]


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    """A 100 Hz CSV reference and a 100 Hz Parquet target on a clock t*(1+120 ppm) + 2.5 s,
    the target with a 20 s dropout and 40 duplicated rows."""
    rng = np.random.default_rng(1)
    lag, drift = 2.5, 120.0
    true = true_events(2, 600)
    t_ref = np.arange(0, DURATION_S, 0.01)
    ref = write_csv(tmp_path / "ref.csv", t_ref, {"door[V]": door_channel(rng, t_ref, true),
                                                  "temp[C]": 20 + 0.01 * rng.normal(size=len(t_ref))})
    t_tgt = np.arange(0, DURATION_S, 0.01)
    v_tgt = door_channel(rng, t_tgt, true * (1 + drift * 1e-6) + lag)
    keep = (t_tgt < 300.0) | (t_tgt >= 320.0)
    dup = np.sort(rng.choice(np.flatnonzero(keep), 40, replace=False))
    idx = np.sort(np.r_[np.flatnonzero(keep), dup], kind="stable")
    tgt = write_parquet(tmp_path / "tgt.parquet", (t_tgt[idx] * S).round().astype(np.int64),
                        {"door": v_tgt[idx]})
    return ref, tgt, lag, drift, true


def test_sensor_pair_recovers_lag_and_drift_through_gaps_and_duplicate_rows(pair: Pair) -> None:
    ref, tgt, lag, drift, _ = pair
    est = estimate_sensor_lag(ref, tgt)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and est.drift_ppm is not None and est.uncertainty_ns is not None
    assert abs(est.lag_ns / S - lag) < 0.005
    assert abs(est.drift_ppm - drift) < 5.0
    assert abs(est.lag_ns / S - lag) < 5 * est.uncertainty_ns / S
    notes = " ".join(est.details["notes"])
    assert "duplicate timestamps" in notes and "gaps" in notes


def test_sensor_events_read_a_file_and_pick_one_column(pair: Pair) -> None:
    ref, _, _, _, true = pair
    door = sensor_events(ref, "door")
    # ~80% of the true events plus ~20% spurious; each found event is within a sample of its step
    near = np.min(np.abs(door[:, None] / S - true[None, :]), axis=1) <= 0.006
    assert 0.7 * len(true) <= near.sum() <= len(true)
    assert len(sensor_events(ref, "temp")) < 5  # white noise: no transients


def test_an_unrelated_stream_is_no_plausible_alignment(pair: Pair, tmp_path: Path) -> None:
    ref, _, _, _, _ = pair
    rng = np.random.default_rng(7)
    t = np.arange(0, DURATION_S, 0.02)
    other = write_csv(tmp_path / "other.csv", t, {"door[V]": door_channel(rng, t, true_events(99, 600))})
    est = estimate_sensor_lag(ref, other)
    assert est.verdict is Verdict.NO_PLAUSIBLE_ALIGNMENT, est.reason
    assert est.lag_ns is None


def test_a_quiet_stream_abstains_and_says_why(pair: Pair, tmp_path: Path) -> None:
    ref, _, _, _, _ = pair
    t = np.arange(0, 120, 1.0)
    quiet = write_csv(tmp_path / "quiet.csv", t, {"temperature[degC]": 19.5 + 0.6 * np.sin(t / 40)})
    est = estimate_sensor_lag(ref, quiet)
    assert est.verdict is Verdict.ABSTAIN
    assert est.reason == "cannot determine: 0 events in target sensor quiet.csv, need ≥ 5"


def test_an_unreadable_stream_or_missing_column_abstains_naming_the_problem(pair: Pair, tmp_path: Path) -> None:
    ref, tgt, _, _, _ = pair
    bad = tmp_path / "backwards.csv"
    bad.write_text("t_s,door\n0.0,1\n1.0,2\n0.5,3\n2.0,4\n")
    est = estimate_sensor_lag(ref, bad)
    assert est.verdict is Verdict.ABSTAIN and "backwards" in est.reason and "cannot read" in est.reason
    est = estimate_sensor_lag(ref, tgt, tgt_column="humidity")
    assert est.verdict is Verdict.ABSTAIN and "no column 'humidity'" in est.reason


def test_an_event_log_as_reference_aligns_the_sensor(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    true = true_events(4, 300, duration_s=300.0, min_gap_s=0.5)
    lag = -1.75
    log_t = true[rng.random(len(true)) >= 0.2]
    beats = np.arange(0.0, 300.0, 7.0)  # periodic heartbeats, unrelated to the sensor
    rows = sorted([(t, "door") for t in log_t] + [(t, "heartbeat") for t in beats])
    log = tmp_path / "events.csv"
    log.write_text("t,type\n" + "".join(f"{t:.3f},{ty}\n" for t, ty in rows))
    t = np.arange(0, 300.0, 0.01)
    sensor = write_csv(tmp_path / "door.csv", t, {"door[V]": door_channel(rng, t, true + lag)})
    est = estimate_events_lag(log, sensor, event_types=["door"])
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and abs(est.lag_ns / S - lag) < 0.005
    est = estimate_events_lag(np.round(log_t * S).astype(np.int64), sensor)
    assert est.verdict is Verdict.ALIGNED and est.lag_ns is not None and abs(est.lag_ns / S - lag) < 0.005


def render_flashes(path: Path, on_off_s: np.ndarray, *, seconds: float, fps: int = 25) -> Path:
    """A dark clip where a bright square shows during each [on, off) span, each frame's
    brightness the share of its exposure [k/fps, (k+1)/fps) the square was on."""
    n = int(seconds * fps)
    f0 = np.arange(n)[:, None] / fps
    overlap = np.clip(np.minimum(f0 + 1 / fps, on_off_s[None, :, 1]) - np.maximum(f0, on_off_s[None, :, 0]), 0, None)
    level = (200 * np.clip(overlap.sum(axis=1) * fps, 0, 1)).astype(np.uint8)
    frame = np.full((120, 160, 3), 16, np.uint8)

    def frames():  # type: ignore[no-untyped-def]
        for lv in level:
            frame[40:80, 60:100] = max(int(lv), 16)
            yield frame.copy()

    return encode_h264(path, frames(), fps, options={"preset": "ultrafast", "crf": "12"})


def test_video_motion_bursts_align_a_door_sensor(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    seconds, lag = 60.0, 1.37
    on = true_events(6, 40, duration_s=seconds - 2, min_gap_s=1.2)
    on_off = np.column_stack([on, on + rng.uniform(0.3, 0.6, len(on))])
    video = render_flashes(tmp_path / "flash.mp4", on_off, seconds=seconds)
    t = np.arange(0, seconds + 5, 0.01)
    edges = np.sort(on_off.ravel()) + lag
    door = (np.searchsorted(edges, t, side="right") % 2).astype(float) * 5 + rng.normal(0, 0.05, len(t))
    sensor = write_csv(tmp_path / "door.csv", t, {"door[V]": door})
    est = estimate_sensor_video_lag(video, sensor)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and abs(est.lag_ns / S - lag) < 0.005
    other = write_csv(tmp_path / "other.csv", t, {"door[V]": np.roll(door, 1777)})
    assert estimate_sensor_video_lag(video, other, max_lag_ns=3 * S).verdict is not Verdict.ALIGNED
