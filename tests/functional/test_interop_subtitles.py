"""WebVTT and SRT for time spans: an annotator's spans become cues and come back as the same
labels in a fresh project; cue times count in an asset's player time through its clock (a file
running 2.5 s late puts a cue at 1.0 s at 3.5 s on the entity timeline, and back); times round
to the millisecond; and each bad cue is refused by number while the rest is written."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
import yaml
from mediafiles import make_tone

from syncline.annotate.interop.subtitles import export_subtitles, import_subtitles
from syncline.annotate.labels import write_labels
from syncline.ingest import ingest
from syncline.project import Project, init_project

pytestmark = pytest.mark.functional

S = 1_000_000_000
MIC_OFFSET_NS = 2_500_000_000
SCHEMA = {
    "version": 1,
    "fields": {
        "posture": {"kind": "perception", "granularity": "entity", "type": "time_span",
                    "values": ["standing", "lying"]},
        "call": {"kind": "perception", "granularity": "entity", "type": "time_span"},
        "state": {"kind": "perception", "granularity": "entity", "type": "class", "values": ["calm", "restless"]},
    },
    "annotators": {
        "vet-a": {"tier": "expert", "fields": ["posture", "call", "state"]},
        "crowd-c": {"tier": "crowd", "fields": ["posture"]},
    },
}
SPANS = [  # (instance, t0_ns, t1_ns, class) of vet-a on the entity timeline, all millisecond-aligned
    ("p1", 1 * S, 2_500_000_000, "lying"),
    ("p2", 3_123_000_000, 4 * S, "standing"),
    ("p3", 3_900_000_000, 7 * S, "lying"),
]


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """stall-1: a 10 s room recording on the entity clock and a 6 s microphone file."""
    root = tmp_path_factory.mktemp("subs-media")
    stall = root / "stall-1"
    stall.mkdir()
    make_tone(stall, "room.wav", seconds=10.0)
    make_tone(stall, "mic.wav", seconds=6.0, freq=880.0)
    return root


def _project(root: Path, media_dir: Path, *, mic_offset_ns: int = 0) -> tuple[Project, str]:
    """A project of the media; the microphone's clock runs ``mic_offset_ns`` late. Returns the
    project and the microphone's asset ID."""
    p = init_project(root)
    ingest(p, [media_dir])
    (p.root / "labels.yaml").write_text(yaml.safe_dump(SCHEMA), encoding="utf-8")
    mic = next(r for r in p.catalog().read("assets").to_pylist() if Path(r["source_path"]).name == "mic.wav")
    if mic_offset_ns:
        p.catalog().upsert("assets", [{**mic, "clock_offset_ns": mic_offset_ns}])
    return p, str(mic["asset_id"])


def _spans(p: Project, field: str = "posture", annotator: str = "vet-a") -> list[tuple[Any, ...]]:
    """(instance, value) of the current labels of ``field`` by ``annotator``, sorted."""
    return sorted((r["instance"], r["value"]) for r in p.catalog().read("labels").to_pylist()
                  if r["field"] == field and r["annotator"] == annotator)


def _ffmpeg_cues(text: str, path: Path) -> list[tuple[int, int, str]]:
    """(t0_ms, t1_ms, text) of each cue as FFmpeg's SRT/WebVTT demuxer reads the file: a
    reference reader independent of syncline's."""
    path.write_text(text, encoding="utf-8")
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        assert stream.time_base == Fraction(1, 1000)
        return [(int(pk.pts), int(pk.pts + pk.duration), bytes(pk).decode()) for pk in container.demux(stream)
                if pk.pts is not None]


def _write_truth(p: Project) -> None:
    labels = [{"field": "posture", "target_id": "stall-1", "annotator": "vet-a", "instance": i, "value": [t0, t1, c]}
              for i, t0, t1, c in SPANS]
    labels.append({"field": "posture", "target_id": "stall-1", "annotator": "crowd-c", "instance": "x",
                   "value": [0, S, "standing"]})  # another annotator: not in vet-a's file
    res = write_labels(p, labels)
    assert res.written == 4 and not res.refused, res.refused


VTT = """WEBVTT

p1
00:00:01.000 --> 00:00:02.500
lying

p2
00:00:03.123 --> 00:00:04.000
standing

p3
00:00:03.900 --> 00:00:07.000
lying
"""

SRT = """1
00:00:01,000 --> 00:00:02,500
lying

2
00:00:03,123 --> 00:00:04,000
standing

3
00:00:03,900 --> 00:00:07,000
lying
"""


def test_vtt_export_writes_each_span_as_a_cue_and_imports_back_to_the_same_labels(
        tmp_path: Path, media_dir: Path) -> None:
    p, _ = _project(tmp_path / "p", media_dir)
    _write_truth(p)
    text = export_subtitles(p, "posture", entity_id="stall-1", annotator="vet-a", fmt="vtt")
    assert text == VTT
    assert _ffmpeg_cues(text, tmp_path / "out.vtt") == [(t0 // 10**6, t1 // 10**6, c) for _, t0, t1, c in SPANS]
    fresh, _ = _project(tmp_path / "fresh", media_dir)
    res = import_subtitles(fresh, text, fmt="vtt", field="posture", annotator="vet-a", target_id="stall-1")
    assert (res.written, res.refused) == (3, [])
    assert _spans(fresh) == _spans(p) == sorted((i, f'[{t0}, {t1}, "{c}"]') for i, t0, t1, c in SPANS)


def test_srt_round_trip_keeps_spans_and_classes_and_numbers_the_instances(tmp_path: Path, media_dir: Path) -> None:
    p, _ = _project(tmp_path / "p", media_dir)
    _write_truth(p)
    text = export_subtitles(p, "posture", entity_id="stall-1", annotator="vet-a", fmt="srt")
    assert text == SRT
    assert _ffmpeg_cues(text, tmp_path / "out.srt") == [(t0 // 10**6, t1 // 10**6, c) for _, t0, t1, c in SPANS]
    fresh, _ = _project(tmp_path / "fresh", media_dir)
    res = import_subtitles(fresh, text, fmt="srt", field="posture", annotator="vet-a", target_id="stall-1")
    assert (res.written, res.refused) == (3, [])
    assert _spans(fresh) == [(f"cue-{n}", f'[{t0}, {t1}, "{c}"]') for n, (_, t0, t1, c) in enumerate(SPANS, 1)]


def test_a_field_without_classes_writes_its_name_and_times_round_to_the_millisecond(
        tmp_path: Path, media_dir: Path) -> None:
    p, _ = _project(tmp_path / "p", media_dir)
    res = write_labels(p, [{"field": "call", "target_id": "stall-1", "annotator": "vet-a", "instance": "c1",
                            "value": [1_000_400_000, 2_000_600_000]}])
    assert res.written == 1
    text = export_subtitles(p, "call", entity_id="stall-1", annotator="vet-a", fmt="srt")
    assert text == "1\n00:00:01,000 --> 00:00:02,001\ncall\n"
    fresh, _ = _project(tmp_path / "fresh", media_dir)
    back = import_subtitles(fresh, text, fmt="srt", field="call", annotator="vet-a", target_id="stall-1")
    assert back.written == 1 and _spans(fresh, "call") == [("cue-1", "[1000000000, 2001000000]")]


def test_cue_times_count_in_the_named_assets_player_time_through_its_clock(tmp_path: Path, media_dir: Path) -> None:
    p, mic = _project(tmp_path / "p", media_dir, mic_offset_ns=MIC_OFFSET_NS)
    vtt = "WEBVTT\n\nm1\n00:00:01.000 --> 00:00:02.000\nlying\n"
    res = import_subtitles(p, vtt, fmt="vtt", field="posture", annotator="vet-a", target_id="stall-1", asset_id=mic)
    assert (res.written, res.refused) == (1, [])
    assert _spans(p) == [("m1", '[3500000000, 4500000000, "lying"]')]  # 1.0-2.0 s + 2.5 s
    on_mic = export_subtitles(p, "posture", entity_id="stall-1", annotator="vet-a", fmt="vtt", asset_id=mic)
    assert on_mic == vtt and _ffmpeg_cues(on_mic, tmp_path / "mic.vtt") == [(1000, 2000, "lying")]
    on_entity = export_subtitles(p, "posture", entity_id="stall-1", annotator="vet-a", fmt="srt")
    assert on_entity == "1\n00:00:03,500 --> 00:00:04,500\nlying\n"


def test_a_span_the_asset_does_not_cover_is_not_exported_in_its_player_time(tmp_path: Path, media_dir: Path) -> None:
    p, mic = _project(tmp_path / "p", media_dir, mic_offset_ns=MIC_OFFSET_NS)
    write_labels(p, [{"field": "posture", "target_id": "stall-1", "annotator": "vet-a", "instance": "early",
                      "value": [1 * S, 2 * S, "lying"]}])  # before the microphone starts (2.5 s)
    with pytest.raises(ValueError, match="lies outside mic.wav"):
        export_subtitles(p, "posture", entity_id="stall-1", annotator="vet-a", fmt="vtt", asset_id=mic)
    with pytest.raises(ValueError, match="belongs to entity 'stall-1', not 'stall-2'"):
        export_subtitles(p, "posture", entity_id="stall-2", annotator="vet-a", fmt="vtt", asset_id=mic)


BAD_VTT = """WEBVTT

NOTE reviewed by vet-a

ok-1
00:00:00.500 --> 00:00:01.500
lying

sleep
00:00:01.000 --> 00:00:02.000
sleeping

late
00:00:05.000 --> 00:00:07.000
standing

zero
00:00:03.000 --> 00:00:03.000
lying

garbled
00:00:61.000 --> 00:00:62.000
lying

ok-1
00:00:04.000 --> 00:00:04.500
lying

00:00:02.000 --> 00:00:03.000 align:start
  standing
"""


def test_bad_cues_are_refused_by_number_and_the_rest_is_written(tmp_path: Path, media_dir: Path) -> None:
    p, mic = _project(tmp_path / "p", media_dir, mic_offset_ns=MIC_OFFSET_NS)
    res = import_subtitles(p, BAD_VTT, fmt="vtt", field="posture", annotator="vet-a", target_id="stall-1",
                           asset_id=mic, name="bad.vtt")
    assert res.written == 2
    why = dict(res.refused)
    assert list(why) == ["cue 2 (line 9)", "cue 3 (line 13)", "cue 4 (line 17)", "cue 5 (line 21)", "cue 6 (line 25)"]
    assert "'sleeping' is not a class of 'posture'; classes: standing, lying" in why["cue 2 (line 9)"]
    assert "[5.000, 7.000] s is outside mic.wav (0 to 6.000 s)" in why["cue 3 (line 13)"]
    assert "ends at or before it starts" in why["cue 4 (line 17)"]
    assert "bad timestamp '00:00:61.000'" in why["cue 5 (line 21)"]
    assert "identifier 'ok-1' is also cue 1 (line 5)" in why["cue 6 (line 25)"]
    assert _spans(p) == [("cue-7", '[4500000000, 5500000000, "standing"]'),
                         ("ok-1", '[3000000000, 4000000000, "lying"]')]


def test_whole_file_and_field_errors_name_what_to_fix(tmp_path: Path, media_dir: Path) -> None:
    p, _ = _project(tmp_path / "p", media_dir)
    kw: dict[str, Any] = {"field": "posture", "annotator": "vet-a", "target_id": "stall-1"}
    with pytest.raises(ValueError, match=r"notes.vtt: not a WebVTT file \(line 1 must be 'WEBVTT'\)"):
        import_subtitles(p, SRT, fmt="vtt", name="notes.vtt", **kw)
    with pytest.raises(ValueError, match="field 'state' is a class field; subtitles carry time_span fields only"):
        import_subtitles(p, VTT, fmt="vtt", **{**kw, "field": "state"})
    with pytest.raises(ValueError, match="choose srt or vtt"):
        export_subtitles(p, "posture", entity_id="stall-1", annotator="vet-a", fmt="ass")
    res = import_subtitles(p, VTT, fmt="vtt", **{**kw, "annotator": "nobody"})
    assert res.written == 0 and [w for w, _ in res.refused] == ["cue 1 (line 3)", "cue 2 (line 7)", "cue 3 (line 11)"]
    assert all("unknown annotator 'nobody'" in r for _, r in res.refused)
