"""Header-level parsing: MP3 LAME delay, MP4 edit lists, EXIF and container times, tags."""

from __future__ import annotations

import struct
from fractions import Fraction
from pathlib import Path

from syncline.media.container import box_problem, mp3_encoder_delay, mp4_tracks
from syncline.media.decoding import to_ns
from syncline.media.image import exif_time_utc_ns
from syncline.media.video import container_context, parse_iso_utc_ns

T0 = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def test_mp3_encoder_delay_reads_the_lame_tag(tmp_path: Path) -> None:
    frame = bytearray(b"\xff\xfb\x90\x64" + b"\x00" * 32)
    info = b"Info" + struct.pack(">I", 0) + b"LAME3.100" + b"\x00" * 12 + bytes([0x24, 0x05, 0x40])
    frame += info + b"\x00" * 64
    p = tmp_path / "x.mp3"
    p.write_bytes(bytes(frame))
    assert mp3_encoder_delay(p) == 576


def test_mp3_without_a_lame_tag_has_no_delay_reading(tmp_path: Path) -> None:
    p = tmp_path / "x.mp3"
    p.write_bytes(b"\xff\xfb\x90\x64" + b"\x00" * 400)
    assert mp3_encoder_delay(p) is None


def test_mp4_tracks_reads_the_edit_list_media_time(tmp_path: Path) -> None:
    mvhd = _box(b"mvhd", b"\x00" * 12 + struct.pack(">I", 1000) + b"\x00" * 80)
    elst = _box(b"elst", b"\x00" * 4 + struct.pack(">I", 2) + struct.pack(">Iihh", 500, -1, 1, 0)
                + struct.pack(">Iihh", 2000, 2112, 1, 0))
    mdhd = _box(b"mdhd", b"\x00" * 12 + struct.pack(">I", 44100) + b"\x00" * 8)
    hdlr = _box(b"hdlr", b"\x00" * 8 + b"soun" + b"\x00" * 13)
    trak = _box(b"trak", _box(b"edts", elst) + _box(b"mdia", mdhd + hdlr))
    p = tmp_path / "x.m4a"
    p.write_bytes(_box(b"ftyp", b"M4A \x00\x00\x00\x00") + _box(b"moov", mvhd + trak))
    movie = mp4_tracks(p)
    assert movie is not None and movie.timescale == 1000
    (track,) = movie.tracks
    assert (track.handler, track.timescale, track.media_time, track.empty_edit_duration) == ("soun", 44100, 2112, 500)
    assert box_problem(p) is None


def test_box_problem_finds_a_cut_box(tmp_path: Path) -> None:
    p = tmp_path / "x.mp4"
    p.write_bytes(_box(b"ftyp", b"isom\x00\x00\x00\x00") + struct.pack(">I", 10_000) + b"mdat" + b"\x00" * 100)
    assert box_problem(p) is not None and box_problem(p)[0] == "truncated"  # type: ignore[index]


def test_exif_time_is_utc_unless_an_offset_says_otherwise() -> None:
    assert exif_time_utc_ns("2024:05:01 12:00:00") == T0
    assert exif_time_utc_ns("2024:05:01 14:00:00", "+02:00") == T0
    assert exif_time_utc_ns("0000:00:00 00:00:00") is None


def test_container_creation_time_and_device() -> None:
    assert parse_iso_utc_ns("2024-05-01T12:00:00.000000Z") == T0
    assert parse_iso_utc_ns("1970-01-01T00:00:00Z") is None
    capture, device, gps = container_context({
        "creation_time": "2024-05-01T12:00:00Z", "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 12", "location": "+48.85+002.29/"})
    assert (capture, device, gps) == (T0, "Apple iPhone 12", True)


def test_to_ns_is_exact_for_rational_time_bases() -> None:
    assert to_ns(1105, Fraction(1, 48000)) == 23_020_833
    assert to_ns(25600, Fraction(1, 12800)) == 2_000_000_000
    assert to_ns(None, Fraction(1, 1)) is None
