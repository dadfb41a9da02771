"""``read_audio``'s quick paths give the samples the per-frame decode gave, bit for bit.

The reference is ``read_audio`` as it was before them (PyAV frame by frame, each frame through
the resampler and into its own array), kept here verbatim. Plain PCM WAV is now read in one
call (``read_pcm_wav``); everything else is decoded into an FFmpeg sample FIFO. Both are
compared with the reference on generated files: every WAV sample format, mono, stereo and
more, WAVE_FORMAT_EXTENSIBLE, extra chunks before and after the samples, padding bytes, a
truncated file; WAVs the quick path must leave to the decoder (compressed, RF64, a streamed
size, a partial last sample, an S/PDIF sync word, two data chunks, odd bit depths); and the
compressed formats with their priming rules (AAC in MP4 and ADTS, MP3 with and without a
LAME tag, FLAC, Vorbis, Opus).
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from mediafiles import encode_audio, ffmpeg

from syncline.media.audio import decode_audio, priming, read_audio
from syncline.media.decoding import NS, decode_errors, open_av, to_ns
from syncline.media.detect import detect
from syncline.media.wav import read_pcm_wav

pytestmark = pytest.mark.functional
RATE = 22050


def per_frame_reference(path: Path) -> tuple[np.ndarray, int, int]:
    """``read_audio`` before the quick paths (verbatim but for the error branch)."""
    _, fmt = detect(path)
    with open_av(path) as container:
        stream = container.streams.audio[0]
        prime, source, drop = priming(path, fmt, stream)
        rate = int(stream.rate)
        resampler = av.AudioResampler(format="fltp", layout=stream.layout, rate=rate)
        chunks: list[np.ndarray] = []
        first_pts_ns: int | None = None
        with decode_errors(path, "audio"):
            for frame in container.decode(stream):
                if first_pts_ns is None and frame.pts is not None:
                    first_pts_ns = to_ns(frame.pts, stream.time_base)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    channels = stream.codec_context.channels
    samples = (
        np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
        if chunks
        else np.zeros((channels, 0), np.float32)
    )
    start_ns = first_pts_ns or 0
    if source == "lame_tag":
        start_ns = max(0, start_ns - prime * NS // rate)
    if drop:
        samples = samples[:, drop:]
    return np.ascontiguousarray(samples), rate, start_ns


def assert_same(got: tuple[np.ndarray, int, int], want: tuple[np.ndarray, int, int]) -> None:
    assert got[0].dtype == np.float32 and got[0].flags.c_contiguous
    assert got[0].shape == want[0].shape
    np.testing.assert_array_equal(got[0], want[0])  # bit for bit (NaN == NaN)
    assert got[1:] == want[1:]


def signal(n: int, channels: int, seed: int = 0) -> np.ndarray:
    """Noise and a tone, with full-scale runs at both rails and a few samples past them."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    x = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] + rng.normal(0, 0.2, (n, channels))
    x[n // 5: n // 5 + 300] = 1.0
    x[n // 3: n // 3 + 300] = -1.0
    x[n // 2: n // 2 + 50] = 1.3
    return x * np.linspace(1.0, 0.4, channels)


def riff(*chunks: tuple[bytes, bytes]) -> bytes:
    """A RIFF/WAVE file from (id, body) chunks, each padded to an even length."""
    body = b"".join(cid + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1) for cid, data in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def fmt_chunk(tag: int, channels: int, bits: int, *, rate: int = RATE) -> tuple[bytes, bytes]:
    align = channels * bits // 8
    return b"fmt ", struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def int24(values: np.ndarray) -> bytes:
    v = values.astype("<i4").view(np.uint8).reshape(-1, 4)
    return v[:, :3].tobytes()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fastpath")


@pytest.mark.parametrize("container", ["WAV", "WAVEX"])
@pytest.mark.parametrize("channels", [1, 2, 3])
@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_pcm_wav_is_read_in_one_call_exactly_as_the_decoder_gives_it(
    folder: Path, subtype: str, channels: int, container: str
) -> None:
    path = folder / f"{subtype}-{channels}-{container}.wav"
    sf.write(path, signal(RATE + 7, channels), RATE, subtype=subtype, format=container)
    want = per_frame_reference(path)
    fast = read_pcm_wav(path)
    assert fast is not None, "a plain PCM WAV must not need the decoder"
    assert_same(fast, want)
    assert_same(read_audio(path), want)
    assert_same(decode_audio(path, "wav"), want)


def test_full_range_32_bit_integers_round_to_float32_as_ffmpeg_rounds_them(folder: Path) -> None:
    rng = np.random.default_rng(3)
    ints = rng.integers(-(2**31), 2**31, 2 * 5001, dtype=np.int64).astype("<i4")
    ints[:4] = [-(2**31), 2**31 - 1, 2**24 + 1, -(2**24) - 3]  # extremes and the first inexact values
    path = folder / "s32-full.wav"
    path.write_bytes(riff(fmt_chunk(1, 2, 32), (b"data", ints.tobytes())))
    fast = read_pcm_wav(path)
    assert fast is not None
    assert_same(fast, per_frame_reference(path))


def test_extra_chunks_padding_and_an_odd_sample_count_are_read_like_ffmpeg(folder: Path) -> None:
    rng = np.random.default_rng(4)
    values = rng.integers(-(2**23), 2**23, 4001)  # 24-bit mono, odd count: an odd data size and a pad byte
    path = folder / "chunks.wav"
    path.write_bytes(riff(
        (b"JUNK", b"\0" * 27),                       # odd-sized chunk before fmt
        fmt_chunk(1, 1, 24),
        (b"fact", struct.pack("<I", 4001)),
        (b"LIST", b"INFOISFT" + struct.pack("<I", 5) + b"test\0"),
        (b"data", int24(values)),
        (b"LIST", b"INFOICMT" + struct.pack("<I", 3) + b"hi\0"),   # metadata after the samples
        (b"cue ", b"\0" * 4),
    ))
    fast = read_pcm_wav(path)
    assert fast is not None
    assert_same(fast, per_frame_reference(path))
    np.testing.assert_array_equal(fast[0][0], (values * 2.0**-23).astype(np.float32))


def test_a_wav_cut_short_gives_the_samples_that_are_there(folder: Path) -> None:
    whole = folder / "whole.wav"
    sf.write(whole, signal(RATE, 2), RATE, subtype="PCM_16")
    cut = folder / "cut.wav"
    cut.write_bytes(whole.read_bytes()[:44 + 4 * 10000])  # header declares RATE frames, 10000 present
    fast = read_pcm_wav(cut)
    assert fast is not None and fast[0].shape == (2, 10000)
    assert_same(fast, per_frame_reference(cut))


def _patched(src: Path, dest: Path, old: bytes, new: bytes) -> Path:
    data = src.read_bytes()
    assert old in data
    dest.write_bytes(data.replace(old, new, 1))
    return dest


@pytest.mark.parametrize("case", [
    "mulaw", "adpcm", "rf64", "streamed_size", "partial_last_sample", "spdif_sync", "two_data_chunks",
    "bits_12", "extensible_20_of_24",
])
def test_wavs_the_one_call_read_does_not_handle_go_through_the_decoder(folder: Path, case: str) -> None:
    src = folder / "src16.wav"
    sf.write(src, signal(RATE, 2, seed=5), RATE, subtype="PCM_16")
    path = folder / f"{case}.wav"
    pcm = (signal(RATE, 1, seed=6)[:, 0].clip(-1, 1) * 32767).astype("<i2")
    if case == "mulaw":
        encode_audio(src, path, codec="pcm_mulaw")
    elif case == "adpcm":
        encode_audio(src, path, codec="adpcm_ms")
    elif case == "rf64":
        ffmpeg("-i", str(src), "-c:a", "pcm_s16le", "-rf64", "always", str(path))
    elif case == "streamed_size":
        _patched(src, path, b"data" + struct.pack("<I", 4 * RATE), b"data" + struct.pack("<I", 0xFFFFFFFF))
    elif case == "partial_last_sample":
        path.write_bytes(riff(fmt_chunk(1, 1, 16), (b"data", pcm.tobytes() + b"\x01")))
    elif case == "spdif_sync":
        raw = bytearray(pcm.tobytes())
        raw[1000:1004] = b"\x72\xf8\x1f\x4e"
        path.write_bytes(riff(fmt_chunk(1, 1, 16), (b"data", bytes(raw))))
    elif case == "two_data_chunks":
        half = len(pcm) // 2
        path.write_bytes(riff(fmt_chunk(1, 1, 16), (b"data", pcm[:half].tobytes()), (b"data", pcm[half:].tobytes())))
    elif case == "bits_12":
        path.write_bytes(riff((b"fmt ", struct.pack("<HHIIHH", 1, 1, RATE, 2 * RATE, 2, 12)), (b"data", pcm.tobytes())))
    elif case == "extensible_20_of_24":
        ext = struct.pack("<HHIIHHHHI", 0xFFFE, 1, RATE, 3 * RATE, 3, 24, 22, 20, 4) \
            + struct.pack("<H", 1) + bytes.fromhex("000000001000800000aa00389b71")
        path.write_bytes(riff((b"fmt ", ext), (b"data", int24(pcm.astype(np.int64) << 4))))
    assert read_pcm_wav(path) is None
    if case != "rf64":  # (``detect`` does not take RF64 for a WAV: read_audio refuses it either way)
        assert_same(read_audio(path), per_frame_reference(path))


@pytest.mark.parametrize(("name", "extra"), [
    ("aac.m4a", ()), ("aac.aac", ()), ("lame.mp3", ()), ("nolame.mp3", ("-write_xing", "0")),
    ("lossless.flac", ()), ("vorbis.ogg", ()), ("opus.opus", ()), ("s32.flac", ("-sample_fmt", "s32")),
])
@pytest.mark.parametrize("channels", [1, 2])
def test_compressed_audio_through_the_fifo_equals_the_per_frame_decode(
    folder: Path, name: str, extra: tuple[str, ...], channels: int
) -> None:
    src = folder / f"src-{channels}.wav"
    sf.write(src, signal(3 * RATE + 11, channels, seed=7) * 0.7, RATE, subtype="PCM_24")
    if name.endswith(".opus"):
        extra = (*extra, "-ar", "48000")
    path = encode_audio(src, folder / f"{channels}-{name}", extra=extra)
    want = per_frame_reference(path)
    assert want[0].shape[0] == channels and want[0].shape[1] > 2 * RATE
    assert_same(read_audio(path), want)


def test_a_long_aac_file_crosses_several_fifo_reads(folder: Path) -> None:
    path = folder / "long.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=300:sample_rate=48000:duration=50", "-c:a", "aac", str(path))
    want = per_frame_reference(path)
    assert want[0].shape[1] > 2 * (1 << 20)
    assert_same(read_audio(path), want)


@pytest.mark.parametrize(("name", "channels", "codec"), [("surround.flac", 8, "flac"), ("poly.wav", 12, "pcm_mulaw")])
def test_eight_channels_and_more_equal_ffmpeg_s_own_decode(folder: Path, name: str, channels: int,
                                                            codec: str) -> None:
    """From 8 channels up a frame's planes cannot be walked (PyAV reads past FFmpeg's 8 data
    pointers): the samples come packed and must still equal ``ffmpeg -f f32le``."""
    import subprocess

    path = folder / name
    exprs = "|".join(f"{0.2 + 0.05 * c:.2f}*sin({200 + 37 * c}*2*PI*t)+0.05*(random(0)-0.5)" for c in range(channels))
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc=exprs={exprs}:s=16000:d=2", "-c:a", codec, str(path))
    got, rate, start = read_audio(path)
    raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-f", "f32le", "-acodec", "pcm_f32le",
                          "-"], capture_output=True, check=True).stdout
    want = np.frombuffer(raw, np.float32).reshape(-1, channels).T
    assert (rate, start) == (16000, 0) and got.shape == want.shape == (channels, 32000)
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got[0], got[-1])  # the channels are not all the same
