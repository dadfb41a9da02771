"""Clock corrections: moving either side of a pair makes the same event land at the same entity time."""

from __future__ import annotations

import pytest

from syncline.align.clock import expected_lag_ns, move_reference, move_target
from syncline.timebase import Clock


@pytest.mark.parametrize("drift_ppm", [0.0, 150.0, -60.0])
@pytest.mark.parametrize("ref_drift", [0.0, 40.0])
def test_moving_the_target_puts_the_same_event_at_the_same_entity_time(drift_ppm: float, ref_drift: float) -> None:
    ref = Clock(offset_ns=2_000_000_000, drift_ppm=ref_drift, source="manifest")
    lag = 1_250_000_000
    new = move_target(ref, lag_ns=lag, drift_ppm=drift_ppm, source="estimated:test")
    for t_ref in (0, 10_000_000_000, 600_000_000_000):
        t_tgt = int(round(t_ref * (1 + drift_ppm * 1e-6))) + lag
        assert abs(new.to_entity(local_ns=t_tgt) - ref.to_entity(local_ns=t_ref)) <= 2
    assert new.source == "estimated:test"


@pytest.mark.parametrize("drift_ppm", [0.0, 150.0])
def test_moving_the_reference_puts_the_same_event_at_the_same_entity_time(drift_ppm: float) -> None:
    tgt = Clock(offset_ns=-500_000_000, drift_ppm=-20.0, source="manifest")
    lag = -3_000_000_000
    new = move_reference(tgt, lag_ns=lag, drift_ppm=drift_ppm, source="estimated:test")
    for t_ref in (0, 5_000_000_000, 300_000_000_000):
        t_tgt = int(round(t_ref * (1 + drift_ppm * 1e-6))) + lag
        assert abs(new.to_entity(local_ns=t_ref) - tgt.to_entity(local_ns=t_tgt)) <= 2


def test_expected_lag_is_what_the_current_clocks_imply() -> None:
    ref, tgt = Clock(offset_ns=1_000), Clock(offset_ns=400)
    t_entity = 10_000
    assert (t_entity - tgt.offset_ns) - (t_entity - ref.offset_ns) == expected_lag_ns(ref, tgt)
