"""Subtitle and transcript parsing from strings (no files)."""

from __future__ import annotations

import json

import pytest

from syncline.media.transcript import parse_json, parse_srt, parse_vtt
from syncline.media.types import MediaError, MediaErrorKind


def test_parse_srt_reads_times_and_text() -> None:
    cues = parse_srt("1\n00:00:01,500 --> 00:00:02,250\nhello\nworld\n\n2\n01:00:00,000 --> 01:00:01,000\nx\n", "a.srt")
    assert [(c.t0_ns, c.t1_ns) for c in cues] == [(1_500_000_000, 2_250_000_000), (3600_000_000_000, 3601_000_000_000)]
    assert cues[0].text == "hello\nworld"


def test_parse_vtt_reads_voice_tags_and_skips_notes() -> None:
    text = "WEBVTT\n\nNOTE hi\n\nid1\n00:01.000 --> 00:02.000 align:start\n<v Alice>hello <b>there</b>\n"
    (cue,) = parse_vtt(text, "a.vtt")
    assert (cue.t0_ns, cue.t1_ns, cue.text, cue.speaker) == (1_000_000_000, 2_000_000_000, "hello there", "Alice")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("1\n00:00:01,000 --> 00:00:0x,000\nhi\n", "line 2"),
        ("1\n00:00:02,000 --> 00:00:01,000\nhi\n", "line 2"),
        ("hello\nworld\n", "line 1"),
    ],
)
def test_parse_srt_names_the_bad_line(text: str, line: str) -> None:
    with pytest.raises(MediaError) as err:
        parse_srt(text, "a.srt")
    assert err.value.kind is MediaErrorKind.MALFORMED_SUBTITLES
    assert line in str(err.value) and "\n" not in str(err.value)


def test_parse_vtt_requires_the_header() -> None:
    with pytest.raises(MediaError, match="WEBVTT"):
        parse_vtt("00:01.000 --> 00:02.000\nhi\n", "a.vtt")


def test_parse_json_reads_word_timings_and_speakers() -> None:
    words = [{"word": "hi", "start": 0.5, "end": 0.9}, {"word": "you", "start": 1.0, "end": 1.5}]
    doc = {"segments": [{"start": 0.5, "end": 1.5, "text": "hi you", "speaker": "A", "words": words}]}
    (cue,) = parse_json(json.dumps(doc), "a.json")
    assert cue.speaker == "A"
    assert [(w.text, w.t0_ns, w.t1_ns) for w in cue.words] == [
        ("hi", 500_000_000, 900_000_000),
        ("you", 1_000_000_000, 1_500_000_000),
    ]


def test_parse_json_refuses_a_word_that_ends_before_it_starts() -> None:
    doc = {"segments": [{"start": 0, "end": 1, "text": "x", "words": [{"word": "x", "start": 0.8, "end": 0.2}]}]}
    with pytest.raises(MediaError, match="segment 0 word 0") as err:
        parse_json(json.dumps(doc), "a.json")
    assert err.value.kind is MediaErrorKind.MALFORMED_SUBTITLES
