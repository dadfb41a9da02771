"""Three deliberately bad files in ``data/incoming/`` that ingest must quarantine.

They are not in the manifest (ingest scans the folder). Each comes back as an ``AssetOut``
whose modality is ``BAD_FILE`` and whose truth names the expected ``MediaErrorKind``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from syncline.demo.world_encode import encode_h264
from syncline.demo.world_plan import AssetOut, rng_for
from syncline.demo.world_video import CAMERAS, render_frames
from syncline.media.types import MediaErrorKind

BAD_FILE = "bad_file"


def make_bad_files(root: Path, seed: int) -> list[AssetOut]:
    incoming = "data/incoming"
    spec = CAMERAS["cam1"]
    truncated = f"{incoming}/stall-a-2026-05-02_cam1_crash.mp4"
    frames = render_frames(spec, "day", np.arange(6 * spec.fps) / spec.fps, rng_for(seed, truncated))
    with tempfile.TemporaryDirectory(prefix="syncline-demo-") as tmp:
        full = Path(tmp) / "full.mp4"
        encode_h264(frames, spec.fps, full)
        data = full.read_bytes()
    cut = len(data) // 2
    (root / truncated).write_bytes(data[:cut])

    empty = f"{incoming}/stall-b-2026-05-01_mic2.wav"
    (root / empty).write_bytes(b"")

    text = f"{incoming}/stall-c-2026-05-01_photo-06.jpg"
    (root / text).write_text(
        "Reminder: photograph the feed bunk in stall C after cleaning.\n"
        "This note was saved with the wrong name by the phone app.\n",
        encoding="utf-8",
    )
    bad = [
        (truncated, MediaErrorKind.TRUNCATED,
         f"H.264 MP4 (moov first) cut at {cut} of {len(data)} bytes; the mdat box runs past EOF"),
        (empty, MediaErrorKind.EMPTY, "zero-byte .wav"),
        (text, MediaErrorKind.WRONG_EXTENSION, "UTF-8 text saved with a .jpg extension"),
    ]
    return [
        AssetOut(path=p, modality=BAD_FILE, entity_id=None,
                 truth={"path": p, "kind": kind.value, "detail": detail})
        for p, kind, detail in bad
    ]
