"""Audio files (WAV, FLAC, MP3, AAC, M4A, Ogg): probe and read.

Priming (encoder delay) is the one subtle part. A decoder emits ``priming`` samples of
silence before the first real one; a reader that keeps them shifts every event late by
~21-25 ms. syncline finds priming as follows and ``read_audio`` removes it, so a click at
1.000 s in the source lands at 1.000 s after an AAC or MP3 round trip:

* MP4/M4A (AAC): the audio track's edit list media time (1024 for FFmpeg, 2112 for Apple);
  FFmpeg honours it while decoding.
* MP3: the LAME/Info tag's encoder delay plus the decoder's 529 samples (FFmpeg honours it);
  without a LAME tag, 1105 is assumed and dropped here.
* ADTS AAC: nothing signals it; 1024 (FFmpeg's and most encoders') is assumed and dropped here.
* Opus (Ogg, WebM, Matroska): the OpusHead pre-skip (usually 312 at 48 kHz); FFmpeg honours it.
* WAV/FLAC: 0.

Plain PCM WAV is read in one call instead of decoded frame by frame (``media.wav``): the same
float32 samples, bit for bit; anything else a WAV may hold goes through the decoder.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.container
import numpy as np

from syncline.media.container import mp3_encoder_delay, mp4_tracks
from syncline.media.decoding import (
    NS,
    check_stream,
    decode_errors,
    display_name,
    open_av,
    stream_span_ns,
    structure_problem,
    to_ns,
)
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality
from syncline.media.wav import read_pcm_wav

MP3_DECODER_DELAY = 529
MP3_DEFAULT_PRIMING = 1105
AAC_DEFAULT_PRIMING = 1024


def priming(path: Path, fmt: str, stream: Any) -> tuple[int, str, int]:
    """(priming samples, where it came from, samples the caller must drop itself).

    The third value is what FFmpeg does NOT already drop while decoding.
    """
    codec = stream.codec_context.name
    if fmt in ("mp4", "mov", "m4a"):
        movie = mp4_tracks(path)
        if movie is not None:
            sound = [t for t in movie.tracks if t.handler == "soun"]
            if sound and sound[0].media_time is not None:
                mt = sound[0].media_time
                ts = sound[0].timescale or stream.rate
                return int(round(mt * stream.rate / ts)), "edit_list", 0
        return 0, "none", 0
    if fmt == "mp3":
        delay = mp3_encoder_delay(path)
        if delay is not None:
            return delay + MP3_DECODER_DELAY, "lame_tag", 0
        return MP3_DEFAULT_PRIMING, "assumed", MP3_DEFAULT_PRIMING
    if codec.startswith("mp3"):  # MP3 inside AVI/MKV: no LAME tag reaches the decoder
        return MP3_DEFAULT_PRIMING, "assumed", MP3_DEFAULT_PRIMING
    if fmt == "aac":
        return AAC_DEFAULT_PRIMING, "assumed", AAC_DEFAULT_PRIMING
    if codec == "opus":
        head = bytes(stream.codec_context.extradata or b"")
        if head[:8] == b"OpusHead" and len(head) >= 12:
            return int.from_bytes(head[10:12], "little"), "opus_pre_skip", 0
    return 0, "none", 0


def audio_stream_info(path: Path, fmt: str, container: av.container.InputContainer,
                      stream: Any) -> dict[str, Any]:
    """Sample rate, channels, codec, start, duration and priming of one audio stream."""
    prime, source, _ = priming(path, fmt, stream)
    start_ns, duration_ns = stream_span_ns(container, stream)
    if source == "lame_tag":
        start_ns = max(0, start_ns - prime * NS // stream.rate)  # FFmpeg reports the skip as start
    return {
        "codec": stream.codec_context.name,
        "sample_rate": int(stream.rate),
        "channels": int(stream.codec_context.channels),
        "start_ns": start_ns,
        "duration_ns": duration_ns,
        "priming_samples": prime,
        "priming_source": source,
    }


def probe_audio(path: Path, fmt: str) -> MediaInfo:
    """Probe an audio file; raises TRUNCATED / UNDECODABLE after a first/last decode check."""
    path = Path(path)
    structure_problem(path, fmt)
    with open_av(path) as container:
        return probe_first_audio(
            path, fmt, container,
            missing=f"{display_name(path)} has no audio stream; re-export it with audio",
        )


def probe_first_audio(
    path: Path, fmt: str, container: av.container.InputContainer, *, missing: str
) -> MediaInfo:
    """Probe the first audio stream of an open container; UNDECODABLE ``missing`` if none."""
    if not container.streams.audio:
        raise MediaError(MediaErrorKind.UNDECODABLE, missing)
    stream = container.streams.audio[0]
    info = audio_stream_info(path, fmt, container, stream)
    check = check_stream(container, stream, path, fmt=fmt)
    return audio_info(container, info, check.last_end_ns, fmt)


def audio_info(
    container: av.container.InputContainer,
    info: dict[str, Any],
    last_end_ns: int | None,
    fmt: str,
) -> MediaInfo:
    duration_ns = info["duration_ns"]
    if fmt == "aac" and last_end_ns is not None:
        # ADTS has no duration field (the bitrate estimate is rough): decoded end less priming
        duration_ns = last_end_ns - info["priming_samples"] * NS // info["sample_rate"]
    return MediaInfo(
        modality=Modality.AUDIO,
        format=fmt,
        duration_ns=duration_ns,
        start_ns=info["start_ns"],
        codec=info["codec"],
        sample_rate=info["sample_rate"],
        channels=info["channels"],
        priming_samples=info["priming_samples"],
        details={
            "priming_source": info["priming_source"],
            "container_tags": sorted(container.metadata),
        },
    )


def read_audio(path: Path) -> tuple[np.ndarray, int, int]:
    """Decode the first audio stream once: (float32 [channels, samples], sample_rate, start_ns).

    Priming is removed (see the module docstring), so sample ``i`` is at
    ``start_ns + i * 1e9 / sample_rate`` on the source's own clock.
    """
    from syncline.media.detect import detect

    path = Path(path)
    _, fmt = detect(path)
    if fmt == "wav":
        pcm = read_pcm_wav(path)
        if pcm is not None:
            return pcm
    return decode_audio(path, fmt)


def decode_audio(path: Path, fmt: str) -> tuple[np.ndarray, int, int]:
    """``read_audio`` through FFmpeg's decoder and resampler (any format).

    Decoded frames (1,024 samples for AAC) go into an FFmpeg sample FIFO, one C call each, and
    move into the result array 64k samples at a time: a NumPy array per frame costs more than
    decoding it. Frames the decoder gives as planar float already skip the resampler, as PyAV's
    own passthrough does.
    """
    with open_av(path) as container:
        if not container.streams.audio:
            raise MediaError(
                MediaErrorKind.UNDECODABLE, f"{display_name(path)} has no audio stream"
            )
        stream = container.streams.audio[0]
        prime, source, drop = priming(path, fmt, stream)
        rate = int(stream.rate)
        # packed from 8 channels up: PyAV finds a frame's planes by walking to a NULL pointer,
        # which FFmpeg only guarantees below 8 (AV_NUM_DATA_POINTERS), and reads garbage planes
        packed = stream.codec_context.channels >= 8
        resampler = av.AudioResampler(format="flt" if packed else "fltp", layout=stream.layout, rate=rate)
        _, duration_ns = stream_span_ns(container, stream)
        sink = _Samples(path, (duration_ns or 0) * rate // NS + rate)
        first_pts_ns: int | None = None
        with decode_errors(path, "audio"):
            frames = container.decode(stream)
            for frame in frames:
                if first_pts_ns is None and frame.pts is not None:
                    first_pts_ns = to_ns(frame.pts, stream.time_base)
                for out in resampler.resample(frame):
                    sink.add(out)
                if sink.channels:
                    break
            add = sink.add
            if getattr(resampler, "is_passthrough", False):
                for frame in frames:
                    add(frame)
            else:
                for frame in frames:
                    for out in resampler.resample(frame):
                        add(out)
            for out in resampler.resample(None):
                add(out)
    samples = sink.result(stream.codec_context.channels)
    start_ns = first_pts_ns or 0
    if source == "lame_tag":
        start_ns = max(0, start_ns - prime * NS // rate)
    if drop:
        samples = samples[:, drop:]
    return np.ascontiguousarray(samples), rate, start_ns


class _Samples:
    """Float frames (planar, or packed from 8 channels up) gathered into one float32 [channels,
    samples] array through an FFmpeg sample FIFO, which is emptied into the array every ``MOVE``
    samples (so it never grows)."""

    MOVE = 1 << 16
    MOST_AHEAD = 1 << 26  # samples per channel reserved from the declared duration (more: grown)

    def __init__(self, path: Path, expected: int) -> None:
        self.path, self.expected = path, min(max(expected, self.MOVE), self.MOST_AHEAD)
        self.fifo = av.AudioFifo()
        self.channels = 0
        self.array = np.empty((0, 0), np.float32)
        self.n = 0

    def add(self, frame: Any) -> None:
        if not self.channels:
            if not frame.samples:
                return
            self.channels = int(frame.layout.nb_channels)
            self.array = np.empty((self.channels, self.expected), np.float32)
            frame.time_base = Fraction(0, 1)  # else the FIFO insists that timestamps run on without a gap
        elif frame.samples and frame.layout.nb_channels != self.channels:  # the FIFO would read past the planes
            raise MediaError(
                MediaErrorKind.UNDECODABLE,
                f"{display_name(self.path)}: the audio changes from {self.channels} to "
                f"{frame.layout.nb_channels} channels mid-stream; re-export it",
            )
        try:
            self.fifo.write(frame)
        except ValueError:
            raise MediaError(
                MediaErrorKind.UNDECODABLE,
                f"{display_name(self.path)}: the audio changes sample format or rate mid-stream; re-export it",
            ) from None
        if self.fifo.samples >= self.MOVE:
            self._move()

    def _move(self) -> None:
        chunk = self.fifo.read()
        if chunk is None:
            return
        n = chunk.samples
        if self.n + n > self.array.shape[1]:
            grown = np.empty((self.channels, max(2 * self.array.shape[1], self.n + n)), np.float32)
            grown[:, :self.n] = self.array[:, :self.n]
            self.array = grown
        if chunk.format.is_planar:
            for i, plane in enumerate(chunk.planes):
                self.array[i, self.n:self.n + n] = np.frombuffer(memoryview(plane), np.float32, n)
        else:
            packed = np.frombuffer(memoryview(chunk.planes[0]), np.float32, n * self.channels)
            self.array[:, self.n:self.n + n] = packed.reshape(n, self.channels).T
        self.n += n

    def result(self, channels: int) -> np.ndarray:
        """The samples (``channels`` × 0 when there were none)."""
        self._move()
        if not self.channels:
            return np.zeros((channels, 0), np.float32)
        return self.array[:, :self.n]
