"""Clock corrections: from a detector's lag (and drift) to a new clock for one asset.

Each asset's clock maps its local time onto the entity timeline (``timebase.Clock``):
``t_entity = offset + t_local * (1 + drift)``. Container timing (start time, edit lists,
priming) is already inside ``t_local`` — it comes from the decoder — so a clock correction
only ever moves the *content* offset and drift. Nothing is re-encoded: a correction is a row
in the ``clocks`` table plus the asset's new clock columns, both versioned by Lance.

A detector reports, for a (reference, target) pair, ``t_target = t_ref * (1 + d) + lag``
(``align.types``). Either side can be the one that moves: a camera's audio moves onto the
video; a transcript moves onto the speech it transcribes.
"""

from __future__ import annotations

from syncline.timebase import Clock

PPM = 1e-6


def expected_lag_ns(ref: Clock, tgt: Clock) -> int:
    """The lag the current clocks imply (an event at entity time T sits at ref-local
    T - o_r and at target-local T - o_t, ignoring drift)."""
    return ref.offset_ns - tgt.offset_ns


def move_target(ref: Clock, *, lag_ns: int, drift_ppm: float | None, source: str) -> Clock:
    """The target's clock that makes it agree with the reference's.

    entity = o_r + t_r (1+dr) and t_r = (t_t - lag) / (1+d), so the target's clock has
    (1+dt) = (1+dr)/(1+d) and o_t = o_r - lag (1+dt).
    """
    d = (drift_ppm or 0.0) * PPM
    scale = (1.0 + ref.drift_ppm * PPM) / (1.0 + d)
    return Clock(offset_ns=ref.offset_ns - int(round(lag_ns * scale)), drift_ppm=(scale - 1.0) / PPM, source=source)


def move_reference(tgt: Clock, *, lag_ns: int, drift_ppm: float | None, source: str) -> Clock:
    """The reference's clock that makes it agree with the (fixed) target's.

    entity = o_t + t_t (1+dt) and t_t = t_r (1+d) + lag, so the reference's clock has
    o_r = o_t + lag (1+dt) and (1+dr) = (1+d)(1+dt).
    """
    d = (drift_ppm or 0.0) * PPM
    dt = tgt.drift_ppm * PPM
    return Clock(offset_ns=tgt.offset_ns + int(round(lag_ns * (1.0 + dt))),
                 drift_ppm=((1.0 + d) * (1.0 + dt) - 1.0) / PPM, source=source)
