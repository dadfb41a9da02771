"""Transcript-to-audio alignment on seeded espeak-ng memos with planted ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from syncline.align.forced import align_cues
from syncline.align.transcript import estimate_transcript_lag
from syncline.align.types import Verdict
from syncline.demo.synth_speech import Memo, espeak_available, make_memo, write_srt
from syncline.media.transcript import Cue, read_transcript

pytestmark = [
    pytest.mark.functional,
    pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed"),
]
MS = 1_000_000
S = 1_000_000_000


@pytest.fixture(scope="module")
def memos(tmp_path_factory: pytest.TempPathFactory) -> list[Memo]:
    out = tmp_path_factory.mktemp("memos")
    return [make_memo(out, seed=seed, n_utterances=6) for seed in range(4)]


@pytest.mark.parametrize(
    ("seed", "shift_s", "fmt"),
    [(10, -5.0, "srt"), (11, -2.2, "vtt"), (12, -0.3, "srt"), (13, 0.3, "vtt"), (14, 1.7, "srt"), (15, 5.0, "m4a")],
)
def test_recovers_planted_transcript_shift_within_50ms(tmp_path: Path, seed: int, shift_s: float, fmt: str) -> None:
    shift = int(shift_s * S)
    memo = make_memo(tmp_path, seed=seed, shift_ns=shift, transcripts=("srt", "vtt"), m4a=fmt == "m4a")
    audio = memo.m4a if fmt == "m4a" else memo.wav
    text = memo.vtt if fmt == "vtt" else memo.srt
    assert audio is not None and text is not None
    est = estimate_transcript_lag(audio, text)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and abs(est.lag_ns - (-shift)) <= 50 * MS, (est.lag_ns, -shift)


def test_forced_alignment_refines_utterance_boundaries_within_50ms(memos: list[Memo]) -> None:
    errors: list[float] = []
    rng = np.random.default_rng(0)
    for memo in memos[:3]:
        assert memo.srt is not None
        # sloppy cues: each edge off by up to 150 ms
        cues = [Cue(c.t0_ns + int(rng.uniform(-150, 150) * MS), c.t1_ns + int(rng.uniform(-150, 150) * MS), c.text)
                for c in read_transcript(memo.srt)]
        result = align_cues(memo.wav, cues)
        assert [a.status for a in result.per_cue] == ["aligned"] * len(cues)
        for cue, truth in zip(result.cues, memo.utterances, strict=True):
            errors += [abs(cue.t0_ns - truth.t0_ns) / MS, abs(cue.t1_ns - truth.t1_ns) / MS]
            starts = [w.t0_ns for w in cue.words]
            assert cue.words and starts == sorted(starts)
            assert cue.words[0].t0_ns == cue.t0_ns and cue.words[-1].t1_ns == cue.t1_ns
    assert np.mean(np.array(errors) <= 50) >= 0.95, errors


def test_forced_alignment_follows_the_lag_and_returns_cue_time(tmp_path: Path) -> None:
    memo = make_memo(tmp_path, seed=21, n_utterances=3, shift_ns=2 * S)
    assert memo.srt is not None
    refined = align_cues(memo.wav, read_transcript(memo.srt), lag_ns=-2 * S).cues
    for cue, truth in zip(refined, memo.utterances, strict=True):
        assert abs(cue.t0_ns - (truth.t0_ns + 2 * S)) <= 50 * MS


def test_abstains_on_silent_audio(tmp_path: Path, memos: list[Memo]) -> None:
    silent = tmp_path / "silent.wav"
    rng = np.random.default_rng(1)
    sf.write(silent, (rng.standard_normal(16000 * 20) * 1e-3).astype(np.float32), 16000)
    assert memos[0].srt is not None
    est = estimate_transcript_lag(silent, memos[0].srt)
    assert est.verdict is Verdict.ABSTAIN and est.reason == "cannot determine: no speech in audio"
    assert est.lag_ns is None


@pytest.mark.parametrize(("audio_i", "text_i"), [(0, 1), (1, 2), (2, 3), (3, 0)])
def test_transcript_of_another_memo_is_never_aligned(memos: list[Memo], audio_i: int, text_i: int) -> None:
    text = memos[text_i].srt
    assert text is not None
    est = estimate_transcript_lag(memos[audio_i].wav, text)
    assert est.verdict in (Verdict.NO_PLAUSIBLE_ALIGNMENT, Verdict.ABSTAIN), est.reason


def test_empty_transcript_abstains(tmp_path: Path, memos: list[Memo]) -> None:
    empty = tmp_path / "empty.vtt"
    empty.write_text("WEBVTT\n\nNOTE the exporter wrote no cues\n", encoding="utf-8")
    est = estimate_transcript_lag(memos[0].wav, empty)
    assert est.verdict is Verdict.ABSTAIN and "no cues" in est.reason


def test_negative_times_in_a_file_give_a_clear_verdict(tmp_path: Path, memos: list[Memo]) -> None:
    bad = tmp_path / "negative.json"
    bad.write_text(json.dumps({"segments": [{"start": -1.0, "end": 2.0, "text": "hello"}]}), encoding="utf-8")
    est = estimate_transcript_lag(memos[0].wav, bad)
    assert est.verdict is Verdict.ABSTAIN and est.reason.startswith("cannot read transcript:")
    assert "negative" in est.reason


def test_negative_and_inverted_cue_times_in_memory_are_handled(memos: list[Memo]) -> None:
    memo = memos[1]
    shift = -(memo.utterances[0].t0_ns + S)  # first cue lands at -1 s
    cues = [Cue(u.t0_ns + shift, u.t1_ns + shift, u.text) for u in memo.utterances]
    cues.append(Cue(5 * S, 4 * S, "ends before it starts"))
    est = estimate_transcript_lag(memo.wav, cues)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and abs(est.lag_ns + shift) <= 50 * MS
    assert est.details["n_cues_negative"] >= 1 and est.details["n_cues_inverted_or_empty"] == 1
    assert "inverted" in est.reason


def test_overlapping_cues_give_a_clear_verdict(tmp_path: Path, memos: list[Memo]) -> None:
    memo = memos[2]
    cues = list(memo.utterances)
    # a duplicate cue overlapping each utterance's second half, as a bad exporter writes it
    from syncline.demo.synth_speech import Utterance

    overlapping = cues + [Utterance((u.t0_ns + u.t1_ns) // 2, u.t1_ns + 100 * MS, "again") for u in cues]
    path = write_srt(tmp_path / "overlap.srt", sorted(overlapping, key=lambda u: u.t0_ns), shift_ns=S)
    est = estimate_transcript_lag(memo.wav, path)
    assert est.verdict is Verdict.ALIGNED, est.reason
    assert est.lag_ns is not None and abs(est.lag_ns + S) <= 50 * MS
    assert "overlapping" in est.reason and est.details["n_cues_overlapping"] == len(cues)


def test_periodic_cues_are_ambiguous(tmp_path: Path) -> None:
    # ten identical sentences at a fixed pace; the transcript covers four in the middle, so a
    # shift by one period explains the audio exactly as well as the true lag
    memo = make_memo(tmp_path, seed=5, texts=["Check the gate."] * 10, gap_s=(1.0, 1.0), lead_in_s=1.0)
    cues = [Cue(u.t0_ns, u.t1_ns, u.text) for u in memo.utterances[3:7]]
    est = estimate_transcript_lag(memo.wav, cues, max_lag_ns=5 * S)
    assert est.verdict is Verdict.AMBIGUOUS, est.reason
    assert len(est.candidates) >= 2
    assert any(abs(c.lag_ns) <= 50 * MS for c in est.candidates)
