"""Seeded spoken memos with exact utterance timings, for tests and benchmarks of alignment.

``make_memo(out_dir, seed=...)`` speaks a few sentences with espeak-ng (deterministic for a
given seed, voice and espeak-ng version), trims espeak's leading and trailing silence from each
sentence (espeak pads with exact digital zeros, so the first and last samples above a tiny
threshold are the true speech boundaries), and concatenates them with seeded gaps of silence
(optionally a little seeded noise). Utterance boundaries come from sample counts, so they are
exact to the sample on the WAV's own timeline. A sentence's edges are its first and last
samples within 40 dB of its peak amplitude: espeak pads with exact zeros, and what lies below
that level is the synthesiser's resonators decaying for up to ~100 ms at -60..-70 dBFS,
inaudible under any room noise (and under the default -60 dBFS noise added here).

Transcripts (SRT, WebVTT) carry the utterance times plus an optional *planted shift*:
``shift_ns = s`` writes every cue at ``true time + s``. In the alignment lag convention
(reference = transcript, target = audio, ``t_audio = t_transcript + lag``) the lag a detector
should find is therefore ``-s``. Cue times are written rounded to the millisecond.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from syncline.timebase import NS_PER_S

SAMPLE_RATE = 22050  # espeak-ng's native output rate
TRIM_DB = -40.0  # utterance edges: first/last sample within 40 dB of the sentence's peak

# Short memo sentences whose words are all in CMUdict (pocketsphinx's dictionary), plus a few
# with words that are not, so forced alignment meets out-of-vocabulary words too.
SENTENCES: tuple[str, ...] = (
    "Check the water pump in barn seven before noon.",
    "The north gate was open again this morning.",
    "Two calves were born overnight and both look healthy.",
    "Please order more feed for the east paddock.",
    "The tractor makes a strange noise when it starts.",
    "We moved the sheep to the lower field after lunch.",
    "Call the vet about the limping horse on Friday.",
    "The fence near the river needs new posts.",
    "Milk yield was a little lower than last week.",
    "Remember to log the temperature of the cold room.",
    "The camera above stall twelve stopped recording at midnight.",
    "Rain is expected tomorrow so cover the hay bales.",
    "The new microphone picks up a lot of wind noise.",
    "I replaced the battery in the weather station.",
    "Somebody left the lights on in the milking parlour.",
    "The delivery truck arrived two hours late.",
    "Write down every animal that was treated today.",
    "The sensor on the feeding robot reads too high.",
    "Let us meet at the office at half past three.",
    "The drinking trough in the west field is leaking.",
    "We should clean the filters before the inspection.",
    "The pigs were restless during the storm last night.",
    "Our quarterly report is due at the end of the month.",
    "The syncline recorder saved a new file at dawn.",
    "Ask Kowalczyk to check the hydraulics on the loader.",
    "Three ewes need their hooves trimmed next week.",
    "The gate code has changed, so tell the drivers.",
    "There is a small crack in the silo wall.",
    "Turn off the pump when the tank is full.",
    "The chickens escaped through a hole in the netting.",
)

VOICES: tuple[str, ...] = ("en-us", "en-us+m3", "en-us+f2", "en-us+m7", "en-us+f4")


@dataclass(frozen=True)
class Utterance:
    """One spoken sentence: ``[t0_ns, t1_ns)`` on the WAV's timeline, first to last sound."""

    t0_ns: int
    t1_ns: int
    text: str


@dataclass(frozen=True)
class Memo:
    """A generated memo: the audio files, the true utterances, and the transcripts written."""

    wav: Path
    sample_rate: int
    duration_ns: int
    utterances: tuple[Utterance, ...]
    shift_ns: int
    voice: str
    seed: int
    srt: Path | None = None
    vtt: Path | None = None
    m4a: Path | None = None


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, *, voice: str = "en-us", speed_wpm: int = 165, pitch: int = 50) -> np.ndarray:
    """espeak-ng speech for ``text`` as int16 samples at 22050 Hz, silence trimmed both ends."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed; apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(
            [exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "-w", str(wav), text],
            check=True,
            capture_output=True,
        )
        samples, rate = sf.read(wav, dtype="int16")
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz, expected {SAMPLE_RATE}")
    x = np.asarray(samples, dtype=np.int16).reshape(-1)
    mag = np.abs(x.astype(np.int32))
    loud = np.flatnonzero(mag >= max(1.0, float(mag.max()) * 10 ** (TRIM_DB / 20)))
    if len(loud) == 0 or mag.max() == 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r}")
    return x[loud[0] : loud[-1] + 1]


def _ns(samples: int) -> int:
    return samples * NS_PER_S // SAMPLE_RATE


def _stamp(ns: int, sep: str) -> str:
    ms = int(round(ns / 1_000_000))
    if ms < 0:
        raise ValueError("a subtitle time cannot be negative; use a smaller negative shift or a longer lead-in")
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def write_srt(path: Path, utterances: tuple[Utterance, ...] | list[Utterance], *, shift_ns: int = 0) -> Path:
    """SRT with every cue at ``true time + shift_ns`` (ms precision)."""
    blocks = [
        f"{i}\n{_stamp(u.t0_ns + shift_ns, ',')} --> {_stamp(u.t1_ns + shift_ns, ',')}\n{u.text}\n"
        for i, u in enumerate(utterances, 1)
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def write_vtt(path: Path, utterances: tuple[Utterance, ...] | list[Utterance], *, shift_ns: int = 0) -> Path:
    """WebVTT with every cue at ``true time + shift_ns`` (ms precision)."""
    blocks = ["WEBVTT\n"] + [
        f"{_stamp(u.t0_ns + shift_ns, '.')} --> {_stamp(u.t1_ns + shift_ns, '.')}\n{u.text}\n"
        for u in utterances
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def make_memo(
    out_dir: Path,
    *,
    seed: int,
    n_utterances: int = 6,
    shift_ns: int = 0,
    lead_in_s: float | None = None,
    gap_s: tuple[float, float] = (0.5, 2.0),
    noise_dbfs: float | None = -60.0,
    voice: str | None = None,
    transcripts: tuple[str, ...] = ("srt",),
    m4a: bool = False,
    name: str | None = None,
    texts: Sequence[str] | None = None,
) -> Memo:
    """Speak ``n_utterances`` seeded sentences with seeded gaps into ``out_dir/<name>.wav``.

    ``lead_in_s`` defaults to a seeded 0.8-1.5 s, grown if needed so that a negative planted
    shift keeps every cue time non-negative. ``noise_dbfs`` adds seeded white noise at that RMS
    level (None: pure digital silence between sentences). ``transcripts`` picks "srt" / "vtt".
    ``m4a`` also encodes an AAC copy with ffmpeg (same timeline: read_audio drops priming).
    ``texts`` replaces the seeded choice of sentences (e.g. one sentence repeated, for a
    periodic memo).
    """
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = name or f"memo_{seed}"
    voice = voice or VOICES[int(rng.integers(len(VOICES)))]
    speed = int(rng.integers(145, 185))
    pitch = int(rng.integers(35, 65))
    picks = rng.choice(len(SENTENCES), size=min(n_utterances, len(SENTENCES)), replace=False)
    chosen = [SENTENCES[int(i)] for i in picks] if texts is None else list(texts)
    lead = float(rng.uniform(0.8, 1.5)) if lead_in_s is None else lead_in_s
    lead = max(lead, -shift_ns / NS_PER_S + 0.2)
    gaps = rng.uniform(gap_s[0], gap_s[1], size=len(chosen))
    tail = float(rng.uniform(0.5, 1.0))

    parts: list[np.ndarray] = [np.zeros(int(round(lead * SAMPLE_RATE)), np.int16)]
    pos = len(parts[0])
    utterances: list[Utterance] = []
    for i, text in enumerate(chosen):
        speech = speak(text, voice=voice, speed_wpm=speed, pitch=pitch)
        utterances.append(Utterance(_ns(pos), _ns(pos + len(speech)), text))
        parts.append(speech)
        pos += len(speech)
        gap = int(round((gaps[i] if i + 1 < len(chosen) else tail) * SAMPLE_RATE))
        parts.append(np.zeros(gap, np.int16))
        pos += gap
    audio = np.concatenate(parts).astype(np.float32) / 32768.0
    if noise_dbfs is not None:
        audio += rng.standard_normal(len(audio)).astype(np.float32) * np.float32(10 ** (noise_dbfs / 20))
    wav = out_dir / f"{name}.wav"
    sf.write(wav, np.clip(audio, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16")

    utt = tuple(utterances)
    srt = write_srt(out_dir / f"{name}.srt", utt, shift_ns=shift_ns) if "srt" in transcripts else None
    vtt = write_vtt(out_dir / f"{name}.vtt", utt, shift_ns=shift_ns) if "vtt" in transcripts else None
    m4a_path = None
    if m4a:
        m4a_path = out_dir / f"{name}.m4a"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-c:a", "aac",
             "-b:a", "96k", str(m4a_path)],
            check=True,
            capture_output=True,
        )
    return Memo(
        wav=wav,
        sample_rate=SAMPLE_RATE,
        duration_ns=_ns(len(audio)),
        utterances=utt,
        shift_ns=shift_ns,
        voice=voice,
        seed=seed,
        srt=srt,
        vtt=vtt,
        m4a=m4a_path,
    )
