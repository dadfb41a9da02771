"""Real test media with known ground truth, made on the spot with ffmpeg, NumPy, Pillow,
soundfile, pypdf and espeak-ng. Import as ``from mediafiles import ...``.

Every ``make_*`` function writes into ``folder`` and returns the path. The truth is in the
arguments (duration, fps, size, sample rate, click time) and in the constants below, so a
test asserts against what was planted, never against a number copied from a previous run.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import subprocess
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image
from PIL.PngImagePlugin import PngInfo

CLICK_S = 1.0
CAPTURE_ISO = "2024-05-01T12:00:00Z"
CAPTURE_UTC_NS = 1_714_564_800_000_000_000  # 2024-05-01T12:00:00Z
EXIF_DATETIME = "2024:05:01 12:00:00"
CAMERA_MAKE, CAMERA_MODEL = "Canon", "EOS 5D"
GPS_LAT, GPS_LON = (48, 51, 29), (2, 17, 40)  # Paris
XMP_GPS_MARK = "48,51.4833N"
COMMENT = "secret comment: Alice at home"
IPTC_CITY = "Paris"

CUES = [  # (t0_s, t1_s, speaker, text)
    (0.5, 1.5, "Alice", "hello there"),
    (1.75, 3.0, "Bob", "general kenobi you are a bold one"),
    (3.25, 4.0, "Alice", "bye"),
]
EVENT_ROWS = [  # (t_s, type, state, actor, note)
    (0.0, "door", "open", "alice", "front"),
    (0.5, "light", "on", "bob", "kitchen"),
    (1.0, "door", "closed", "alice", "front"),
    (2.5, "arm", "grasp", "robot", "cup"),
]


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; raise with its last stderr line on failure."""
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {proc.stderr.strip()[-400:]}")


# --- video ------------------------------------------------------------------------------

def make_video(
    folder: Path,
    name: str = "clip.mp4",
    *,
    seconds: float = 2.0,
    fps: int = 25,
    size: tuple[int, int] = (160, 120),
    audio: bool = True,
    sample_rate: int = 48000,
    vcodec: str | None = None,
    acodec: str | None = None,
    tags: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> Path:
    """testsrc video (+ 440 Hz sine audio): ``seconds * fps`` frames of ``size``."""
    path = Path(folder) / name
    ext = path.suffix.lower()
    vcodec = vcodec or {".webm": "libvpx", ".avi": "mpeg4", ".mkv": "libx264"}.get(ext, "libx264")
    acodec = acodec or {".webm": "libopus", ".avi": "libmp3lame"}.get(ext, "aac")
    args = ["-f", "lavfi", "-i", f"testsrc=size={size[0]}x{size[1]}:rate={fps}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate={sample_rate}:duration={seconds}"]
    args += ["-c:v", vcodec, "-pix_fmt", "yuv420p", "-g", str(fps)]
    if vcodec == "libx264":
        args += ["-preset", "ultrafast"]
    if audio:
        args += ["-c:a", acodec]
    for k, v in (tags or {}).items():
        args += ["-metadata", f"{k}={v}"]
    ffmpeg(*args, *extra, str(path))
    return path


def encode_h264(path: Path, frames: Iterable[np.ndarray], fps: int, *, pix_fmt: str = "yuv420p",
                options: dict[str, str] | None = None) -> Path:
    """RGB frames (H, W, 3) to an H.264 MP4 with PyAV, one encode call per frame."""
    import av

    it = iter(frames)
    first = next(it)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options=options or {"preset": "ultrafast"})
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = pix_fmt
        for img in itertools.chain((first,), it):  # lazily: a caller may reuse one buffer
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_tagged_mp4(folder: Path, name: str = "tagged.mp4") -> Path:
    """An MP4 with title, comment, location (GPS, ISO 6709) and creation_time tags."""
    return make_video(
        folder,
        name,
        tags={
            "title": "Alice birthday",
            "comment": COMMENT,
            "location": "+48.8577+002.2950/",
            "creation_time": CAPTURE_ISO,
        },
    )


def make_phone_mov(folder: Path, name: str = "phone.mov") -> Path:
    """A QuickTime file with Apple make/model keys and a creation date."""
    return make_video(
        folder,
        name,
        audio=False,
        tags={
            "com.apple.quicktime.make": "Apple",
            "com.apple.quicktime.model": "iPhone 12",
            "creation_time": CAPTURE_ISO,
        },
        extra=("-movflags", "use_metadata_tags"),
    )


# --- audio ------------------------------------------------------------------------------

def make_click_wav(
    folder: Path,
    name: str = "click.wav",
    *,
    seconds: float = 2.0,
    sample_rate: int = 48000,
    click_s: float = CLICK_S,
    channels: int = 1,
) -> Path:
    """Silence with one 4-sample click starting exactly at ``click_s``."""
    n = int(round(seconds * sample_rate))
    x = np.zeros((n, channels), np.float32)
    at = int(round(click_s * sample_rate))
    x[at : at + 4] = np.array([0.9, -0.9, 0.9, -0.9], np.float32)[:, None]
    path = Path(folder) / name
    sf.write(path, x, sample_rate, subtype="PCM_16")
    return path


def encode_audio(src: Path, dest: Path, *, codec: str | None = None, extra: tuple[str, ...] = ()) -> Path:
    """Re-encode ``src`` with ffmpeg; codec from the extension (.m4a/.aac AAC, .mp3, .flac, .ogg)."""
    codec = codec or {
        ".m4a": "aac", ".aac": "aac", ".mp3": "libmp3lame", ".flac": "flac", ".ogg": "libvorbis", ".opus": "libopus",
        ".wav": "pcm_s16le",
    }[Path(dest).suffix.lower()]
    ffmpeg("-i", str(src), "-c:a", codec, *extra, str(dest))
    return Path(dest)


def make_tone(
    folder: Path, name: str = "tone.wav", *, seconds: float = 2.0, sample_rate: int = 44100,
    freq: float = 440.0, channels: int = 1,
) -> Path:
    path = Path(folder) / name
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate={sample_rate}:duration={seconds}",
           "-ac", str(channels), str(path))
    return path


def make_speech_wav(folder: Path, name: str = "speech.wav", text: str = "hello there, general kenobi") -> Path:
    """Speech from espeak-ng (22050 Hz mono WAV)."""
    path = Path(folder) / name
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    return path


# --- images -----------------------------------------------------------------------------

def pixels(size: tuple[int, int] = (160, 120), seed: int = 0) -> np.ndarray:
    """A deterministic RGB gradient with noise, [h, w, 3] uint8."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) % 256], -1)
    return (img + rng.integers(0, 8, img.shape)).clip(0, 255).astype(np.uint8)


def _exif(gps: bool) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = CAMERA_MAKE
    exif[0x0110] = CAMERA_MODEL
    exif.get_ifd(0x8769)[0x9003] = EXIF_DATETIME
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2] = "N", tuple(float(v) for v in GPS_LAT)
        g[3], g[4] = "E", tuple(float(v) for v in GPS_LON)
    return exif


def xmp_packet() -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        f'exif:GPSLatitude="{XMP_GPS_MARK}" exif:GPSLongitude="2,17.6667E">'
        "<dc:creator><rdf:Seq><rdf:li>Alice Example</rdf:li></rdf:Seq></dc:creator>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _iptc_app13() -> bytes:
    def ds(number: int, value: bytes) -> bytes:
        return b"\x1c\x02" + bytes([number]) + struct.pack(">H", len(value)) + value

    iptc = ds(90, IPTC_CITY.encode()) + ds(80, b"Alice Example") + ds(120, b"caption")
    if len(iptc) % 2:
        iptc += b"\x00"
    irb = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(iptc)) + iptc
    payload = b"Photoshop 3.0\x00" + irb
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def make_jpeg_with_metadata(
    folder: Path, name: str = "photo.jpg", *, size: tuple[int, int] = (160, 120),
    gps: bool = True, xmp: bool = True, iptc: bool = True, comment: bool = True,
) -> Path:
    """A JPEG carrying EXIF (Make/Model/DateTimeOriginal + GPS IFD), XMP with GPS, IPTC, COM."""
    path = Path(folder) / name
    kwargs: dict[str, object] = {"exif": _exif(gps).tobytes(), "quality": 92}
    if comment:
        kwargs["comment"] = COMMENT.encode()
    Image.fromarray(pixels(size)).save(path, "JPEG", **kwargs)
    data = path.read_bytes()
    extra = b""
    if xmp:
        payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet()
        extra += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    if iptc:
        extra += _iptc_app13()
    path.write_bytes(data[:2] + extra + data[2:])
    return path


def make_png_with_text(folder: Path, name: str = "shot.png", *, size: tuple[int, int] = (160, 120)) -> Path:
    """A PNG with tEXt comment, iTXt XMP (with GPS), eXIf and a tIME chunk."""
    info = PngInfo()
    info.add_text("Comment", COMMENT)
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode("utf-8"))
    path = Path(folder) / name
    Image.fromarray(pixels(size)).save(path, "PNG", pnginfo=info, exif=_exif(True).tobytes())
    data = path.read_bytes()
    t = b"tIME" + struct.pack(">HBBBBB", 2024, 5, 1, 12, 0, 0)
    chunk = struct.pack(">I", 7) + t + struct.pack(">I", zlib.crc32(t))
    iend = data.rindex(b"IEND") - 4
    path.write_bytes(data[:iend] + chunk + data[iend:])
    return path


def make_image(folder: Path, name: str = "plain.png", *, size: tuple[int, int] = (160, 120)) -> Path:
    """A plain image in the format of ``name``'s extension (no metadata)."""
    path = Path(folder) / name
    Image.fromarray(pixels(size)).save(path)
    return path


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_bomb_png(folder: Path, name: str = "bomb.png", *, width: int = 20000, height: int = 20000) -> Path:
    """A tiny PNG whose IHDR declares ``width x height`` (400 MP by default) with almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    path = Path(folder) / name
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def make_bomb_jpeg(folder: Path, name: str = "bomb.jpg", *, width: int = 20000, height: int = 20000) -> Path:
    """A tiny JPEG whose SOF0 declares ``width x height`` with no scan data."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    path = Path(folder) / name
    path.write_bytes(b"\xff\xd8\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\xff\xd9")
    return path


# --- broken files -----------------------------------------------------------------------

def truncate_copy(src: Path, dest: Path, *, fraction: float = 0.6) -> Path:
    data = Path(src).read_bytes()
    Path(dest).write_bytes(data[: int(len(data) * fraction)])
    return Path(dest)


def make_garbage(folder: Path, name: str = "garbage.mp4", *, size: int = 8192, seed: int = 0) -> Path:
    """Random bytes that match no magic number (first bytes fixed to 00 01 02 03)."""
    data = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()
    path = Path(folder) / name
    path.write_bytes(b"\x00\x01\x02\x03" + data[4:])
    return path


def make_empty(folder: Path, name: str = "empty.mp4") -> Path:
    path = Path(folder) / name
    path.write_bytes(b"")
    return path


def make_broken_symlink(folder: Path, name: str = "gone.wav") -> Path:
    path = Path(folder) / name
    os.symlink(Path(folder) / "does-not-exist.wav", path)
    return path


def make_directory_named(folder: Path, name: str = "folder.mp4") -> Path:
    path = Path(folder) / name
    path.mkdir()
    return path


def non_utf8_path(folder: Path, stem: bytes = b"caf\xe9-\xff", suffix: str = ".wav") -> Path:
    """A path whose name is not valid UTF-8 (Latin-1 bytes), as Linux allows."""
    return Path(os.fsdecode(os.fsencode(Path(folder)) + b"/" + stem + suffix.encode()))


# --- text kinds -------------------------------------------------------------------------

def _srt_time(t: float) -> str:
    ms = int(round(t * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def make_srt(folder: Path, name: str = "subs.srt") -> Path:
    """SRT with ``CUES`` (no speakers)."""
    blocks = [f"{i}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n" for i, (a, b, _, text) in enumerate(CUES, 1)]
    path = Path(folder) / name
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def make_vtt(folder: Path, name: str = "subs.vtt") -> Path:
    """WebVTT with ``CUES`` and voice tags for speakers, plus a NOTE block."""
    lines = ["WEBVTT", "", "NOTE made by mediafiles", ""]
    for i, (a, b, who, text) in enumerate(CUES, 1):
        lines += [f"c{i}", f"{_srt_time(a).replace(',', '.')} --> {_srt_time(b).replace(',', '.')} align:start",
                  f"<v {who}>{text}", ""]
    path = Path(folder) / name
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def make_transcript_json(folder: Path, name: str = "asr.json") -> Path:
    """Whisper-like JSON: ``CUES`` as segments with evenly spaced word timings."""
    segments = []
    for a, b, who, text in CUES:
        words = text.split()
        edges = np.linspace(a, b, len(words) + 1)
        segments.append({
            "start": a, "end": b, "text": text, "speaker": who,
            "words": [{"word": w, "start": round(float(edges[k]), 3), "end": round(float(edges[k + 1]), 3),
                       "probability": 0.9} for k, w in enumerate(words)],
        })
    path = Path(folder) / name
    path.write_text(json.dumps({"language": "en", "segments": segments}), encoding="utf-8")
    return path


MALFORMED_SRT = {
    "bad_timestamp": "1\n00:00:01,000 --> 00:00:xx,500\nhello\n",
    "end_before_start": "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:05,000 --> 00:00:04,000\nbackwards\n",
    "garbage": "1\n00:00:01,000 --> 00:00:02,000\nok\n\nthis is not a cue at all\nnor this\n",
}


def make_malformed_srt(folder: Path, problem: str, name: str | None = None) -> Path:
    """An SRT with one planted problem (see ``MALFORMED_SRT``); the bad line is line 2, 6 or 5."""
    path = Path(folder) / (name or f"{problem}.srt")
    path.write_text(MALFORMED_SRT[problem], encoding="utf-8")
    return path


def make_malformed_vtt(folder: Path, name: str = "bad.vtt") -> Path:
    """WebVTT whose second cue has an impossible timestamp (61 seconds) on line 6."""
    path = Path(folder) / name
    path.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n00:03.000 --> 00:61.000\nbad\n", encoding="utf-8")
    return path


def sensor_truth(*, rate_hz: int = 100, seconds: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(t seconds, accel_x) of the planted sensor stream: a 2 Hz sine."""
    t = np.arange(int(rate_hz * seconds)) / rate_hz
    return t, np.sin(2 * np.pi * 2.0 * t)


def make_sensor_csv(
    folder: Path, name: str = "imu.csv", *, rate_hz: int = 100, seconds: float = 2.0,
    non_monotonic_row: int | None = None, iso: bool = False,
) -> Path:
    """Columns ``t_s, accel_x[m/s^2], accel_y (m/s^2), temp[C]``; ``rate_hz * seconds`` rows.

    ``non_monotonic_row`` (1-based data row) gets a time 0.5 s earlier than its predecessor.
    ``iso``: the time column is ``timestamp`` in ISO 8601 UTC starting at ``CAPTURE_ISO``.
    """
    t, ax = sensor_truth(rate_hz=rate_hz, seconds=seconds)
    if non_monotonic_row is not None:
        t = t.copy()
        t[non_monotonic_row - 1] = t[non_monotonic_row - 2] - 0.5
    ay = np.cos(2 * np.pi * 2.0 * t)
    temp = np.full_like(t, 21.5)
    path = Path(folder) / name
    if iso:
        base = np.datetime64(CAPTURE_ISO.rstrip("Z"), "ns")
        stamps = np.datetime_as_string(base + (t * 1e9).astype("timedelta64[ns]"), unit="ms")
        rows = [f"{s}Z,{a:.6f},{b:.6f},{c:.2f}" for s, a, b, c in zip(stamps, ax, ay, temp, strict=True)]
        path.write_text("timestamp,accel_x[m/s^2],accel_y (m/s^2),temp[C]\n" + "\n".join(rows) + "\n")
    else:
        np.savetxt(path, np.column_stack([t, ax, ay, temp]), delimiter=",", fmt="%.6f",
                   header="t_s,accel_x[m/s^2],accel_y (m/s^2),temp[C]", comments="")
    return path


def make_sensor_parquet(folder: Path, name: str = "imu.parquet", *, rate_hz: int = 50, seconds: float = 2.0) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t, ax = sensor_truth(rate_hz=rate_hz, seconds=seconds)
    path = Path(folder) / name
    pq.write_table(pa.table({"t": t, "accel_x [m/s^2]": ax}), path)
    return path


def make_events_csv(folder: Path, name: str = "events.csv") -> Path:
    """``EVENT_ROWS`` as CSV: t, type, state, actor, note (rows written out of time order)."""
    rows = [EVENT_ROWS[i] for i in (0, 2, 1, 3)]
    lines = ["t,type,state,actor,note"] + [f"{t},{ty},{st},{ac},{no}" for t, ty, st, ac, no in rows]
    path = Path(folder) / name
    path.write_text("\n".join(lines) + "\n")
    return path


def make_events_jsonl(folder: Path, name: str = "events.jsonl") -> Path:
    path = Path(folder) / name
    path.write_text("\n".join(
        json.dumps({"time": t, "event": ty, "state": st, "actor": ac, "note": no})
        for t, ty, st, ac, no in EVENT_ROWS) + "\n")
    return path


def make_metadata_csv(folder: Path, name: str = "entities.csv", *, n: int = 5) -> Path:
    """``n`` rows: entity_id e0..e{n-1}, site, age."""
    lines = ["entity_id,site,age"] + [f"e{i},site{i % 2},{30 + i}" for i in range(n)]
    path = Path(folder) / name
    path.write_text("\n".join(lines) + "\n")
    return path


def make_metadata_jsonl(folder: Path, name: str = "entities.jsonl", *, n: int = 3) -> Path:
    path = Path(folder) / name
    path.write_text("\n".join(json.dumps({"entity_id": f"e{i}", "site": "a"}) for i in range(n)) + "\n")
    return path


def make_pdf(folder: Path, name: str = "doc.pdf", *, pages: int = 3) -> Path:
    """A PDF of ``pages`` blank pages with an Info dictionary (Title, Author) and XMP."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Title": "Patient notes", "/Author": "Alice Example"})
    writer.xmp_metadata = xmp_packet()
    path = Path(folder) / name
    with path.open("wb") as f:
        writer.write(f)
    return path
