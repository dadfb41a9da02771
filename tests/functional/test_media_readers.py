"""Readers on real files: audio priming round trips, frames, transcripts, tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mediafiles import (
    CLICK_S,
    CUES,
    EVENT_ROWS,
    encode_audio,
    make_click_wav,
    make_events_jsonl,
    make_metadata_csv,
    make_sensor_csv,
    make_transcript_json,
    make_video,
    make_vtt,
    sensor_truth,
)

from syncline.media.audio import read_audio
from syncline.media.events import read_events
from syncline.media.metadata import read_metadata
from syncline.media.sensor import read_sensor
from syncline.media.transcript import read_transcript
from syncline.media.video import iter_frames

pytestmark = pytest.mark.functional
NS = 1_000_000_000


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readers")


@pytest.mark.parametrize(("ext", "extra"), [
    (".wav", ()), (".flac", ()), (".m4a", ()), (".mp3", ()), (".aac", ()),
    (".mp3", ("-write_xing", "0")),
])
def test_click_at_one_second_lands_at_one_second_after_round_trip(
    media: Path, ext: str, extra: tuple[str, ...]
) -> None:
    src = make_click_wav(media, "click.wav", sample_rate=48000)
    path = src if ext == ".wav" else encode_audio(src, media / f"click{len(extra)}{ext}", extra=extra)
    samples, rate, start_ns = read_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 2 and samples.shape[0] == 1
    assert rate == 48000
    click_ns = start_ns + int(np.argmax(np.abs(samples[0]))) * NS // rate
    assert abs(click_ns - CLICK_S * NS) <= 1_000_000  # 1 ms


def test_iter_frames_yields_every_nth_frame_with_pts_in_ns(media: Path) -> None:
    path = make_video(media, "frames.mp4", fps=25, seconds=1.0, audio=False)
    frames = list(iter_frames(path, every=5))
    assert [pts for pts, _ in frames] == [i * 5 * NS // 25 for i in range(5)]
    assert frames[0][1].shape == (120, 160, 3) and frames[0][1].dtype == np.uint8
    (_, gray), *_ = iter_frames(path, every=25, gray=True)
    assert gray.shape == (120, 160)


def test_read_transcript_keeps_speakers_and_word_timings(media: Path) -> None:
    cues = read_transcript(make_transcript_json(media))
    assert [(c.t0_ns, c.t1_ns, c.speaker, c.text) for c in cues] == [
        (int(a * NS), int(b * NS), who, text) for a, b, who, text in CUES
    ]
    assert cues[0].words[0].t0_ns == int(CUES[0][0] * NS) and cues[0].words[-1].t1_ns == int(CUES[0][1] * NS)
    vtt = read_transcript(make_vtt(media))
    assert [c.speaker for c in vtt] == [who for _, _, who, _ in CUES]


def test_read_sensor_gives_int_ns_time_and_units_in_field_metadata(media: Path) -> None:
    table = read_sensor(make_sensor_csv(media, rate_hz=100, seconds=2.0))
    t, ax = sensor_truth(rate_hz=100, seconds=2.0)
    assert table.schema.field("t_ns").type.id == 9  # int64
    np.testing.assert_array_equal(table.column("t_ns").to_numpy(), np.round(t * 1e9).astype(np.int64))
    np.testing.assert_allclose(table.column("accel_x").to_numpy(), ax, atol=1e-6)
    assert table.schema.field("accel_x").metadata == {b"unit": b"m/s^2"}
    assert table.schema.field("accel_y").metadata == {b"unit": b"m/s^2"}


def test_read_events_normalises_columns_and_keeps_the_rest_as_payload(media: Path) -> None:
    table = read_events(make_events_jsonl(media))
    assert table.column_names == ["t_ns", "type", "state", "actor", "payload_json"]
    assert table.column("t_ns").to_pylist() == [int(r[0] * NS) for r in EVENT_ROWS]
    assert table.column("type").to_pylist() == [r[1] for r in EVENT_ROWS]
    assert [json.loads(p)["note"] for p in table.column("payload_json").to_pylist()] == [r[4] for r in EVENT_ROWS]


def test_read_metadata_keys_rows_by_entity_id(media: Path) -> None:
    table = read_metadata(make_metadata_csv(media, n=4))
    assert table.column("entity_id").to_pylist() == ["e0", "e1", "e2", "e3"]
    assert table.column("age").to_pylist() == [30, 31, 32, 33]
