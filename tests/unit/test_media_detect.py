"""detect() from content: magic bytes, text sniffing, and the wrong-extension rule."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from syncline.media.detect import detect, sniff_binary
from syncline.media.types import MediaError, MediaErrorKind, Modality

WAV_HEAD = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt "


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", (Modality.VIDEO, "mp4")),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", (Modality.VIDEO, "mov")),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00", (Modality.AUDIO, "m4a")),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", (Modality.VIDEO, "webm")),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", (Modality.VIDEO, "matroska")),
        (b"RIFF\x00\x00\x00\x00AVI LIST", (Modality.VIDEO, "avi")),
        (WAV_HEAD, (Modality.AUDIO, "wav")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", (Modality.IMAGE, "webp")),
        (b"fLaC\x00\x00\x00\x22", (Modality.AUDIO, "flac")),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", (Modality.AUDIO, "ogg")),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64", (Modality.AUDIO, "mp3")),
        (b"\xff\xfb\x90\x64\x00\x00", (Modality.AUDIO, "mp3")),
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", (Modality.AUDIO, "aac")),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", (Modality.IMAGE, "jpeg")),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", (Modality.IMAGE, "png")),
        (b"GIF89a\x10\x00", (Modality.IMAGE, "gif")),
        (b"II*\x00\x08\x00\x00\x00", (Modality.IMAGE, "tiff")),
        (b"%PDF-1.7\n", (Modality.DOCUMENT, "pdf")),
    ],
)
def test_sniff_binary_recognises_magic_bytes(head: bytes, expected: tuple[Modality, str]) -> None:
    assert sniff_binary(head) == expected


def test_sniff_binary_returns_none_for_unknown_bytes() -> None:
    assert sniff_binary(b"\x00\x01\x02\x03hello") is None


def _write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode() if isinstance(content, str) else content)
    return p


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.srt", "1\n00:00:01,000 --> 00:00:02,000\nhi\n", (Modality.TRANSCRIPT, "srt")),
        ("a.vtt", "WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", (Modality.TRANSCRIPT, "vtt")),
        ("a.json", '{"segments": [{"start": 0, "end": 1, "text": "x"}]}', (Modality.TRANSCRIPT, "json")),
        ("imu.csv", "t,accel_x[m/s^2]\n0,1.5\n0.01,1.6\n", (Modality.SENSOR, "csv")),
        ("imu.tsv", "time\tgyro (rad/s)\n0\t1\n1\t2\n", (Modality.SENSOR, "tsv")),
        ("ev.csv", "ts,event,actor\n0,open,a\n", (Modality.EVENTS, "csv")),
        ("ev.jsonl", '{"t": 0, "type": "open"}\n{"t": 1, "type": "close"}\n', (Modality.EVENTS, "jsonl")),
        ("meta.csv", "entity_id,site\ne1,a\n", (Modality.METADATA, "csv")),
        ("meta.jsonl", '{"entity_id": "e1"}\n{"entity_id": "e2"}\n', (Modality.METADATA, "jsonl")),
        ("noext", "1\n00:00:01,000 --> 00:00:02,000\nhi\n", (Modality.TRANSCRIPT, "srt")),
        ("wav.bin", WAV_HEAD + b"\x00" * 64, (Modality.AUDIO, "wav")),
        ("subs.txt", "WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", (Modality.TRANSCRIPT, "vtt")),
    ],
)
def test_detect_classifies_from_content(
    tmp_path: Path, name: str, content: bytes | str, expected: tuple[Modality, str]
) -> None:
    assert detect(_write(tmp_path, name, content)) == expected


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("sound.mp4", WAV_HEAD + b"\x00" * 64, "named .mp4 but the content is WAV audio; rename it to .wav"),
        ("photo.jpg", "entity_id,site\ne1,a\n", "named .jpg but the content is a CSV table"),
        ("notes.png", "just some words\n", "named .png but the content is plain text"),
        ("clip.wav", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "rename it to .png"),
    ],
)
def test_detect_refuses_content_that_contradicts_the_extension(
    tmp_path: Path, name: str, content: bytes | str, fragment: str
) -> None:
    with pytest.raises(MediaError) as err:
        detect(_write(tmp_path, name, content))
    assert err.value.kind is MediaErrorKind.WRONG_EXTENSION
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_detect_empty_file_is_empty(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as err:
        detect(_write(tmp_path, "x.wav", b""))
    assert err.value.kind is MediaErrorKind.EMPTY


def test_detect_table_without_time_or_key_is_malformed(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as err:
        detect(_write(tmp_path, "x.csv", "a,b\n1,2\n"))
    assert err.value.kind is MediaErrorKind.MALFORMED_TABLE


def test_detect_reads_only_the_head_of_a_large_binary(tmp_path: Path) -> None:
    big = _write(tmp_path, "big.wav", WAV_HEAD + b"\x00" * (8 * 1024 * 1024))
    assert detect(big) == (Modality.AUDIO, "wav")
