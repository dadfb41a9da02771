"""Table helpers: units in headers, classification, time parsing, monotonic checks."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from syncline.media.tables import check_monotonic, classify, split_unit, time_to_ns
from syncline.media.types import MediaError, MediaErrorKind, Modality


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("accel_x[m/s^2]", ("accel_x", "m/s^2")),
        ("accel_x [m/s^2]", ("accel_x", "m/s^2")),
        ("temp (C)", ("temp", "C")),
        ("plain", ("plain", None)),
    ],
)
def test_split_unit_reads_both_unit_notations(header: str, expected: tuple[str, str | None]) -> None:
    assert split_unit(header) == expected


def test_classify_by_columns() -> None:
    assert classify(["t", "x"], {"t", "x"}) is Modality.SENSOR
    assert classify(["time", "type", "actor"], {"time"}) is Modality.EVENTS
    assert classify(["entity_id", "site"], set()) is Modality.METADATA
    assert classify(["a", "b"], {"a", "b"}) is None
    assert classify(["t", "label"], {"t"}) is None


def test_time_to_ns_converts_seconds_exactly() -> None:
    t, absolute = time_to_ns(pa.table({"t_s": [0.0, 0.001, 1.5]}), "t_s", name="x")
    assert t.tolist() == [0, 1_000_000, 1_500_000_000] and absolute is None


def test_time_to_ns_makes_iso_times_relative_and_keeps_the_absolute_start() -> None:
    table = pa.table({"ts": ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.250Z"]})
    t, absolute = time_to_ns(table, "ts", name="x")
    assert t.tolist() == [0, 250_000_000]
    assert absolute == 1_714_564_800_000_000_000


def test_time_to_ns_names_the_row_of_an_unparsable_time() -> None:
    table = pa.table({"ts": ["2024-05-01T12:00:00Z", "yesterday"]})
    with pytest.raises(MediaError, match="data row 2") as err:
        time_to_ns(table, "ts", name="x")
    assert err.value.kind is MediaErrorKind.MALFORMED_TABLE


def test_check_monotonic_names_the_first_row_that_goes_back() -> None:
    t = np.array([0, 10, 20, 15, 5, 30], np.int64)
    with pytest.raises(MediaError, match="data row 4 \\(line 5\\)") as err:
        check_monotonic(t, name="imu.csv", column="t", header_lines=1)
    assert err.value.kind is MediaErrorKind.NON_MONOTONIC_TIME


def test_check_monotonic_accepts_repeated_times() -> None:
    check_monotonic(np.array([0, 1, 1, 2], np.int64), name="x", column="t", header_lines=1)
