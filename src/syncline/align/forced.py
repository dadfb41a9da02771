"""Forced alignment: word timings and tight utterance boundaries for transcript cues.

``align_words(audio, cues, lag_ns=...)`` aligns each cue's text to the audio with pocketsphinx
(5.x, its bundled US-English acoustic model ``en-us`` and dictionary ``cmudict-en-us.dict``),
one cue at a time on a padded window (0.4 s each side, never past the midpoint to the
neighbouring cue), so the cost is linear in speech and a bad cue cannot derail the others.

* Text is normalised (lower case, digits spelled out, punctuation dropped). Words missing from
  the dictionary get a pronunciation from espeak-ng's letter-to-sound rules (IPA mapped to
  ARPABET) when espeak-ng is installed; otherwise they are left out of the alignment and
  reported in ``CueAlignment.skipped_words``.
* Digital silence breaks pocketsphinx's features (log of zero energy), so a seeded dither at
  -80 dBFS is added to each window.
* The aligner tends to give a word's quiet edges (a final stop's release burst) to silence, so
  the first word's start and the last word's end are *snapped* to the short-time energy
  (5 ms frames): the utterance extends to the outermost frames above
  ``max(noise floor + 10 dB, peak - 50 dB)`` that are connected to the aligned span by pauses
  shorter than 120 ms and lie within 200 ms outside the aligned edge; an aligned edge that
  sits in silence moves in to the nearest loud frame.

Times: ``lag_ns`` follows ``align.types`` (a cue at transcript time ``t`` is heard at audio
time ``t + lag_ns``); cues come back on the *same* timeline they came in (transcript-local),
refined. Input cues and files are never modified. A cue that cannot be aligned comes back
unchanged with no words, and its ``CueAlignment.status`` says why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from syncline.media.transcript import Cue, Word
from syncline.timebase import NS_PER_S

RATE = 16_000
FRAME_S = 0.01  # pocketsphinx frame hop
PAD_NS = 400_000_000
SNAP_FRAME = 80  # 5 ms energy frames for boundary snapping
SNAP_REACH_NS = 200_000_000
SNAP_MAX_PAUSE_NS = 120_000_000
SNAP_ABOVE_NOISE_DB = 10.0
_FILLERS = {"<s>", "</s>", "<sil>", "(NULL)", "[NOISE]", "[SPEECH]"}

_IPA_TO_ARPA: dict[str, str] = {
    "tʃ": "CH", "dʒ": "JH", "eɪ": "EY", "aɪ": "AY", "ɔɪ": "OY", "aʊ": "AW", "oʊ": "OW", "əʊ": "OW",
    "iə": "IH R", "ɪɹ": "IH R", "ɛɹ": "EH R", "ʊɹ": "UH R", "ɑːɹ": "AA R", "ɔːɹ": "AO R", "oːɹ": "AO R",
    "iː": "IY", "uː": "UW", "ɑː": "AA", "ɔː": "AO", "ɜː": "ER", "ɚ": "ER", "ɝ": "ER", "i": "IY",
    "ɪ": "IH", "ɛ": "EH", "e": "EH", "æ": "AE", "a": "AE", "ʌ": "AH", "ə": "AH", "ɐ": "AH", "ɑ": "AA",
    "ɒ": "AA", "ɔ": "AO", "o": "OW", "ʊ": "UH", "u": "UW", "ᵻ": "IH",
    "p": "P", "b": "B", "t": "T", "d": "D", "k": "K", "ɡ": "G", "g": "G", "f": "F", "v": "V",
    "θ": "TH", "ð": "DH", "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH", "h": "HH", "m": "M", "n": "N",
    "ŋ": "NG", "l": "L", "ɫ": "L", "ɹ": "R", "r": "R", "j": "Y", "w": "W", "ɾ": "T", "ʔ": "T",
    "x": "K", "n̩": "AH N", "l̩": "AH L",
}
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


@dataclass(frozen=True)
class CueAlignment:
    """What happened to one cue: ``status`` is aligned / empty / failed."""

    index: int
    status: str
    skipped_words: tuple[str, ...] = ()
    g2p_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForcedAlignment:
    cues: list[Cue]
    per_cue: list[CueAlignment]
    model: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0


def model_info() -> dict[str, str]:
    """Name and version of the aligner and its model, to store with derived word timings."""
    import importlib.metadata

    import pocketsphinx

    return {
        "name": "pocketsphinx",
        "version": importlib.metadata.version("pocketsphinx"),
        "acoustic_model": "en-us",
        "dictionary": "cmudict-en-us.dict",
        "model_path": str(pocketsphinx.get_model_path()),
    }


def spell_number(n: int) -> list[str]:
    """English words for 0 <= n < 1,000,000 ("1042" -> one thousand forty two)."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_ONES[n // 100], "hundred"] + (spell_number(n % 100) if n % 100 else [])
    return spell_number(n // 1000) + ["thousand"] + (spell_number(n % 1000) if n % 1000 else [])


def normalise(text: str) -> list[str]:
    """Lower-case words of ``text`` with digits spelled out and punctuation dropped."""
    out: list[str] = []
    for token in re.findall(r"[A-Za-z0-9']+", text.replace("’", "'")):
        token = token.strip("'").lower()
        if not token:
            continue
        if token.isdigit() and len(token) <= 6:
            out.extend(spell_number(int(token)))
        else:
            out.extend(p for p in re.split(r"(\d+)", token) if p and not p.isdigit())
    return out


@lru_cache(maxsize=4096)
def espeak_phones(word: str) -> str | None:
    """ARPABET phones for ``word`` from espeak-ng's letter-to-sound rules, or None."""
    exe = shutil.which("espeak-ng")
    if exe is None or not re.fullmatch(r"[a-z']+", word):
        return None
    try:
        ipa = subprocess.run([exe, "-q", "-v", "en-us", "--ipa", "--sep=_", word], capture_output=True,
                             text=True, timeout=10, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    phones: list[str] = []
    for piece in re.split(r"[_\s]+", ipa.replace("ˈ", "").replace("ˌ", "")):
        if not piece:
            continue
        arpa = _IPA_TO_ARPA.get(piece) or _IPA_TO_ARPA.get(piece.replace("ː", ""))
        if arpa is None:
            return None
        phones.extend(arpa.split())
    return " ".join(phones) or None


@lru_cache(maxsize=1)
def _decoder() -> Any:
    from pocketsphinx import Decoder

    return Decoder(loglevel="FATAL", lm=None)


def _words_for(decoder: Any, text: str) -> tuple[list[str], list[str], list[str]]:
    """(words to align, words skipped, words pronounced by g2p)."""
    words, skipped, g2p = [], [], []
    for w in normalise(text):
        if decoder.lookup_word(w) is None:
            phones = espeak_phones(w)
            if phones is None:
                skipped.append(w)
                continue
            try:
                decoder.add_word(w, phones, True)
            except RuntimeError:
                skipped.append(w)
                continue
            g2p.append(w)
        words.append(w)
    return words, skipped, g2p


def _energy_db(x: np.ndarray) -> np.ndarray:
    n = len(x) // SNAP_FRAME
    frames = x[: n * SNAP_FRAME].reshape(n, SNAP_FRAME).astype(np.float64)
    return np.asarray(10 * np.log10((frames**2).mean(axis=1) + 1e-12))


def _snap(x: np.ndarray, start_s: float, end_s: float) -> tuple[float, float]:
    """Utterance edges snapped to the energy envelope of window ``x`` (see module docs)."""
    db = _energy_db(x)
    if len(db) < 4:
        return start_s, end_s
    level = max(float(np.percentile(db, 10)) + SNAP_ABOVE_NOISE_DB, float(db.max()) - 50.0)
    loud = db > level
    fs = SNAP_FRAME / RATE
    i0, i1 = int(start_s / fs), min(len(db) - 1, int(end_s / fs))
    reach, pause = int(SNAP_REACH_NS / 1e9 / fs), int(SNAP_MAX_PAUSE_NS / 1e9 / fs)
    # start: earliest loud frame reachable backwards from i0 (or forwards, if i0 is in silence)
    lo = max(0, i0 - reach)
    first = next((i for i in range(max(0, i0 - 2), i1 + 1) if loud[i]), None)
    if first is None:
        return start_s, end_s
    j, quiet = first, 0
    k = first
    while k > lo:
        k -= 1
        quiet = 0 if loud[k] else quiet + 1
        if quiet > pause:
            break
        if loud[k]:
            j = k
    hi = min(len(db) - 1, i1 + reach)
    last = next((i for i in range(min(len(db) - 1, i1 + 2), j - 1, -1) if loud[i]), None)
    if last is None:
        return j * fs, end_s
    e, quiet = last, 0
    k = last
    while k < hi:
        k += 1
        quiet = 0 if loud[k] else quiet + 1
        if quiet > pause:
            break
        if loud[k]:
            e = k
    return j * fs, (e + 1) * fs


def _cue_ns(seconds: float, back_ns: int) -> int:
    """Seconds from the decoded audio's first sample to cue-timeline nanoseconds."""
    return int(round(seconds * NS_PER_S)) + back_ns


def align_cues(
    audio: Path | tuple[np.ndarray, int, int],
    cues: list[Cue],
    *,
    lag_ns: int = 0,
    snap: bool = True,
    seed: int = 0,
) -> ForcedAlignment:
    """Forced-align every cue; see ``align_words``. ``audio`` may be ``(samples, rate, start_ns)``."""
    from syncline.align.vad import mono_16k

    started = time.perf_counter()
    if isinstance(audio, tuple):
        samples, rate, a0 = audio
    else:
        from syncline.media.audio import read_audio

        samples, rate, a0 = read_audio(Path(audio))
    x = mono_16k(samples, rate)
    rng = np.random.default_rng(seed)
    decoder = _decoder()
    order = sorted(range(len(cues)), key=lambda i: (cues[i].t0_ns, cues[i].t1_ns))
    out: list[Cue] = list(cues)
    report: list[CueAlignment | None] = [None] * len(cues)
    for pos, i in enumerate(order):
        cue = cues[i]
        t0, t1 = cue.t0_ns + lag_ns - a0, cue.t1_ns + lag_ns - a0  # sample-time in the decoded audio
        left = PAD_NS if pos == 0 else max(min(PAD_NS, (t0 - (cues[order[pos - 1]].t1_ns + lag_ns - a0)) // 2),
                                            PAD_NS // 4)
        right = PAD_NS if pos == len(order) - 1 else max(
            min(PAD_NS, ((cues[order[pos + 1]].t0_ns + lag_ns - a0) - t1) // 2), PAD_NS // 4)
        a = max(0, (t0 - left) * RATE // NS_PER_S)
        b = min(len(x), (t1 + right) * RATE // NS_PER_S)
        words, skipped, g2p = _words_for(decoder, cue.text)
        if not words or b - a < RATE // 10:
            report[i] = CueAlignment(i, "empty" if not words else "failed", tuple(skipped), tuple(g2p))
            continue
        window = x[a:b] + rng.standard_normal(b - a).astype(np.float32) * np.float32(1e-4)
        pcm = (np.clip(window, -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        try:
            decoder.set_align_text(" ".join(words))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            segs = [s for s in (decoder.seg() or []) if s.word not in _FILLERS]
        except RuntimeError:
            segs = []
        if not segs or decoder.hyp() is None:
            report[i] = CueAlignment(i, "failed", tuple(skipped), tuple(g2p))
            continue
        offset_s = a / RATE
        # frame f's window starts at f*10 ms and is 25.6 ms long; a boundary between frames
        # f-1 and f sits at (f - 0.5) * 10 ms + 12.8 ms
        starts = [s.start_frame * FRAME_S + 0.0078 for s in segs]
        ends = [s.end_frame * FRAME_S + 0.0178 for s in segs]
        u0, u1 = starts[0], ends[-1]
        if snap:
            u0, u1 = _snap(window, u0, u1)
            starts[0], ends[-1] = u0, u1
        back = a0 - lag_ns  # audio-sample time -> transcript time
        word_objs = tuple(
            Word(_cue_ns(offset_s + s0, back), _cue_ns(offset_s + max(s0, e0), back),
                 re.sub(r"\(\d+\)$", "", s.word), float(s.prob))
            for s, s0, e0 in zip(segs, starts, ends, strict=True)
        )
        out[i] = replace(cue, t0_ns=_cue_ns(offset_s + u0, back), t1_ns=_cue_ns(offset_s + u1, back), words=word_objs)
        report[i] = CueAlignment(i, "aligned", tuple(skipped), tuple(g2p))
    return ForcedAlignment(
        cues=out,
        per_cue=[r for r in report if r is not None],
        model=model_info(),
        elapsed_s=time.perf_counter() - started,
    )


def align_words(audio: Path, cues: list[Cue], *, lag_ns: int = 0) -> list[Cue]:
    """New cues with refined ``t0_ns``/``t1_ns`` and word timings, on the cues' own timeline.

    ``lag_ns`` maps cue time to audio time (``t_audio = t_cue + lag_ns``, e.g. the lag from
    ``estimate_transcript_lag``). Cues that cannot be aligned come back unchanged with no
    words; ``align_cues`` says which and why.
    """
    return align_cues(audio, cues, lag_ns=lag_ns).cues
