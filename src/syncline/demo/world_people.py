"""What the caretakers leave behind: spoken voice memos with transcripts, and phone photos.

Memos are spoken by espeak-ng one sentence at a time, trimmed, padded to whole 20 ms units and
joined with known gaps, so every SRT/WebVTT cue time is exact to the millisecond. Photos are
JPEGs that carry what a phone leaks: EXIF (DateTimeOriginal, Make/Model, a GPS IFD), an XMP
packet with GPS, and a JPEG COM comment naming the caretaker. Ingest must strip all three.

One photo is filed twice: ``photo-08`` is ``photo-01`` re-shared from another phone and filed
under another stall-day — resized to 80 %, 8 % brighter, re-compressed at JPEG quality 70, with
its own EXIF. The same picture in two entities is the near-duplicate an audit must catch when
a split puts them on both sides (``near_duplicate_of`` in the ground truth). With planting rates
(``duplicate``), each original photo is copied to a drawn other stall-day with that probability.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageDraw
from PIL.TiffImagePlugin import IFDRational

from syncline.demo.world_encode import encode_aac, espeak, to_int16, write_wav
from syncline.demo.world_plan import (
    ENTITIES,
    FARM_GPS,
    FARM_TZ,
    NS_PER_MS,
    SUBJECTS,
    TZ_OFFSET,
    AssetOut,
    EntityPlan,
    draw_clock,
    iso_from_ns,
    rng_for,
)
from syncline.demo.world_video import CAMERAS, render_frames
from syncline.timebase import NS_PER_S

LEAD_MS, GAP_MS, TAIL_MS, UNIT_MS = 400, 600, 500, 20
PHONE = {"caretaker-01": ("Pixelon", "P7 Pro"), "caretaker-02": ("Fairline", "FL-5"),
         "caretaker-03": ("Pixelon", "P6a")}


@dataclass(frozen=True)
class MemoPlan:
    key: str
    entity_index: int
    speaker: str
    fmt: str  # wav | m4a
    start_s: tuple[float, float]
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class PhotoPlan:
    key: str
    entity_index: int
    taken_by: str
    people: tuple[str, ...]
    start_s: tuple[float, float]
    comment: str
    copy_of: str = ""  # key of the photo this one re-shares (a near-duplicate), "" for an original


MEMOS = (
    MemoPlan("memo-01", 0, "caretaker-01", "m4a", (24.0, 28.0), (
        "Morning round, stall A.", "All four cows are up and eating well.",
        "I refilled the water trough.")),
    MemoPlan("memo-02", 2, "caretaker-02", "wav", (38.0, 41.0), (
        "Stall B, this is urgent.", "One of the Jersey cows is bellowing and will not stand up.",
        "She is breathing hard.", "I am calling the vet now.")),
    MemoPlan("memo-03", 4, "caretaker-03", "m4a", (10.0, 14.0), (
        "Stall C looks calm today.", "The fan is running and the floor is dry.")),
    MemoPlan("memo-04", 5, "caretaker-01", "wav", (38.0, 42.0), (
        "Night check, stall C.", "A cow keeps calling loudly and lying down again.",
        "It could be colic.", "The vet has been called.")),
)
PHOTOS = (
    PhotoPlan("photo-01", 0, "caretaker-01", (), (12.0, 20.0), "stall A feed bunk, morning"),
    PhotoPlan("photo-02", 2, "caretaker-01", ("caretaker-02",), (36.0, 40.0),
              "caretaker-02 with the Jersey cow that is down"),
    PhotoPlan("photo-03", 3, "caretaker-03", ("caretaker-01",), (5.0, 10.0), "caretaker-01 night round"),
    PhotoPlan("photo-04", 4, "caretaker-03", (), (20.0, 25.0), "stall C floor after cleaning"),
    PhotoPlan("photo-05", 5, "caretaker-02", ("caretaker-01", "caretaker-03"), (40.0, 45.0),
              "caretaker-01 and caretaker-03 waiting for the vet"),
)
DUPLICATES = (PhotoPlan("photo-08", 1, "caretaker-03", (), (16.0, 22.0), "feed bunk", copy_of="photo-01"),)


def photo_plans(seed: int, rate: float | None) -> tuple[PhotoPlan, ...]:
    """The originals and their re-shared copies: the default table's, or drawn with ``rate``
    (each original copied with that probability to another stall-day, keys photo-11, -12...)."""
    if rate is None:
        return PHOTOS + DUPLICATES
    rng = rng_for(seed, "planting/photos")
    copies: list[PhotoPlan] = []
    for p in PHOTOS:
        coin, other = float(rng.random()), int(rng.integers(0, len(ENTITIES) - 1))
        if coin < rate:
            target = other + (other >= p.entity_index)  # any stall-day but its own
            copies.append(PhotoPlan(f"photo-{11 + len(copies)}", target, "caretaker-03", p.people, (16.0, 22.0),
                                    "re-shared", copy_of=p.key))
    return PHOTOS + tuple(copies)


def _picture(rng: np.random.Generator, entity: EntityPlan, plan: PhotoPlan, offset_ns: int) -> Image.Image:
    frame = render_frames(CAMERAS["cam1"], "day", np.array([offset_ns / NS_PER_S]), rng)[0]
    if entity.lighting == "night":
        frame = (frame.astype(np.float32) * 0.55).astype(np.uint8)
    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    for j, _person in enumerate(plan.people):
        x = 60 + 90 * j + int(rng.integers(0, 30))
        draw.rectangle((x, 95, x + 34, 200), fill=(40, 70, 120))
        draw.ellipse((x + 5, 68, x + 29, 94), fill=(224, 186, 150))
    return img


def _copied_picture(seed: int, key: str) -> Image.Image:
    """The original photo ``key``'s picture re-shared: resized to 80 %, 8 % brighter."""
    src = next(p for p in PHOTOS if p.key == key)
    entity = ENTITIES[src.entity_index]
    rng = rng_for(seed, f"data/photos/{entity.entity_id}_{src.key}.jpg")
    clock = draw_clock(rng, start_s=src.start_s)
    img = _picture(rng, entity, src, clock.true_offset_ns)
    small = img.resize((img.width * 4 // 5, img.height * 4 // 5), Image.Resampling.BILINEAR)
    return Image.fromarray(np.clip(np.asarray(small, np.float32) * 1.08, 0, 255).astype(np.uint8))


def _trim_to_units(x: np.ndarray, unit: int) -> np.ndarray:
    """Cut leading/trailing silence, then pad with zeros to a whole number of units."""
    loud = np.flatnonzero(np.abs(x) > 0.01 * float(np.max(np.abs(x))))
    core = x[int(loud[0]):int(loud[-1]) + 1]
    return np.concatenate([core, np.zeros(-len(core) % unit)])


def _cue_time(ns: int, sep: str) -> str:
    ms = ns // NS_PER_MS
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _write_transcripts(stem: Path, cues: list[tuple[str, int, int]]) -> None:
    srt = [f"{i}\n{_cue_time(a, ',')} --> {_cue_time(b, ',')}\n{text}\n" for i, (text, a, b) in
           enumerate(cues, 1)]
    stem.with_suffix(".srt").write_text("\n".join(srt), encoding="utf-8")
    vtt = [f"{_cue_time(a, '.')} --> {_cue_time(b, '.')}\n{text}\n" for text, a, b in cues]
    stem.with_suffix(".vtt").write_text("WEBVTT\n\n" + "\n".join(vtt), encoding="utf-8")


def make_memo(root: Path, seed: int, entity: EntityPlan, plan: MemoPlan) -> list[AssetOut]:
    """The memo audio plus its SRT and WebVTT transcripts (three assets)."""
    rel = f"data/memos/{entity.entity_id}_{plan.key}.{plan.fmt}"
    rng = rng_for(seed, rel)
    clock = draw_clock(rng, start_s=plan.start_s)
    voice = next(s.voice for s in SUBJECTS if s.subject_id == plan.speaker)
    with tempfile.TemporaryDirectory(prefix="syncline-espeak-") as tmp:
        spoken = [espeak(text, voice, Path(tmp) / f"{i}.wav") for i, text in enumerate(plan.sentences)]
    rate = spoken[0][1]
    if rate % 50:
        raise ValueError(f"espeak-ng sample rate {rate} Hz is not a multiple of 50")
    unit = rate * UNIT_MS // 1000
    parts: list[np.ndarray] = [np.zeros(rate * LEAD_MS // 1000)]
    cues: list[tuple[str, int, int]] = []
    pos = len(parts[0])
    for i, (text, (x, _)) in enumerate(zip(plan.sentences, spoken, strict=True)):
        if i:
            parts.append(np.zeros(rate * GAP_MS // 1000))
            pos += rate * GAP_MS // 1000
        speech = _trim_to_units(x, unit)
        cues.append((text, pos * NS_PER_S // rate, (pos + len(speech)) * NS_PER_S // rate))
        parts.append(speech)
        pos += len(speech)
    parts.append(np.zeros(rate * TAIL_MS // 1000))
    pcm = to_int16(0.9 * np.concatenate(parts) / max(float(np.max(np.abs(np.concatenate(parts)))), 1e-9))
    if plan.fmt == "m4a":
        encode_aac(pcm, rate, root / rel, bitrate="64k")
    else:
        write_wav(pcm, rate, root / rel)
    stem = root / f"data/transcripts/{entity.entity_id}_{plan.key}"
    _write_transcripts(stem, cues)
    cue_truth = [{"text": t, "local_ns": [a, b], "entity_ns": [clock.to_entity(a), clock.to_entity(b)]}
                 for t, a, b in cues]
    start = iso_from_ns(entity.start_ns + clock.nominal_offset_ns)
    ctx = {"lighting": entity.lighting, "location": entity.location}
    subj = [plan.speaker]
    srt_rel, vtt_rel = (str(stem.with_suffix(s).relative_to(root)) for s in (".srt", ".vtt"))
    memo = AssetOut(
        path=rel, modality="audio", entity_id=entity.entity_id, device=" ".join(PHONE[plan.speaker]),
        mic="phone", channel="mono", context=ctx, start_time=start, subjects=subj,
        truth={"entity_id": entity.entity_id, "modality": "audio", "kind": "voice_memo",
               "speaker": plan.speaker, "clock": clock.truth(),
               "audio": {"codec": "aac" if plan.fmt == "m4a" else "pcm_s16le", "container": plan.fmt,
                         "sample_rate": rate, "channels": 1, "n_samples": len(pcm),
                         "duration_ns": len(pcm) * NS_PER_S // rate},
               "sentences": cue_truth, "transcripts": [srt_rel, vtt_rel]},
    )
    transcripts = [
        AssetOut(path=p, modality="transcript", entity_id=entity.entity_id, context=ctx,
                 start_time=start, subjects=subj,
                 truth={"entity_id": entity.entity_id, "modality": "transcript", "format": fmt,
                        "audio": rel, "speaker": plan.speaker, "clock": clock.truth(), "cues": cue_truth})
        for p, fmt in ((srt_rel, "srt"), (vtt_rel, "vtt"))
    ]
    return [memo, *transcripts]


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    deg = int(value)
    minutes = int((value - deg) * 60)
    sec = round((value - deg - minutes / 60) * 3600 * 10000)
    return IFDRational(deg, 1), IFDRational(minutes, 1), IFDRational(sec, 10000)


def _xmp(lat: float, lon: float, when: str, make: str) -> bytes:
    def coord(v: float, pos: str, neg: str) -> str:
        d = int(abs(v))
        return f"{d},{(abs(v) - d) * 60:.6f}{pos if v >= 0 else neg}"

    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
        f'exif:GPSLatitude="{coord(lat, "N", "S")}" exif:GPSLongitude="{coord(lon, "E", "W")}" '
        f'xmp:CreateDate="{when}" tiff:Make="{make}"/>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _entity_of(key: str) -> str:
    return ENTITIES[next(p for p in PHOTOS if p.key == key).entity_index].entity_id


def make_photo(root: Path, seed: int, entity: EntityPlan, plan: PhotoPlan) -> AssetOut:
    rel = f"data/photos/{entity.entity_id}_{plan.key}.jpg"
    rng = rng_for(seed, rel)
    clock = draw_clock(rng, start_s=plan.start_s)
    img = _copied_picture(seed, plan.copy_of) if plan.copy_of else _picture(rng, entity, plan, clock.true_offset_ns)
    lat0, lon0 = FARM_GPS[entity.barn]
    lat = round(lat0 + float(rng.uniform(-2e-4, 2e-4)), 6)
    lon = round(lon0 + float(rng.uniform(-2e-4, 2e-4)), 6)
    nominal = entity.start_ns + clock.nominal_offset_ns
    local = datetime.fromtimestamp(nominal // NS_PER_S, tz=FARM_TZ)
    exif_time = local.strftime("%Y:%m:%d %H:%M:%S")
    subsec = f"{(nominal % NS_PER_S) // NS_PER_MS:03d}"
    make, model = PHONE[plan.taken_by]
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = make
    exif[ExifTags.Base.Model] = model
    exif[ExifTags.Base.DateTime] = exif_time
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = exif_time
    sub[ExifTags.Base.OffsetTimeOriginal] = TZ_OFFSET
    sub[ExifTags.Base.SubsecTimeOriginal] = subsec
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSVersionID] = b"\x02\x03\x00\x00"
    gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
    gps[ExifTags.GPS.GPSLatitude] = _dms(abs(lat))
    gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
    gps[ExifTags.GPS.GPSLongitude] = _dms(abs(lon))
    comment = plan.comment
    xmp_when = local.strftime("%Y-%m-%dT%H:%M:%S") + f".{subsec}{TZ_OFFSET}"
    img.save(root / rel, "JPEG", quality=70 if plan.copy_of else 85, exif=exif.tobytes(),
             xmp=_xmp(lat, lon, xmp_when, make), comment=comment.encode("utf-8"))
    subjects = list(plan.people)
    truth: dict[str, Any] = {
        "entity_id": entity.entity_id, "modality": "image", "kind": "phone_photo",
        "taken_by": plan.taken_by, "people": subjects, "clock": clock.truth(),
        "capture_entity_ns": clock.true_offset_ns,
        "image": {"width": img.width, "height": img.height, "format": "jpeg"},
        **({"near_duplicate_of": f"data/photos/{_entity_of(plan.copy_of)}_{plan.copy_of}.jpg"} if plan.copy_of else {}),
        "privacy": {
            "exif": {"Make": make, "Model": model, "DateTimeOriginal": exif_time,
                     "OffsetTimeOriginal": TZ_OFFSET, "SubSecTimeOriginal": subsec},
            "gps": {"lat": lat, "lon": lon}, "xmp_has_gps": True, "jpeg_comment": comment,
        },
    }
    return AssetOut(
        path=rel, modality="image", entity_id=entity.entity_id, device=f"{make} {model}",
        camera="phone", context={"lighting": entity.lighting, "location": entity.location},
        start_time=iso_from_ns(nominal), subjects=subjects, truth=truth,
    )
