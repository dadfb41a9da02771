"""scrub() removes identifying metadata (checked with exiftool) and leaves content unchanged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mediafiles import (
    COMMENT,
    IPTC_CITY,
    encode_audio,
    make_click_wav,
    make_jpeg_with_metadata,
    make_pdf,
    make_png_with_text,
    make_sensor_csv,
    make_tagged_mp4,
)
from PIL import Image

from syncline.media.audio import read_audio
from syncline.media.probe import probe
from syncline.media.scrub import scrub
from syncline.media.video import iter_frames

pytestmark = pytest.mark.functional
IDENTIFYING = ("gps", "xmp", "comment", "location", "title", "iptc", "make", "model", "author", "creator", "city")


def exiftool(path: Path) -> dict[str, Any]:
    out = subprocess.run(["exiftool", "-j", "-G1", "-a", str(path)], capture_output=True, text=True, check=True)
    doc: dict[str, Any] = json.loads(out.stdout)[0]
    skip = ("System:", "ExifTool:", "File:", "SourceFile")
    return {k: v for k, v in doc.items() if not k.startswith(skip) or k == "File:Comment"}  # COM is File:Comment


def _identifying(tags: dict[str, Any]) -> list[str]:
    text = json.dumps(tags).lower()
    hits = [k for k in tags if any(w in k.lower() for w in IDENTIFYING)]
    for needle in ("alice", COMMENT.lower(), IPTC_CITY.lower(), "48.85", "canon"):
        if needle in text:
            hits.append(needle)
    return hits


def test_scrub_jpeg_drops_exif_gps_xmp_iptc_comment_and_keeps_pixels(tmp_path: Path) -> None:
    src = make_jpeg_with_metadata(tmp_path)
    before = exiftool(src)
    assert any("GPS" in k for k in before) and any(k.startswith("XMP") for k in before)
    assert any(k.startswith("IPTC") for k in before) and any("Comment" in k for k in before)
    dest = tmp_path / "clean.jpg"
    report = scrub(src, probe(src), dest)
    assert {"exif", "gps", "xmp", "iptc", "comment"} <= set(report.stripped)
    assert _identifying(exiftool(dest)) == []
    with Image.open(src) as a, Image.open(dest) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    after = probe(dest)
    assert (after.has_gps, after.device, after.capture_time_utc_ns) == (False, None, None)


def test_scrub_png_drops_text_xmp_exif_and_time_chunks(tmp_path: Path) -> None:
    src = make_png_with_text(tmp_path)
    dest = tmp_path / "clean.png"
    report = scrub(src, probe(src), dest)
    assert {"text", "xmp", "exif", "time", "gps"} <= set(report.stripped)
    assert _identifying(exiftool(dest)) == []
    assert not any("ModifyDate" in k or "Time" in k for k in exiftool(dest))
    with Image.open(src) as a, Image.open(dest) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_scrub_mp4_drops_title_comment_location_and_keeps_streams_and_timing(tmp_path: Path) -> None:
    src = make_tagged_mp4(tmp_path)
    assert _identifying(exiftool(src))
    info = probe(src)
    dest = tmp_path / "clean.mp4"
    report = scrub(src, info, dest)
    expected = {"container:title", "container:comment", "container:location", "container:creation_time"}
    assert expected <= set(report.stripped)
    assert _identifying(exiftool(dest)) == []
    after = probe(dest)
    assert (after.start_ns, after.duration_ns, after.frame_count, after.priming_samples) == (
        info.start_ns, info.duration_ns, info.frame_count, info.priming_samples)
    assert after.capture_time_utc_ns is None and not after.has_gps
    for (pa_, fa), (pb, fb) in zip(iter_frames(src), iter_frames(dest), strict=True):
        assert pa_ == pb
        np.testing.assert_array_equal(fa, fb)
    a, _, sa = read_audio(src)
    b, _, sb = read_audio(dest)
    assert sa == sb
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("ext", [".m4a", ".mp3"])
def test_scrub_audio_keeps_priming_and_samples(tmp_path: Path, ext: str) -> None:
    src = encode_audio(make_click_wav(tmp_path), tmp_path / f"c{ext}", extra=("-metadata", "title=Alice diary"))
    info = probe(src)
    dest = tmp_path / f"clean{ext}"
    report = scrub(src, info, dest)
    assert "container:title" in report.stripped
    after = probe(dest)
    timing = ("priming_samples", "start_ns", "duration_ns")
    assert [getattr(after, f) for f in timing] == [getattr(info, f) for f in timing]
    assert _identifying(exiftool(dest)) == []
    np.testing.assert_array_equal(read_audio(src)[0], read_audio(dest)[0])


def test_scrub_pdf_removes_info_and_xmp(tmp_path: Path) -> None:
    src = make_pdf(tmp_path)
    dest = tmp_path / "clean.pdf"
    report = scrub(src, probe(src), dest)
    assert set(report.stripped) == {"pdf:info", "xmp"}
    assert _identifying(exiftool(dest)) == []
    assert probe(dest).n_items == 3


def test_scrub_copies_text_kinds_byte_for_byte(tmp_path: Path) -> None:
    src = make_sensor_csv(tmp_path)
    dest = tmp_path / "copy.csv"
    assert scrub(src, probe(src), dest).stripped == ()
    assert dest.read_bytes() == src.read_bytes()


def test_scrub_wav_drops_info_chunks_and_keeps_samples_bit_exact(tmp_path: Path) -> None:
    src = encode_audio(make_click_wav(tmp_path), tmp_path / "tagged.wav",
                       extra=("-metadata", "title=Alice diary", "-metadata", "artist=Alice"))
    assert any("Title" in k for k in exiftool(src))
    dest = tmp_path / "clean.wav"
    report = scrub(src, probe(src), dest)
    assert report.stripped == ("container:info",)
    assert _identifying(exiftool(dest)) == [] and not any("Title" in k or "Artist" in k for k in exiftool(dest))
    np.testing.assert_array_equal(read_audio(src)[0], read_audio(dest)[0])
    assert probe(dest).duration_ns == probe(src).duration_ns
