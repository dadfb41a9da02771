"""Transcript-to-audio alignment on seeded espeak-ng memos with planted ground truth.

For each of N memos (4-8 sentences, seeded voices, pace, gaps, -60 dBFS noise) a transcript
shift of ±0.3...±5 s is planted; ``estimate_transcript_lag`` must find ``lag = -shift`` (target:
within 50 ms), then ``align_cues`` refines utterance boundaries from cues whose edges are off by
up to ±150 ms (targets: mean error <= 50 ms, >= 95 % within 50 ms). Each memo's audio is also
given another memo's transcript, which must never come back ALIGNED. Speed is audio seconds per
wall second on warm models (target >= 20x realtime for the offset); timing is not asserted.

    .venv/bin/python benchmarks/bench_align_transcript.py [--memos 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from syncline.align.forced import align_cues
from syncline.align.transcript import estimate_transcript_lag
from syncline.align.types import Verdict
from syncline.demo.synth_speech import make_memo
from syncline.media.transcript import Cue, read_transcript

MS = 1_000_000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--memos", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        memos, shifts = [], []
        for i in range(args.memos):
            shift = int(rng.choice([-1, 1]) * rng.uniform(0.3, 5.0) * 1e9)
            memos.append(make_memo(out, seed=args.seed * 1000 + i, n_utterances=int(rng.integers(4, 9)),
                                   shift_ns=shift))
            shifts.append(shift)
        assert memos[0].srt is not None
        estimate_transcript_lag(memos[0].wav, memos[0].srt)  # warm: imports, ONNX session
        align_cues(memos[0].wav, read_transcript(memos[0].srt)[:1])  # warm: pocketsphinx model

        audio_s = sum(m.duration_ns for m in memos) / 1e9
        offset_err, verdicts, t_offset, t_forced = [], collections.Counter(), 0.0, 0.0
        b_err: list[float] = []
        n_utt = 0
        for memo, shift in zip(memos, shifts, strict=True):
            assert memo.srt is not None
            t = time.perf_counter()
            est = estimate_transcript_lag(memo.wav, memo.srt)
            t_offset += time.perf_counter() - t
            verdicts[est.verdict.value] += 1
            lag = est.lag_ns if est.verdict is Verdict.ALIGNED and est.lag_ns is not None else -shift
            if est.verdict is Verdict.ALIGNED and est.lag_ns is not None:
                offset_err.append(abs(est.lag_ns + shift) / MS)
            cues = [Cue(c.t0_ns + int(rng.uniform(-150, 150) * MS), c.t1_ns + int(rng.uniform(-150, 150) * MS),
                        c.text) for c in read_transcript(memo.srt)]
            t = time.perf_counter()
            result = align_cues(memo.wav, cues, lag_ns=lag)
            t_forced += time.perf_counter() - t
            for cue, truth in zip(result.cues, memo.utterances, strict=True):
                b_err += [abs(cue.t0_ns - shift - truth.t0_ns) / MS, abs(cue.t1_ns - shift - truth.t1_ns) / MS]
                n_utt += 1

        wrong = collections.Counter()
        for i, memo in enumerate(memos):
            other = memos[(i + 1) % len(memos)].srt
            assert other is not None
            wrong[estimate_transcript_lag(memo.wav, other).verdict.value] += 1

    oe, be = np.array(offset_err), np.array(b_err)
    n = len(memos)
    print(f"command: .venv/bin/python benchmarks/bench_align_transcript.py --memos {n} --seed {args.seed}")
    print(f"memos: {n}, audio {audio_s:.1f} s, utterances {n_utt}")
    print(f"offset verdicts on true transcripts: {dict(verdicts)}  (abstention rate "
          f"{(n - verdicts['aligned']) / n:.1%})")
    if len(oe):
        print(f"offset error ms: median {np.median(oe):.1f}, mean {oe.mean():.1f}, max {oe.max():.1f}; "
              f"within 50 ms {np.mean(oe <= 50):.1%} of ALIGNED  [target: all within 50 ms]")
    print(f"boundary error ms: mean {be.mean():.1f}, median {np.median(be):.1f}, p95 {np.percentile(be, 95):.1f}, "
          f"max {be.max():.1f}; within 50 ms {np.mean(be <= 50):.1%}  [targets: mean <= 50, >= 95%]")
    print(f"another memo's transcript: {dict(wrong)}  [target: never aligned]")
    print(f"speed: offset {audio_s / t_offset:.0f}x realtime [target >= 20x]; forced alignment "
          f"{audio_s / t_forced:.0f}x realtime")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
