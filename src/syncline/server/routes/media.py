"""Media by asset ID, never by path: the file with HTTP range requests (video seeking), a
waveform summary for audio, min/max series for sensors."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from syncline.media.types import MediaError
from syncline.project import Project
from syncline.server.app import Proj
from syncline.timeline import NotFound, media_file, sensor_series, spectrogram, waveform

router = APIRouter()
Bins = Annotated[int, Query(ge=1, le=4000)]
TYPES = {"mp4": "video/mp4", "m4a": "audio/mp4", "mov": "video/quicktime", "webm": "video/webm",
         "mkv": "video/x-matroska", "ogg": "audio/ogg", "opus": "audio/ogg", "mp3": "audio/mpeg", "wav": "audio/wav",
         "flac": "audio/flac", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
         "vtt": "text/vtt", "srt": "text/plain", "csv": "text/csv", "jsonl": "application/x-ndjson"}


@router.get("/assets/{asset_id}/media")
def media(asset_id: str, project: Proj) -> FileResponse:
    """The file (Range requests answered with 206 by Starlette's FileResponse)."""
    try:
        path, row = media_file(project, asset_id)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    kind = TYPES.get(str(row.get("format") or "").lower()) or mimetypes.guess_type(path.name)[0]
    return FileResponse(path, media_type=kind or "application/octet-stream",
                        headers={"cache-control": "private, max-age=3600", "x-content-type-options": "nosniff"})


def _summary(fn: Any, project: Project, asset_id: str, bins: int) -> Any:
    try:
        return fn(project, asset_id, bins)
    except NotFound as e:
        raise HTTPException(404, str(e)) from e
    except (MediaError, OSError, ValueError) as e:
        raise HTTPException(422, f"asset {asset_id}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from e


@router.get("/assets/{asset_id}/waveform")
def audio_waveform(asset_id: str, project: Proj, bins: Bins = 2000) -> Any:
    return _summary(waveform, project, asset_id, bins)


@router.get("/assets/{asset_id}/series")
def series(asset_id: str, project: Proj, bins: Bins = 1000) -> Any:
    return _summary(sensor_series, project, asset_id, bins)


@router.get("/assets/{asset_id}/spectrogram")
def audio_spectrogram(asset_id: str, project: Proj, bins: Bins = 800) -> Any:
    return _summary(spectrogram, project, asset_id, bins)
