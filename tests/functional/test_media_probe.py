"""probe() on real media made by mediafiles, against the planted truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediafiles import (
    CAMERA_MAKE,
    CAMERA_MODEL,
    CAPTURE_UTC_NS,
    CUES,
    encode_audio,
    make_click_wav,
    make_events_csv,
    make_image,
    make_jpeg_with_metadata,
    make_metadata_csv,
    make_pdf,
    make_phone_mov,
    make_png_with_text,
    make_sensor_csv,
    make_sensor_parquet,
    make_speech_wav,
    make_srt,
    make_tagged_mp4,
    make_transcript_json,
    make_video,
    make_vtt,
)

from syncline.media.probe import probe
from syncline.media.types import Modality

pytestmark = pytest.mark.functional
NS = 1_000_000_000


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.mark.parametrize(("name", "fps", "seconds", "fmt"), [
    ("a.mp4", 25, 2.0, "mp4"), ("b.mkv", 30, 1.0, "matroska"), ("c.mov", 24, 1.5, "mov"),
])
def test_probe_video_matches_planted_duration_fps_and_frames(
    media: Path, name: str, fps: int, seconds: float, fmt: str
) -> None:
    info = probe(make_video(media, name, fps=fps, seconds=seconds))
    assert (info.modality, info.format, info.codec) == (Modality.VIDEO, fmt, "h264")
    assert (info.width, info.height) == (160, 120)
    assert info.fps == pytest.approx(fps)
    assert info.frame_count is not None and abs(info.frame_count - fps * seconds) <= 1
    assert info.duration_ns is not None and abs(info.duration_ns - seconds * NS) <= NS / fps + 0.05 * NS
    assert info.details["audio"]["sample_rate"] == 48000


def test_probe_mp4_reports_aac_priming_edit_list_and_container_context(media: Path) -> None:
    info = probe(make_tagged_mp4(media))
    assert info.start_ns == 0 and info.priming_samples == 1024
    assert info.details["audio"]["priming_source"] == "edit_list"
    sound = [e for e in info.details["edit_list"] if e["track"] == "soun"]
    assert sound and sound[0]["media_time"] == 1024
    assert info.capture_time_utc_ns == CAPTURE_UTC_NS
    assert info.has_gps


def test_probe_phone_mov_names_the_device(media: Path) -> None:
    info = probe(make_phone_mov(media))
    assert info.format == "mov" and info.device == "Apple iPhone 12"
    assert info.capture_time_utc_ns == CAPTURE_UTC_NS
    assert info.details["audio"] is None


@pytest.mark.parametrize(("ext", "fmt", "priming"), [
    (".wav", "wav", 0), (".flac", "flac", 0), (".m4a", "m4a", 1024), (".mp3", "mp3", 1105),
    (".aac", "aac", 1024), (".ogg", "ogg", 0), (".opus", "ogg", 312),
])
def test_probe_audio_reports_rate_channels_duration_and_priming(
    media: Path, ext: str, fmt: str, priming: int
) -> None:
    src = make_click_wav(media, f"src{ext}.wav", channels=2)
    path = src if ext == ".wav" else encode_audio(src, media / f"click{ext}")
    info = probe(path)
    assert (info.modality, info.format) == (Modality.AUDIO, fmt)
    assert (info.sample_rate, info.channels, info.priming_samples) == (48000, 2, priming)
    assert info.duration_ns is not None and abs(info.duration_ns - 2 * NS) < 0.05 * NS
    assert info.start_ns == 0


def test_probe_speech_wav_from_espeak(media: Path) -> None:
    info = probe(make_speech_wav(media))
    assert (info.format, info.sample_rate, info.channels) == ("wav", 22050, 1)
    assert info.duration_ns is not None and info.duration_ns > NS // 2


def test_probe_jpeg_reads_exif_time_device_and_gps(media: Path) -> None:
    info = probe(make_jpeg_with_metadata(media))
    assert (info.modality, info.format, info.width, info.height) == (Modality.IMAGE, "jpeg", 160, 120)
    assert info.capture_time_utc_ns == CAPTURE_UTC_NS
    assert info.device == f"{CAMERA_MAKE} {CAMERA_MODEL}"
    assert info.has_gps


def test_probe_png_with_xmp_gps_only_still_has_gps(media: Path) -> None:
    assert probe(make_png_with_text(media)).has_gps
    plain = probe(make_image(media, "plain.webp"))
    assert (plain.format, plain.has_gps, plain.capture_time_utc_ns) == ("webp", False, None)


def test_probe_transcripts_count_cues_words_and_duration(media: Path) -> None:
    n_words = sum(len(t.split()) for *_, t in CUES)
    for path, timed in ((make_srt(media), False), (make_vtt(media), False), (make_transcript_json(media), True)):
        info = probe(path)
        assert info.modality is Modality.TRANSCRIPT
        assert info.n_items == len(CUES)
        assert info.details["n_words"] == n_words
        assert info.details["has_word_timings"] is timed
        assert info.duration_ns == int(CUES[-1][1] * NS)


def test_probe_sensor_reads_units_rate_and_time_column(media: Path) -> None:
    info = probe(make_sensor_csv(media, rate_hz=100, seconds=2.0))
    assert (info.modality, info.n_items) == (Modality.SENSOR, 200)
    assert info.details["time_column"] == "t_s"
    assert info.details["columns"] == {"accel_x": "m/s^2", "accel_y": "m/s^2", "temp": "C"}
    assert info.details["rate_hz"] == pytest.approx(100.0)
    iso = probe(make_sensor_csv(media, "iso.csv", iso=True))
    assert iso.capture_time_utc_ns == CAPTURE_UTC_NS and iso.details["time_kind"] == "iso8601"
    pq_info = probe(make_sensor_parquet(media, rate_hz=50))
    assert (pq_info.format, pq_info.n_items, pq_info.details["rate_hz"]) == ("parquet", 100, pytest.approx(50.0))


def test_probe_events_metadata_and_pdf(media: Path) -> None:
    ev = probe(make_events_csv(media))
    assert (ev.modality, ev.n_items) == (Modality.EVENTS, 4)
    assert ev.details["event_types"] == {"arm": 1, "door": 2, "light": 1}
    meta = probe(make_metadata_csv(media, n=5))
    assert (meta.modality, meta.n_items) == (Modality.METADATA, 5)
    doc = probe(make_pdf(media, pages=3))
    assert (doc.modality, doc.n_items) == (Modality.DOCUMENT, 3)
