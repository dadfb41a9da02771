"""Plain PCM WAV read in one call: the same float32 samples, bit for bit, that FFmpeg's PCM
decoder and resampler give (``media.audio.decode_audio``), without a Python step per 4 KB packet.

Covered: 8/16/24/32-bit integer and 32/64-bit float PCM, any channel count,
WAVE_FORMAT_EXTENSIBLE of those, extra or trailing chunks. The file is parsed the way FFmpeg's
WAV demuxer parses it, and anything FFmpeg would treat differently — compressed codecs, RF64, a
streamed size, a partial last sample, two data chunks, odd bit depths, S/PDIF (IEC 61937)
bursts — returns None so the caller decodes it. A 36 s file: 0.4 ms instead of 40-57 ms.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

_WAVE_PCM, _WAVE_FLOAT, _WAVE_EXTENSIBLE = 1, 3, 0xFFFE
_SUBTYPE_TAIL = bytes.fromhex("000010008000" "00aa00389b71")  # KSDATAFORMAT_SUBTYPE_* after the tag
_SPDIF_SYNC, _SPDIF_PROBE = b"\x72\xf8\x1f\x4e", 1 << 16  # FFmpeg looks for IEC 61937 in 64 KiB
# (format tag, bits) -> (stored dtype, scale to [-1, 1]); 24-bit is widened to int32 << 8 first,
# as FFmpeg's decoder does, and every scale is a power of two, so the products are exact
_PCM_KINDS: dict[tuple[int, int], tuple[str, float]] = {
    (_WAVE_PCM, 8): ("u1", 2.0 ** -7), (_WAVE_PCM, 16): ("<i2", 2.0 ** -15),
    (_WAVE_PCM, 24): ("<i4", 2.0 ** -31), (_WAVE_PCM, 32): ("<i4", 2.0 ** -31),
    (_WAVE_FLOAT, 32): ("<f4", 1.0), (_WAVE_FLOAT, 64): ("<f8", 1.0),
}


def _pcm_layout(f: BinaryIO, size: int) -> tuple[int, int, int, int, int, int] | None:
    """(format tag, bits, channels, rate, data offset, data bytes) of a plain PCM WAV, read the way
    FFmpeg's WAV demuxer reads it; None for anything it would treat differently."""
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None  # RIFX, RF64 and the rest: the decoder
    fmt: bytes | None = None
    data: list[tuple[int, int]] = []
    pos = 12
    while pos + 8 <= size:  # every chunk, padded to even offsets (later 'data' chunks win in FFmpeg)
        f.seek(pos)
        chunk, length = f.read(4), int.from_bytes(f.read(4), "little")
        if chunk in (b"SMV0", b"XMA2") or (chunk in (b"LIST", b"list") and length < 4):
            return None
        if chunk == b"fmt " and fmt is None:
            fmt = f.read(min(length, 64))
        elif chunk == b"data":
            data.append((pos + 8, length))
        end = pos + 8 + length
        if end >= size:
            break
        pos = end + (end & 1)
    if fmt is None or len(data) != 1 or len(fmt) < 16:
        return None
    offset, length = data[0]
    if length in (0, 0xFFFFFFFF):
        return None  # "read to the end of the file": whatever follows would be read as samples
    tag, channels = int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little")
    rate, align = int.from_bytes(fmt[4:8], "little"), int.from_bytes(fmt[12:14], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    extra = min(len(fmt) - 18, int.from_bytes(fmt[16:18], "little")) if len(fmt) >= 18 else 0
    if tag == _WAVE_EXTENSIBLE:
        if extra < 22 or fmt[28:40] != _SUBTYPE_TAIL:
            return None
        valid, mask = int.from_bytes(fmt[18:20], "little"), int.from_bytes(fmt[20:24], "little")
        if valid not in (0, bits) or (mask and mask.bit_count() != channels):
            return None
        tag, extra = int.from_bytes(fmt[24:28], "little"), extra - 22
    if extra > 0 or (tag, bits) not in _PCM_KINDS or channels < 1 or rate < 1 or align != channels * bits // 8:
        return None  # extradata turns 32-bit PCM into half floats in FFmpeg; odd sizes are rounded up there
    nbytes = min(length, size - offset)
    if nbytes <= 0 or nbytes % align or _later_data_chunk(f, offset + length, size):
        return None
    return tag, bits, channels, rate, offset, nbytes


def _later_data_chunk(f: BinaryIO, pos: int, size: int) -> bool:
    """Whether FFmpeg, at the end of the data chunk, would find another one to read on (it
    scans from the very end, without the padding byte)."""
    while pos + 8 <= size:
        f.seek(pos)
        chunk, length = f.read(4), int.from_bytes(f.read(4), "little")
        if chunk == b"data":
            return True
        pos += 8 + length + (length & 1)
    return False


def read_pcm_wav(path: Path) -> tuple[np.ndarray, int, int] | None:
    """A plain PCM WAV's samples in one read, equal to what ``decode_audio`` gives (float32
    [channels, samples], rate, start 0); None when the file needs the decoder."""
    try:
        with open(path, "rb") as f:
            layout = _pcm_layout(f, os.fstat(f.fileno()).st_size)
            if layout is None:
                return None
            tag, bits, channels, rate, offset, nbytes = layout
            f.seek(offset)
            raw = np.empty(nbytes, np.uint8)
            if f.readinto(raw.data) != nbytes:
                return None
    except OSError:
        return None  # the decoder says what is wrong with it
    if tag == _WAVE_PCM and _SPDIF_SYNC in raw[:_SPDIF_PROBE].tobytes():
        return None  # FFmpeg would read it as an IEC 61937 (AC-3/DTS) stream
    dtype, scale = _PCM_KINDS[(tag, bits)]
    if bits == 24:
        wide = np.zeros((nbytes // 3, 4), np.uint8)
        wide[:, 1:] = raw.reshape(-1, 3)
        stored = wide.view("<i4").reshape(-1)
    else:
        stored = raw.view(dtype)
    if bits == 8:
        stored = stored.astype(np.int16) - 128
    interleaved = stored.reshape(-1, channels).T
    out = np.empty(interleaved.shape, np.float32)
    if scale == 1.0:
        out[...] = interleaved
    else:
        np.multiply(interleaved, np.float32(scale), out=out, dtype=np.float32)
    return out, rate, 0
