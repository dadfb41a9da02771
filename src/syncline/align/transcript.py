"""Transcript-to-audio offset: where a transcript's cues sit on the audio's own timeline.

``estimate_transcript_lag(audio, transcript)`` compares *when the transcript says someone
speaks* with *when the audio holds speech* (Silero VAD, ``align.vad``):

1. Both become boolean masks on a 10 ms grid: the union of cue spans (transcript-local time)
   and the VAD speech spans (audio-local time).
2. For every lag in ``expected_lag_ns ± max_lag_ns`` the phi coefficient (Pearson correlation
   of the two masks over the transcript's span, first cue start to last cue end, clipped to
   the audio) is computed at once with an FFT correlation and cumulative sums.
   Phi is 0 for independent masks whatever their speech density, 1 for identical ones.
3. Chance level: the same search is repeated with seeded shuffles of the transcript's own
   cue durations and gaps; the best lag must beat the 95th percentile of those shuffled peaks
   (the score an unrelated transcript with this rhythm would reach), else
   ``NO_PLAUSIBLE_ALIGNMENT``.
4. Refinement: cue-block starts (cues closer than 200 ms merged) are matched to VAD speech
   onsets within 200 ms of the coarse lag; the lag moves by the median residual. VAD onsets
   are sharp (a few ms on clean speech) while VAD ends lag and spread, so only starts are used.

Lag convention (``align.types``): reference = transcript, target = audio. A cue at
transcript-local time ``t`` is heard at audio-local time ``t + lag_ns``. A transcript whose cues
are all 2 s late (cue times = true times + 2 s) therefore gives ``lag_ns = -2 s``.

Verdicts: ``ABSTAIN`` when there is nothing to compare (unreadable input, no cues, no speech,
speech that never pauses, a flat score curve, a best lag on the edge of the search window, or
too few cue starts that match speech onsets); ``AMBIGUOUS`` when another lag at least 0.5 s
away scores almost as well (periodic cues); ``NO_PLAUSIBLE_ALIGNMENT`` when the best overlap
is no better than chance (the transcript of another recording). Bad cue times (ending before
they start, overlapping, negative) are counted in ``details`` and never raise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from syncline.align.types import Candidate, OffsetEstimate, Verdict
from syncline.media.transcript import Cue

METHOD = "transcript-vad-v1"
GRID_NS = 10_000_000  # 10 ms
MERGE_NS = 200_000_000  # cues closer than this form one block; also the onset match tolerance
N_SHUFFLES = 40
MIN_SEPARATION_NS = 500_000_000  # candidates closer than this are the same peak
AMBIGUITY_RATIO = 0.75  # a second peak this close (above chance) makes the answer ambiguous
MIN_ONSET_MATCH = 0.5  # fraction of cue-block starts that must meet a speech onset
MIN_EXCESS = 0.5  # (peak - chance) / (1 - chance) below this is "no better than chance"
MIN_INSIDE = 0.75  # share of the cue mass that must land inside the audio
JITTER = 0.3  # log-normal sigma of the chance sample's durations and gaps
TIGHT_NS = 100_000_000  # a start "agrees" with the refined lag within this
FEW_CUES_MIN_STARTS = 3  # cue-block starts the few-cue onset test needs (2 can fit by chance)


def _estimate(verdict: Verdict, reason: str, details: dict[str, Any], **kw: Any) -> OffsetEstimate:
    return OffsetEstimate(method=METHOD, verdict=verdict, reason=reason, details=details, **kw)


def _blocks(cues: Sequence[tuple[int, int]], merge_ns: int) -> list[tuple[int, int]]:
    """Union of spans (sorted), merging spans separated by less than ``merge_ns``."""
    out: list[list[int]] = []
    for t0, t1 in sorted(cues):
        if out and t0 - out[-1][1] < merge_ns:
            out[-1][1] = max(out[-1][1], t1)
        else:
            out.append([t0, t1])
    return [(a, b) for a, b in out]


def _mask(spans: Sequence[tuple[int, int]], origin: int, n: int) -> np.ndarray:
    """Boolean mask of ``n`` grid cells starting at grid index ``origin`` covering ``spans``."""
    delta = np.zeros(n + 1, np.int32)
    for t0, t1 in spans:
        a = int(np.clip(round(t0 / GRID_NS) - origin, 0, n))
        b = int(np.clip(round(t1 / GRID_NS) - origin, 0, n))
        if b > a:
            delta[a] += 1
            delta[b] -= 1
    return np.asarray(np.cumsum(delta[:-1]) > 0, dtype=np.float64)


def _phi_curves(speech: np.ndarray, cue_masks: np.ndarray, d_lo: int, d_hi: int) -> np.ndarray:
    """Phi between ``speech`` and each row of ``cue_masks`` shifted by ``d`` in [d_lo, d_hi].

    ``d`` is the index in ``speech`` where cue-mask cell 0 lands. Phi is computed over the
    transcript's span only (the cells of the cue mask that fall inside the audio): a transcript
    says nothing about audio before its first cue or after its last. Lags where less than a
    three quarters of the cue mass fall inside the audio score 0 (a sliver of transcript
    matches anything).
    """
    from scipy.fft import irfft, next_fast_len, rfft

    ns, nc = len(speech), cue_masks.shape[1]
    nfft = next_fast_len(ns + nc, real=True)
    corr = irfft(rfft(speech, nfft)[None, :] * np.conj(rfft(cue_masks, nfft, axis=1)), nfft, axis=1)
    d = np.arange(d_lo, d_hi + 1)
    inter = np.rint(corr[:, d % nfft])
    cum = np.concatenate([np.zeros((cue_masks.shape[0], 1)), np.cumsum(cue_masks, axis=1)], axis=1)
    cum_s = np.concatenate([[0.0], np.cumsum(speech)])
    lo, hi = np.clip(-d, 0, nc), np.clip(ns - d, 0, nc)
    n = (hi - lo).astype(np.float64)
    b = cum[:, hi] - cum[:, lo]
    a = cum_s[np.clip(hi + d, 0, ns)] - cum_s[np.clip(lo + d, 0, ns)]
    total = cum[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = (n * inter - a * b) / np.sqrt(a * (n - a) * b * (n - b))
    phi[~np.isfinite(phi) | (b < MIN_INSIDE * total)] = 0.0
    return np.asarray(phi)


def _shuffled(blocks: list[tuple[int, int]], origin: int, n: int, rng: np.random.Generator, k: int,
              starts_out: list[np.ndarray] | None = None) -> np.ndarray:
    """``k`` cue masks of "another recording with the same rhythm": a smoothed bootstrap.

    Block durations and gaps are drawn with replacement from the transcript's own and each
    scaled by a seeded log-normal factor (sigma ``JITTER``), so that with few cues the sample
    is not dominated by near-copies of the transcript itself. ``starts_out`` collects each
    sample's block starts (for the onset test of ``_few_cue_evidence``).
    """
    t_start = blocks[0][0]
    durs = np.array([b - a for a, b in blocks], dtype=np.float64)
    gaps = np.array([blocks[i + 1][0] - blocks[i][1] for i in range(len(blocks) - 1)], dtype=np.float64)
    out = np.zeros((k, n))
    nb = len(blocks)
    for j in range(k):
        d = rng.choice(durs, nb) * np.exp(rng.normal(0.0, JITTER, nb))
        g = rng.choice(gaps, nb - 1) * np.exp(rng.normal(0.0, JITTER, nb - 1)) if nb > 1 else gaps
        starts = t_start + np.concatenate([[0.0], np.cumsum(d[:-1] + g)])
        if starts_out is not None:
            starts_out.append(np.rint(starts).astype(np.int64))
        out[j] = _mask(list(zip(starts.tolist(), (starts + d).tolist(), strict=True)), origin, n)
    return out


def _peaks(curve: np.ndarray, sep: int, k: int = 5) -> list[int]:
    """Indices of up to ``k`` highest local maxima at least ``sep`` cells apart."""
    from scipy.signal import find_peaks

    idx, _ = find_peaks(np.concatenate([[-np.inf], curve, [-np.inf]]), distance=max(1, sep))
    idx = idx - 1
    return [int(i) for i in idx[np.argsort(curve[idx])[::-1]][:k]]


def _read_cues(transcript: Path | Sequence[Cue]) -> list[Cue]:
    if isinstance(transcript, (str, Path)):
        from syncline.media.transcript import read_transcript

        return read_transcript(Path(transcript))
    return list(transcript)


def _cue_problems(cues: list[Cue]) -> tuple[list[tuple[int, int]], dict[str, int]]:
    """Valid (t0, t1) spans, and counts of inverted/empty, negative and overlapping cues."""
    spans = [(c.t0_ns, c.t1_ns) for c in cues if c.t1_ns > c.t0_ns]
    spans.sort()
    overlapping = sum(1 for i in range(1, len(spans)) if spans[i][0] < spans[i - 1][1])
    return spans, {
        "n_cues": len(cues),
        "n_cues_inverted_or_empty": len(cues) - len(spans),
        "n_cues_negative": sum(1 for c in cues if c.t0_ns < 0 or c.t1_ns < 0),
        "n_cues_overlapping": overlapping,
    }


def _onset_refinement(
    cue_blocks: list[tuple[int, int]], speech: list[tuple[int, int]], lag_ns: int, audio_t0: int
) -> tuple[np.ndarray, int]:
    """Residuals (speech onset - shifted cue start) of cue-block starts that meet an onset."""
    onsets = np.array([a for a, _ in speech if a > audio_t0 + GRID_NS], dtype=np.int64)
    if len(onsets) == 0:
        return np.zeros(0, np.int64), 0
    starts = np.array([a for a, _ in cue_blocks], dtype=np.int64) + lag_ns
    inside = starts[(starts > onsets.min() - MERGE_NS) & (starts < speech[-1][1])]
    if len(inside) == 0:
        return np.zeros(0, np.int64), 0
    j = np.searchsorted(onsets, inside)
    after = onsets[np.minimum(j, len(onsets) - 1)]
    before = onsets[np.maximum(j - 1, 0)]
    near = np.where(np.abs(before - inside) < np.abs(after - inside), before, after)
    res = near - inside
    return res[np.abs(res) <= MERGE_NS], len(inside)


def _agreeing_starts(starts: np.ndarray, speech: list[tuple[int, int]], lag_ns: int, audio_t0: int) -> tuple[int, int]:
    """(cue starts within ``TIGHT_NS`` of a speech onset after the median shift, starts inside)."""
    res, n_inside = _onset_refinement([(int(a), int(a)) for a in starts], speech, lag_ns, audio_t0)
    if not len(res):
        return 0, n_inside
    return int(np.sum(np.abs(res - np.median(res)) <= TIGHT_NS)), n_inside


def _few_cue_evidence(details: dict[str, Any], blocks: list[tuple[int, int]], spans: list[tuple[int, int]],
                      speech: list[tuple[int, int]], audio_t0: int, curves: np.ndarray,
                      null_starts: list[np.ndarray], lag_ns: int, lag_at: Any, peak: float,
                      chance: float) -> bool:
    """A transcript with few cues in a short recording: its shuffles fit the audio almost as
    well (high chance phi), so phi alone cannot tell. It still aligns when (1) its best phi
    beats the chance level, (2) every cue-block start (at least ``FEW_CUES_MIN_STARTS``) meets
    a speech onset within ``TIGHT_NS``, there are no more speech onsets than blocks in the
    cues' span plus one (no unexplained speech), and (3) none of the shuffled transcripts
    reaches both, at its own best lag, a phi as high and all its starts on onsets."""
    starts = np.array([a for a, _ in _blocks(spans, MERGE_NS)], dtype=np.int64)
    agree, n_inside = _agreeing_starts(starts, speech, lag_ns, audio_t0)
    span0, span1 = blocks[0][0] + lag_ns - MERGE_NS, blocks[-1][1] + lag_ns + MERGE_NS
    n_onsets = sum(1 for a, _ in speech if span0 <= a <= span1)
    strong = (peak > chance and len(starts) >= FEW_CUES_MIN_STARTS and n_inside == len(starts)
              and agree == len(starts) and n_onsets <= len(starts) + 1)
    rivals = 0
    if strong:
        for row, st in zip(curves[1:], null_starts, strict=True):
            i = int(np.argmax(row))
            if row[i] < peak:
                continue
            a, n_in = _agreeing_starts(np.unique(st), speech, lag_at(i), audio_t0)
            rivals += int(n_in >= len(st) and a >= n_in)
    details["few_cues_test"] = {"starts": len(starts), "starts_on_onsets": agree, "onsets_in_span": n_onsets,
                                "shuffles_as_good": rivals, "passed": bool(strong and rivals == 0)}
    return bool(strong and rivals == 0)


def estimate_transcript_lag(
    audio: Path,
    transcript: Path | Sequence[Cue],
    *,
    expected_lag_ns: int = 0,
    max_lag_ns: int = 10_000_000_000,
    speech: list[tuple[int, int]] | None = None,
    seed: int = 0,
) -> OffsetEstimate:
    """Lag of ``audio`` (target) relative to ``transcript`` (reference): ``t_audio = t_cue + lag``.

    ``transcript`` is a file (SRT, WebVTT, JSON) or a list of cues. ``speech`` passes VAD spans
    already computed for ``audio`` (see ``align.vad.speech_segments``). Never raises on bad
    input: unreadable files and bad cue times come back as verdicts with a one-line reason.
    """
    from syncline.align import vad
    from syncline.media.types import MediaError

    started = time.perf_counter()
    details: dict[str, Any] = {"vad": vad.vad_model().as_dict(), "grid_ms": GRID_NS // 1_000_000}
    try:
        cues = _read_cues(transcript)
    except MediaError as exc:
        return _estimate(Verdict.ABSTAIN, f"cannot read transcript: {exc}", details)
    spans, problems = _cue_problems(cues)
    details.update(problems)
    if not spans:
        why = "transcript has no cues" if not cues else "no cue has an end after its start"
        return _estimate(Verdict.ABSTAIN, f"cannot determine: {why}", details)

    try:
        x16k, audio_t0 = vad.load_16k(Path(audio))
    except MediaError as exc:
        return _estimate(Verdict.ABSTAIN, f"cannot read audio: {exc}", details)
    audio_dur = len(x16k) * 1_000_000_000 // vad.VAD_RATE
    details["audio_duration_s"] = audio_dur / 1e9
    if speech is None:
        signal = vad.probability_signal(x16k, audio_t0)
        speech = vad.segments_from_probability(signal, end_ns=audio_t0 + audio_dur)
    details["n_speech_segments"] = len(speech)
    if not speech:
        return _estimate(Verdict.ABSTAIN, "cannot determine: no speech in audio", details)

    a_origin = int(round(audio_t0 / GRID_NS))
    ns = max(1, int(round((audio_t0 + audio_dur) / GRID_NS)) - a_origin)
    s_mask = _mask(speech, a_origin, ns)
    speech_frac = float(s_mask.mean())
    details["speech_fraction"] = round(speech_frac, 4)
    if speech_frac > 0.97:
        return _estimate(Verdict.ABSTAIN, "cannot determine: speech never pauses, so no timing to match", details)

    blocks = _blocks(spans, 1)  # exact union of cues
    c_origin = int(round(blocks[0][0] / GRID_NS))
    nc = max(1, int(round(blocks[-1][1] / GRID_NS)) - c_origin)
    c_mask = _mask(blocks, c_origin, nc)
    lo_m = int(np.floor((expected_lag_ns - max_lag_ns) / GRID_NS))
    hi_m = int(np.ceil((expected_lag_ns + max_lag_ns) / GRID_NS))
    d_lo = max(c_origin + lo_m - a_origin, -(nc - 1))
    d_hi = min(c_origin + hi_m - a_origin, ns - 1)
    if d_hi < d_lo:
        return _estimate(Verdict.ABSTAIN, "cannot determine: no lag in the search window puts cues over the audio",
                         details)
    rng = np.random.default_rng(seed)
    null_starts: list[np.ndarray] = []
    masks = np.vstack([c_mask[None, :], _shuffled(blocks, c_origin, nc, rng, N_SHUFFLES, null_starts)])
    curves = _phi_curves(s_mask, masks, d_lo, d_hi)
    curve, null_peaks = curves[0], curves[1:].max(axis=1)
    details["n_chance_samples"] = int(len(null_peaks))

    def lag_of(i: int) -> int:
        return (d_lo + i + a_origin - c_origin) * GRID_NS

    peaks = _peaks(curve, int(MIN_SEPARATION_NS // GRID_NS))
    best = peaks[0]
    peak, median = float(curve[best]), float(np.median(curve))
    chance = float(np.quantile(null_peaks, 0.95))
    details.update(
        peak_phi=round(peak, 4),
        curve_median_phi=round(median, 4),
        chance_phi_95=round(chance, 4),
        p_value=round(float((1 + np.sum(null_peaks >= peak)) / (1 + len(null_peaks))), 4),
    )
    candidates = tuple(Candidate(lag_ns=int(lag_of(i)), score=round(float(curve[i]), 4)) for i in peaks)
    if peak - median < 0.05 or peak <= 0.05:
        return _estimate(Verdict.ABSTAIN, "cannot determine: flat score curve (cue timing matches no lag better)",
                         details, score=round(peak, 4))
    excess = (peak - chance) / max(1e-9, 1.0 - chance)
    details["excess_over_chance"] = round(excess, 4)
    if excess < MIN_EXCESS and not _few_cue_evidence(
            details, blocks, spans, speech, audio_t0, curves, null_starts, int(lag_of(best)),
            lambda i: int(lag_of(i)), peak, chance):
        few = details["few_cues_test"]
        if peak > chance and few["starts"] < FEW_CUES_MIN_STARTS and few["starts_on_onsets"] == few["starts"]:
            return _estimate(Verdict.ABSTAIN, f"cannot determine: only {few['starts']} cue start(s), all on speech "
                             f"onsets, phi {peak:.2f} vs chance {chance:.2f}: too few cues to tell",
                             details, score=round(peak, 4))
        return _estimate(
            Verdict.NO_PLAUSIBLE_ALIGNMENT,
            f"best overlap (phi {peak:.2f}) is no better than chance ({chance:.2f}): "
            "is this the transcript of another recording?",
            details,
            score=round(peak, 4),
            candidates=candidates[:3],
        )
    if best == 0 or best == len(curve) - 1:
        return _estimate(Verdict.ABSTAIN, "cannot determine: best lag is on the edge of the search window; "
                         "widen max_lag_ns", details, score=round(peak, 4), candidates=candidates[:3])

    coarse = int(lag_of(best))
    res, n_starts = _onset_refinement(_blocks(spans, MERGE_NS), speech, coarse, audio_t0)
    details.update(coarse_lag_ns=coarse, n_cue_starts=n_starts, n_onsets_matched=int(len(res)))
    lag = coarse + (int(np.median(res)) if len(res) else 0)
    agree = int(np.sum(np.abs(res - (lag - coarse)) <= TIGHT_NS))
    details["n_onsets_within_100ms"] = agree
    mad = float(np.median(np.abs(res - np.median(res)))) * 1.4826 if len(res) >= 3 else float(GRID_NS)
    unc = int(max(GRID_NS / 2, mad / np.sqrt(max(1, len(res)))))
    elapsed = time.perf_counter() - started
    details["elapsed_s"] = round(elapsed, 4)
    common = dict(score=round(peak, 4), n_events=int(len(res)), uncertainty_ns=unc)

    if len(peaks) > 1:
        second = peaks[1]
        rel = (float(curve[second]) - chance) / (peak - chance)
        details["second_peak_phi"] = round(float(curve[second]), 4)
        if rel >= AMBIGUITY_RATIO:
            return _estimate(
                Verdict.AMBIGUOUS,
                f"{sum(1 for i in peaks if (curve[i] - chance) >= AMBIGUITY_RATIO * (peak - chance))} lags fit "
                "almost equally well (periodic cues?); pass expected_lag_ns with a smaller max_lag_ns",
                details,
                lag_ns=lag,
                candidates=candidates,
                **common,
            )
    if n_starts >= 2 and agree < MIN_ONSET_MATCH * n_starts:
        return _estimate(
            Verdict.ABSTAIN,
            f"weak evidence: only {agree} of {n_starts} cue starts meet a speech onset",
            details,
            candidates=candidates[:3],
            score=round(peak, 4),
        )
    if n_starts < FEW_CUES_MIN_STARTS:
        return _estimate(
            Verdict.ABSTAIN,
            f"cannot determine: only {n_starts} cue-block start(s) over the audio; two cues can fit another "
            "recording by chance",
            details,
            candidates=candidates[:3],
            score=round(peak, 4),
        )
    note = ""
    if problems["n_cues_overlapping"] or problems["n_cues_inverted_or_empty"]:
        note = (f"; ignored {problems['n_cues_inverted_or_empty']} inverted cue(s), merged "
                f"{problems['n_cues_overlapping']} overlapping")
    return _estimate(
        Verdict.ALIGNED,
        f"{agree} of {n_starts} cue starts meet speech onsets; phi {peak:.2f} vs chance {chance:.2f}{note}",
        details,
        lag_ns=lag,
        candidates=candidates[:3],
        **common,
    )
