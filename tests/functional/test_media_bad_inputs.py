"""Every bad input kind yields a one-line MediaError of the right kind, never a traceback."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mediafiles import (
    encode_audio,
    make_bomb_jpeg,
    make_bomb_png,
    make_broken_symlink,
    make_click_wav,
    make_directory_named,
    make_empty,
    make_garbage,
    make_jpeg_with_metadata,
    make_malformed_srt,
    make_malformed_vtt,
    make_metadata_csv,
    make_sensor_csv,
    make_srt,
    make_video,
    non_utf8_path,
    truncate_copy,
)

from syncline.media.probe import probe
from syncline.media.types import MediaError, MediaErrorKind, Modality

pytestmark = pytest.mark.functional
K = MediaErrorKind


def _truncated_mp4(d: Path) -> Path:
    return truncate_copy(make_video(d, "whole.mp4"), d / "cut.mp4", fraction=0.6)


def _truncated_faststart_mp4(d: Path) -> Path:
    src = make_video(d, "fast.mp4", extra=("-movflags", "+faststart"))
    return truncate_copy(src, d / "cutfast.mp4", fraction=0.6)


def _truncated_wav(d: Path) -> Path:
    return truncate_copy(make_click_wav(d, "w.wav"), d / "cut.wav", fraction=0.6)


def _truncated_mkv(d: Path) -> Path:
    return truncate_copy(make_video(d, "whole.mkv"), d / "cut.mkv", fraction=0.6)


def _truncated_jpeg(d: Path) -> Path:
    return truncate_copy(make_jpeg_with_metadata(d, "p.jpg"), d / "cut.jpg", fraction=0.7)


def _wav_named_mp4(d: Path) -> Path:
    return Path(shutil.copy(make_click_wav(d, "x.wav"), d / "x.mp4"))


def _srt_named_jpg(d: Path) -> Path:
    return Path(shutil.copy(make_srt(d, "s.srt"), d / "s.jpg"))


def _mp4_header_then_garbage(d: Path) -> Path:
    p = d / "hdr.mp4"
    p.write_bytes(b"\x00\x00\x00\x10ftypisom\x00\x00\x02\x00" + bytes(range(256)) * 8)
    return p


def _non_monotonic(d: Path) -> Path:
    return make_sensor_csv(d, "nm.csv", non_monotonic_row=50)


def _duplicate_entity(d: Path) -> Path:
    p = make_metadata_csv(d, "dup.csv")
    p.write_text(p.read_text() + "e1,site9,99\n")
    return p


def _mp3_truncated(d: Path) -> Path:
    src = encode_audio(make_click_wav(d, "c.wav", seconds=3.0), d / "c.mp3")
    return truncate_copy(src, d / "cut.mp3", fraction=0.5)


CASES: list[tuple[str, Callable[[Path], Path], MediaErrorKind, str]] = [
    ("truncated mp4 (moov at end)", _truncated_mp4, K.TRUNCATED, "truncated"),
    ("truncated mp4 (faststart)", _truncated_faststart_mp4, K.TRUNCATED, "truncated"),
    ("truncated wav", _truncated_wav, K.TRUNCATED, "'data' chunk"),
    ("truncated mkv", _truncated_mkv, K.TRUNCATED, "truncated"),
    ("truncated mp3", _mp3_truncated, K.TRUNCATED, "truncated"),
    ("truncated jpeg", _truncated_jpeg, K.TRUNCATED, "truncated"),
    ("zero bytes", lambda d: make_empty(d), K.EMPTY, "0 bytes"),
    ("wav named mp4", _wav_named_mp4, K.WRONG_EXTENSION, "rename it to .wav"),
    ("srt named jpg", _srt_named_jpg, K.WRONG_EXTENSION, "rename it to .srt"),
    ("garbage mp4", lambda d: make_garbage(d, "g.mp4"), K.UNDECODABLE, "corrupt"),
    ("garbage wav", lambda d: make_garbage(d, "g.wav"), K.UNDECODABLE, "corrupt"),
    ("mp4 header then garbage", _mp4_header_then_garbage, K.UNDECODABLE, "corrupt"),
    ("png bomb", lambda d: make_bomb_png(d), K.BOMB, "megapixels"),
    ("jpeg bomb", lambda d: make_bomb_jpeg(d), K.BOMB, "megapixels"),
    (
        "jpeg just over the limit",
        lambda d: make_bomb_jpeg(d, "b2.jpg", width=10001, height=10000),
        K.BOMB,
        "10001x10000",
    ),
    ("non-monotonic sensor", _non_monotonic, K.NON_MONOTONIC_TIME, "data row 50"),
    ("srt bad timestamp", lambda d: make_malformed_srt(d, "bad_timestamp"), K.MALFORMED_SUBTITLES, "line 2"),
    ("srt end before start", lambda d: make_malformed_srt(d, "end_before_start"), K.MALFORMED_SUBTITLES, "line 6"),
    ("srt garbage block", lambda d: make_malformed_srt(d, "garbage"), K.MALFORMED_SUBTITLES, "line 5"),
    ("vtt bad timestamp", lambda d: make_malformed_vtt(d), K.MALFORMED_SUBTITLES, "line 6"),
    ("duplicate entity_id", _duplicate_entity, K.MALFORMED_TABLE, "'e1'"),
    ("broken symlink", lambda d: make_broken_symlink(d), K.UNREADABLE, "broken symbolic link"),
    ("directory named like a file", lambda d: make_directory_named(d), K.UNREADABLE, "directory"),
]


@pytest.mark.parametrize(("label", "make", "kind", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_one_line_error_of_the_right_kind(
    tmp_path: Path, label: str, make: Callable[[Path], Path], kind: MediaErrorKind, fragment: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(MediaError) as err:
        probe(path)
    assert err.value.kind is kind, f"{label}: {err.value}"
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message and "Traceback" not in message
    assert ";" in message  # what is wrong; what to do


def test_bomb_is_refused_quickly_without_decoding(tmp_path: Path) -> None:
    path = make_bomb_png(tmp_path)
    assert path.stat().st_size < 200
    with pytest.raises(MediaError) as err:
        probe(path)
    assert err.value.kind is K.BOMB


def test_non_utf8_file_name_is_probed_and_named_in_errors(tmp_path: Path) -> None:
    good = non_utf8_path(tmp_path, b"caf\xe9", ".wav")
    shutil.copy(make_click_wav(tmp_path, "c.wav"), good)
    assert probe(good).modality is Modality.AUDIO
    bad = non_utf8_path(tmp_path, b"vid\xff", ".mp4")
    bad.write_bytes(b"")
    with pytest.raises(MediaError) as err:
        probe(bad)
    assert err.value.kind is K.EMPTY
    str(err.value).encode("utf-8")  # the message is printable UTF-8


def test_a_named_pipe_is_unreadable_not_a_hang(tmp_path: Path) -> None:
    """Permission bits do not stop root (tests run as root), so the unreadable case that can
    really happen here is a special file: reading a FIFO would block forever."""
    import os

    path = tmp_path / "stream.wav"
    os.mkfifo(path)
    with pytest.raises(MediaError) as err:
        probe(path)
    assert err.value.kind is K.UNREADABLE
