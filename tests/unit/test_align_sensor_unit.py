"""Event extraction and event-train matching on synthetic arrays with planted truth."""

from __future__ import annotations

import numpy as np
import pytest

from syncline.align.events_match import match_event_times
from syncline.align.sensor import series_events, signal_events, timing_bound
from syncline.align.types import Signal, Verdict

S = 1_000_000_000


def trains(seed: int, *, duration_s: float = 600.0, rate_hz: float = 0.8, lag_s: float = 0.0,
           drift_ppm: float = 0.0, miss: float = 0.2, spurious: float = 0.2, jitter_s: float = 0.002,
           period_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(ref, tgt) event times in ns: shared true events, each train missing ``miss`` of them and
    carrying ``spurious`` extra ones; the target on the clock t * (1 + drift) + lag."""
    rng = np.random.default_rng(seed)
    if period_s is None:
        true = np.sort(rng.uniform(0, duration_s, int(rate_hz * duration_s)))
    else:
        true = np.arange(0, duration_s, period_s)
    n = len(true)

    def one() -> np.ndarray:
        kept = true[rng.random(n) >= miss]
        return np.r_[kept, rng.uniform(0, duration_s, int(spurious * n))]

    ref = one()
    tgt = one() * (1 + drift_ppm * 1e-6) + lag_s
    tgt = tgt + rng.normal(0, jitter_s, len(tgt))
    return np.sort((ref * S).astype(np.int64)), np.sort((tgt * S).astype(np.int64))


# ---------------------------------------------------------------- matching


@pytest.mark.parametrize("seed, lag_s, drift_ppm", [(1, 1.234, -150.0), (2, -4.2, 180.0), (3, 3.3, 0.0)])
def test_matcher_recovers_lag_and_drift_despite_20pct_missed_and_20pct_spurious(
        seed: int, lag_s: float, drift_ppm: float) -> None:
    ref, tgt = trains(seed, lag_s=lag_s, drift_ppm=drift_ppm)
    est = match_event_times(ref, tgt)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and est.drift_ppm is not None and est.uncertainty_ns is not None
    assert abs(est.lag_ns / S - lag_s) < 0.002
    assert abs(est.drift_ppm - drift_ppm) < 3.0
    assert abs(est.lag_ns / S - lag_s) < 5 * est.uncertainty_ns / S  # the interval is honest
    assert est.n_events is not None and est.n_events > 0.5 * len(ref)


def test_positive_lag_means_the_target_happens_later_in_its_file() -> None:
    ref, _ = trains(5, miss=0, spurious=0)
    est = match_event_times(ref, ref + 2 * S, fit_drift=False)
    assert est.verdict is Verdict.ALIGNED
    assert est.lag_ns == 2 * S and est.drift_ppm == 0.0


def test_long_stream_votes_on_a_central_chunk_then_grows_the_fit() -> None:
    ref, tgt = trains(6, duration_s=7200.0, rate_hz=0.3, lag_s=-2.5, drift_ppm=320.0)
    est = match_event_times(ref, tgt)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and est.drift_ppm is not None
    assert abs(est.lag_ns / S + 2.5) < 0.003 and abs(est.drift_ppm - 320.0) < 1.0
    assert est.details["n_core_ref_events"] < len(ref)


def test_expected_lag_centres_the_search_window() -> None:
    ref, tgt = trains(7, lag_s=100.0)
    assert match_event_times(ref, tgt, max_lag_ns=5 * S).verdict is not Verdict.ALIGNED
    est = match_event_times(ref, tgt, expected_lag_ns=98 * S, max_lag_ns=5 * S)
    assert est.verdict is Verdict.ALIGNED and est.lag_ns is not None
    assert abs(est.lag_ns / S - 100.0) < 0.002


def test_periodic_events_are_ambiguous_and_list_lags_one_period_apart() -> None:
    ref, tgt = trains(8, period_s=2.0, lag_s=0.7, jitter_s=0.001)
    est = match_event_times(ref, tgt)
    assert est.verdict is Verdict.AMBIGUOUS, est.reason
    assert est.lag_ns is None and len(est.candidates) >= 2
    lags = np.array([c.lag_ns for c in est.candidates]) / S
    assert np.allclose((lags - 0.7) / 2.0, np.round((lags - 0.7) / 2.0), atol=0.01)


@pytest.mark.parametrize("seed", range(6))
def test_unrelated_trains_are_never_aligned(seed: int) -> None:
    ref, _ = trains(100 + seed, rate_hz=[0.2, 1.0, 3.0][seed % 3])
    _, tgt = trains(200 + seed, rate_hz=[0.2, 1.0, 3.0][seed % 3])
    est = match_event_times(ref, tgt)
    assert est.verdict is Verdict.NO_PLAUSIBLE_ALIGNMENT, est.reason
    assert est.lag_ns is None and est.drift_ppm is None
    assert "chance" in est.reason


def test_bursty_unrelated_trains_are_not_aligned() -> None:
    rng = np.random.default_rng(11)

    def bursts() -> np.ndarray:
        centres = rng.uniform(0, 600, 40)
        return np.sort(((centres[:, None] + rng.exponential(0.3, (40, 8)).cumsum(axis=1)).ravel() * S).astype(np.int64))

    est = match_event_times(bursts(), bursts())
    assert est.verdict in (Verdict.NO_PLAUSIBLE_ALIGNMENT, Verdict.ABSTAIN, Verdict.AMBIGUOUS), est.reason


def test_too_few_events_abstain_with_a_one_line_reason() -> None:
    ref, tgt = trains(9)
    est = match_event_times(ref[:2], tgt, ref_name="sensor")
    assert est.verdict is Verdict.ABSTAIN and est.lag_ns is None
    assert est.reason == "cannot determine: 2 events in sensor, need ≥ 5"


def test_few_matching_events_abstain_rather_than_guess() -> None:
    ref, _ = trains(10, rate_hz=0.012, miss=0, spurious=0)  # 7 events
    _, tgt = trains(11, rate_hz=0.012, miss=0, spurious=0)
    est = match_event_times(ref, tgt)
    assert est.verdict is Verdict.ABSTAIN and "cannot determine" in est.reason


def test_a_real_but_weak_match_abstains_instead_of_calling_it_wrong() -> None:
    """Only 10% of the target's events are shared: significant, yet too weak to trust."""
    rng = np.random.default_rng(14)
    true = np.sort(rng.uniform(0, 600, 600))
    tgt = np.sort(np.r_[true[::10] + 1.5, rng.uniform(0, 600, 540)])
    est = match_event_times((true * S).astype(np.int64), (tgt * S).astype(np.int64), tolerance_ns=10_000_000)
    assert est.verdict is Verdict.ABSTAIN and "beyond chance" in est.reason, est.reason


def test_no_target_event_inside_the_window_abstains() -> None:
    ref, tgt = trains(12, duration_s=60.0, miss=0, spurious=0)
    est = match_event_times(ref, tgt + 3600 * S, max_lag_ns=10 * S)
    assert est.verdict is Verdict.ABSTAIN and "lag window" in est.reason


def test_duplicate_event_times_are_dropped_and_noted() -> None:
    ref, tgt = trains(13, lag_s=1.0)
    est = match_event_times(np.r_[ref, ref[:10]], tgt)
    assert est.verdict is Verdict.ALIGNED
    assert any("10 duplicate" in n for n in est.details["notes"])


@pytest.mark.parametrize("seed", range(12))
def test_a_known_timing_bound_keeps_grid_quantised_pairs_from_biasing_the_drift(seed: int) -> None:
    """Steps timed on 200 Hz and 100 Hz sample grids: the pair differences fall on a 5 ms grid,
    often over half of them tie and the residual MAD is 0. A band from that MAD (a quarter of
    the tolerance) cuts the true +-7.5 ms errors asymmetrically (seeds 1, 5 and 8 were off by
    ~4 ppm, 5-6 reported sigmas); the sample periods' bound does not."""
    rng = np.random.default_rng(seed)
    true = np.sort(rng.uniform(0, 600, 760))
    drift, lag = rng.uniform(-10, 10), 3.0794

    def grid(t_s: np.ndarray, hz: float) -> np.ndarray:
        return (np.floor(t_s * hz) + 0.5) / hz

    keep_r, keep_t = rng.random(len(true)) >= 0.2, rng.random(len(true)) >= 0.2
    ref = np.sort(np.r_[grid(true[keep_r], 200), grid(rng.uniform(0, 600, 150), 200)])
    tgt = np.sort(np.r_[grid(true[keep_t] * (1 + drift * 1e-6) + lag, 100), grid(rng.uniform(0, 600, 150), 100)])
    bound = timing_bound(5_000_000, 10_000_000)
    assert bound == 8_250_000
    est = match_event_times((ref * S).astype(np.int64), (tgt * S).astype(np.int64), tolerance_ns=20_000_000,
                            timing_bound_ns=bound)
    assert est.verdict is Verdict.ALIGNED and est.drift_ppm is not None and est.lag_ns is not None
    err = abs(est.drift_ppm - drift)
    assert err <= 3 * est.details["drift_uncertainty_ppm"] and err < 2.5
    assert abs(est.lag_ns / S - lag) < 0.002


# ---------------------------------------------------------------- extraction


def _steps(t_s: np.ndarray, at_s: list[float], heights: list[float], noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = np.r_[0.0, np.cumsum(heights)][np.searchsorted(np.asarray(at_s), t_s, side="right")]
    return level + rng.normal(0, noise, len(t_s))


def test_steps_are_found_at_the_midpoint_of_the_samples_they_span() -> None:
    t = np.arange(0, 60, 0.01)
    at = [5.003, 17.5, 30.0071, 44.2]
    ev = series_events((t * S).astype(np.int64), _steps(t, at, [20, -25, 30, -18], noise=1.0))
    assert len(ev.times_ns) == 4
    assert np.all(np.abs(ev.times_ns / S - np.array(at)) <= 0.0051)
    assert ev.period_ns == 10_000_000 and ev.notes == ()


def test_a_spike_is_one_event_and_polarity_selects_edges() -> None:
    t = np.arange(0, 20, 0.01)
    v = _steps(t, [4.0, 12.0], [20, -20], noise=0.5)
    v[800] += 50.0  # a one-sample spike at 8 s
    tn = (t * S).astype(np.int64)
    assert len(series_events(tn, v).times_ns) == 3
    rising = series_events(tn, v, polarity="rising").times_ns / S
    assert np.allclose(rising, [4.0, 7.995], atol=0.01)


def test_steps_150_ms_apart_are_two_events_but_a_bounce_is_one() -> None:
    t = np.arange(0, 20, 0.002)
    v = _steps(t, [5.0, 5.15, 12.0, 12.004, 12.008], [20, 20, 30, -28, 27], noise=0.5)
    ev = series_events((t * S).astype(np.int64), v)
    assert np.allclose(ev.times_ns / S, [5.0, 5.15, 12.0], atol=0.002)


def test_changes_across_a_gap_are_not_events_and_the_gap_is_noted() -> None:
    t = np.arange(0, 30, 0.01)
    v = _steps(t, [10.0, 20.0], [20, 20], noise=0.5)
    keep = (t < 19.0) | (t > 21.0)  # the step at 20 s falls in a dropout
    ev = series_events((t[keep] * S).astype(np.int64), v[keep])
    assert np.allclose(ev.times_ns / S, [10.0], atol=0.01)
    assert any("1 gaps" in n for n in ev.notes)


def test_duplicate_timestamps_are_averaged_not_fatal() -> None:
    t = np.arange(0, 20, 0.01)
    v = _steps(t, [7.0], [20], noise=0.5)
    tn = (t * S).astype(np.int64)
    dup = np.sort(np.r_[np.arange(0, len(t), 97), np.arange(0, len(t), 211)])
    ev = series_events(np.r_[tn, tn[dup]][np.argsort(np.r_[tn, tn[dup]], kind="stable")],
                       np.r_[v, v[dup]][np.argsort(np.r_[tn, tn[dup]], kind="stable")])
    assert np.allclose(ev.times_ns / S, [7.0], atol=0.01)
    assert any(f"{len(dup)} rows with duplicate timestamps" in n for n in ev.notes)


def test_a_switch_channel_with_zero_mad_still_yields_its_transitions() -> None:
    t = np.arange(0, 100, 0.02)
    door = ((t > 10) & (t < 13)) | ((t > 50) & (t < 58.5))
    ev = series_events((t * S).astype(np.int64), door.astype(float))
    assert len(ev.times_ns) == 4


def test_a_constant_or_empty_channel_has_no_events() -> None:
    t = (np.arange(0, 10, 0.1) * S).astype(np.int64)
    assert len(series_events(t, np.ones(len(t))).times_ns) == 0
    assert len(series_events(t, np.full(len(t), np.nan)).times_ns) == 0
    assert len(series_events(t[:2], np.ones(2)).times_ns) == 0


def test_multichannel_rows_combine_by_the_strongest_channel() -> None:
    t = np.arange(0, 30, 0.01)
    v = np.column_stack([_steps(t, [5.0], [20], 0.5, seed=1), _steps(t, [20.0], [-20], 0.5, seed=2)])
    ev = series_events((t * S).astype(np.int64), v)
    assert np.allclose(ev.times_ns / S, [5.0, 20.0], atol=0.01)


def test_signal_bursts_give_one_onset_each() -> None:
    rng = np.random.default_rng(4)
    values = rng.random(25 * 60).astype(np.float32) * 0.2
    onsets = [100, 400, 401, 900]  # frames; 401 continues the burst that began at 400
    for k in onsets:
        values[k:k + 10] += 8.0 + rng.random(10)
    values[405] = 0.1  # a dip inside the burst does not start a new one (hysteresis)
    got = signal_events(Signal(t0_ns=1_000_000, rate_hz=25.0, values=values), stamp="sample")
    assert list(got) == [1_000_000 + k * 40_000_000 for k in (100, 400, 900)]


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_a_change_spread_over_two_frames_is_timed_by_their_centroid(share: float) -> None:
    """A flash at 4.0 s + (1 - share) frames: frame-difference energy ``share`` at frame 100,
    ``1 - share`` at frame 101 (exposures are a frame long), and the centroid lands on it."""
    values = np.zeros(250, np.float32)
    values[100], values[101] = 10 * share, 10 * (1 - share)
    got = signal_events(Signal(t0_ns=0, rate_hz=25.0, values=values), z_threshold=3.0)
    assert len(got) == 1 and abs(got[0] - (4.0 + (1 - share) * 0.04) * S) < 1e3


def test_a_few_real_matches_in_a_short_window_abstain_rather_than_accuse() -> None:
    """A 40 s clip shows 6 of a logger's door transitions among 11 unrelated bursts; the logger
    runs 10 minutes. That is more than chance gives but not enough to trust: abstain, and never
    'no plausible alignment' (which would accuse the right stream of being on the wrong entity)."""
    rng = np.random.default_rng(5)
    in_clip = np.sort(rng.uniform(2, 38, 6))
    outside = rng.uniform(-100, 500, 40)
    doors = np.sort(np.r_[in_clip, outside[(outside < 0) | (outside > 40)]])
    clip = np.sort(np.r_[in_clip, rng.uniform(0, 40, 11)])
    lag = 119.3
    logger = doors + lag + rng.uniform(-0.05, 0.05, len(doors))
    est = match_event_times((clip * S).astype(np.int64), (logger * S).astype(np.int64),
                            expected_lag_ns=int(118 * S), max_lag_ns=30 * S, tolerance_ns=200_000_000)
    assert est.verdict is Verdict.ABSTAIN, est.reason
    assert "more than chance" in est.reason and est.lag_ns is None
