"""Still images (JPEG, PNG, GIF, WebP, TIFF): probe.

The declared size is checked from the header before any pixel is decoded: over 100
megapixels is a decompression bomb (BOMB). Then the image is decoded once (a truncated JPEG
or PNG fails with TRUNCATED). EXIF gives the capture context:

* ``capture_time_utc_ns`` from DateTimeOriginal (else DateTime). EXIF times are naive local
  clock readings; when OffsetTimeOriginal is present it is applied, otherwise the naive time
  is treated as UTC (there is nothing better to go on; the clock step corrects it later).
* ``device`` = "Make Model"; ``has_gps`` when the GPS IFD or an XMP packet carries GPS.
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from syncline.media.decoding import MAX_PIXELS, NS, display_name
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAG_MAKE, TAG_MODEL, TAG_DATETIME = 0x010F, 0x0110, 0x0132
TAG_DATETIME_ORIGINAL, TAG_OFFSET_ORIGINAL = 0x9003, 0x9011
_XMP_GPS = re.compile(rb"(exif:GPSLatitude|exif:GPSLongitude|GPSLatitude)")


def exif_time_utc_ns(value: str, offset: str | None = None) -> int | None:
    """``"2024:05:01 12:00:00"`` (+ optional ``"+02:00"``) to Unix ns; naive means UTC."""
    try:
        dt = datetime.strptime(value.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    tz = UTC
    if offset:
        m = re.fullmatch(r"\s*([+-])(\d{2}):?(\d{2})\s*", offset.rstrip("\x00"))
        if m:
            sign = 1 if m.group(1) == "+" else -1
            tz = timezone(sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    delta = dt.replace(tzinfo=tz) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * NS


def _open(path: Path) -> Image.Image:
    name = display_name(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(path)
    except Image.DecompressionBombError:
        raise MediaError(
            MediaErrorKind.BOMB,
            f"{name} declares a frame far over 100 megapixels; refused before decoding",
        ) from None
    except UnidentifiedImageError:
        raise MediaError(
            MediaErrorKind.UNDECODABLE,
            f"{name}: the image header cannot be read; the file is corrupt, re-export it",
        ) from None
    except OSError as exc:
        raise MediaError(
            MediaErrorKind.UNREADABLE, f"{name} cannot be read ({exc}); re-copy it"
        ) from None


def probe_image(path: Path, fmt: str) -> MediaInfo:
    """Probe a still image (BOMB from the header, then one decode, then EXIF)."""
    path = Path(path)
    name = display_name(path)
    if fmt == "heif":
        raise MediaError(
            MediaErrorKind.UNSUPPORTED,
            f"{name} is HEIF/AVIF, which syncline does not decode; convert it to JPEG or PNG",
        )
    with _open(path) as im:
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise MediaError(
                MediaErrorKind.BOMB,
                f"{name} declares {width}x{height} pixels (over 100 megapixels); "
                "refused before decoding, downscale it",
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im.load()
        except (OSError, SyntaxError, ValueError) as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            kind = (
                MediaErrorKind.TRUNCATED
                if "truncated" in text.lower() or "broken data stream" in text.lower()
                else MediaErrorKind.UNDECODABLE
            )
            verb = "is truncated" if kind is MediaErrorKind.TRUNCATED else "fails to decode"
            raise MediaError(kind, f"{name} {verb} ({text}); re-copy or re-export it") from None
        exif = im.getexif()
        exif_ifd = exif.get_ifd(EXIF_IFD)
        gps = exif.get_ifd(GPS_IFD)
        original = exif_ifd.get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME)
        capture = (
            exif_time_utc_ns(str(original), exif_ifd.get(TAG_OFFSET_ORIGINAL))
            if original
            else None
        )
        parts = [str(exif.get(t, "")).strip("\x00 ") for t in (TAG_MAKE, TAG_MODEL)]
        device = " ".join(p for p in parts if p) or None
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or b""
        if isinstance(xmp, str):
            xmp = xmp.encode("utf-8", "replace")
        has_gps = bool(gps) or bool(_XMP_GPS.search(xmp))
        details: dict[str, Any] = {
            "mode": im.mode,
            "frames": int(getattr(im, "n_frames", 1)),
            "has_exif": bool(exif),
            "has_xmp": bool(xmp),
            "has_icc": "icc_profile" in im.info,
            "has_comment": "comment" in im.info,
        }
        return MediaInfo(
            modality=Modality.IMAGE,
            format=fmt,
            codec=fmt,
            width=width,
            height=height,
            n_items=details["frames"],
            capture_time_utc_ns=capture,
            device=device,
            has_gps=has_gps,
            details=details,
        )
