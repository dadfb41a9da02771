"""Documents (PDF): page count, title presence and encryption, read with pypdf."""

from __future__ import annotations

import logging
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from syncline.media.decoding import display_name
from syncline.media.types import MediaError, MediaErrorKind, MediaInfo, Modality

logging.getLogger("pypdf").setLevel(logging.ERROR)


def probe_document(path: Path, fmt: str) -> MediaInfo:
    """A PDF's page count (``n_items``); a PDF pypdf cannot parse is TRUNCATED or UNDECODABLE."""
    path = Path(path)
    name = display_name(path)
    if fmt != "pdf":
        raise MediaError(MediaErrorKind.UNSUPPORTED, f"{name}: document format {fmt!r} is not read")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            f.seek(max(0, size - 2048))
            tail = f.read()
        if b"%%EOF" not in tail:
            raise MediaError(
                MediaErrorKind.TRUNCATED,
                f"{name} is truncated (no %%EOF marker at the end); re-copy the complete PDF",
            )
        reader = PdfReader(path, strict=False)
        encrypted = reader.is_encrypted
        if encrypted and not reader.decrypt(""):
            raise MediaError(
                MediaErrorKind.UNSUPPORTED,
                f"{name} is password-protected; remove the password and re-ingest",
            )
        pages = len(reader.pages)
        info = reader.metadata
        has_xmp = "/Metadata" in reader.root_object
    except MediaError:
        raise
    except (PdfReadError, ValueError, KeyError, OSError, TypeError, AttributeError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise MediaError(
            MediaErrorKind.UNDECODABLE, f"{name} cannot be parsed as PDF ({first}); re-export it"
        ) from None
    return MediaInfo(
        modality=Modality.DOCUMENT,
        format=fmt,
        n_items=pages,
        details={
            "encrypted": bool(encrypted),
            "has_info": bool(info),
            "has_xmp": bool(has_xmp),
        },
    )
