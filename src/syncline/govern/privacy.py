"""Privacy transforms on media files: faces blurred in images and video, the audio kept as is.

``blur_image`` / ``blur_video`` write a new file next to nothing else: the caller (ingest, when
``blur_faces`` is set in ``syncline.yaml``) replaces the managed copy with it and records what was
done. Faces (``govern.faces``) are found on the whole picture and, for pictures much larger than
the model's input, on overlapping tiles as well (small, distant faces); each box is grown by a
margin and replaced by a heavy Gaussian blur of itself (irreversible at that radius, and the
picture around it stays usable). Video frames are decoded once, blurred where a face is, encoded
again (H.264, same frame times), and the audio packets are copied untouched — not re-encoded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageFilter

from syncline.govern.faces import Face, Model, detect_faces

MARGIN = 0.25  # of the face box, on each side: hair, ears, the edge of a profile
TILE_FACTOR = 3  # pictures wider than this many model inputs are also searched in tiles
TILE_THRESHOLD = 0.75  # four more looks at the picture are four more chances of a false face: ask more


@dataclass(frozen=True)
class BlurResult:
    faces: int  # boxes blurred (over all frames for video)
    frames_with_faces: int
    frames: int


def find_faces(rgb: np.ndarray, model: Model) -> list[Face]:
    """Faces on the whole picture and, for a large picture, on 2 x 2 overlapping tiles."""
    faces = detect_faces(rgb, model=model)
    h, w = rgb.shape[:2]
    if max(h, w) < TILE_FACTOR * (128 if model == "short" else 192):
        return faces
    th, tw = int(h * 0.6), int(w * 0.6)
    for y0 in (0, h - th):
        for x0 in (0, w - tw):
            tile = np.ascontiguousarray(rgb[y0:y0 + th, x0:x0 + tw])
            for f in detect_faces(tile, model=model, threshold=TILE_THRESHOLD):
                box = Face(f.x0 + x0, f.y0 + y0, f.x1 + x0, f.y1 + y0, f.score)
                if not any(_iou(box, g) > 0.3 for g in faces):
                    faces.append(box)
    return faces


def _iou(a: Face, b: Face) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def blur_faces_in(rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A copy of ``rgb`` with every face box (plus margin) blurred beyond recognition."""
    if not faces:
        return rgb
    h, w = rgb.shape[:2]
    img = Image.fromarray(rgb)
    for f in faces:
        box = f.expanded(MARGIN, w, h)
        if box[2] - box[0] < 2 or box[3] - box[1] < 2:
            continue
        region = img.crop(box)
        radius = max(4.0, max(region.size) / 4)
        img.paste(region.filter(ImageFilter.GaussianBlur(radius)), box)
    return np.asarray(img)


def blur_image(src: Path, dest: Path, *, model: Model = "short") -> BlurResult:
    """Blur the faces of an image file into ``dest`` (same format; no metadata carried over)."""
    with Image.open(src) as im:
        fmt = im.format or "PNG"
        rgb = np.asarray(im.convert("RGB"))
    faces = find_faces(rgb, model)
    out = Image.fromarray(blur_faces_in(rgb, faces))
    tmp = dest.with_name(dest.name + ".part")
    out.save(tmp, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    os.replace(tmp, dest)
    return BlurResult(len(faces), int(bool(faces)), 1)


def blur_video(src: Path, dest: Path, *, model: Model = "full", crf: int = 18) -> BlurResult:
    """Blur the faces of every frame of the first video stream into ``dest``; other streams
    (audio) are copied packet for packet."""
    tmp = dest.with_name(dest.name + ".part" + dest.suffix)
    faces_total = frames_with = frames = 0
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
        vin = inp.streams.video[0]
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.time_base = vin.time_base
        vout.options = {"crf": str(crf), "preset": "veryfast"}
        copies = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type == "audio"}
        for packet in inp.demux(vin, *[s for s in inp.streams if s.index in copies]):
            if packet.stream.index in copies:
                if packet.dts is not None:
                    packet.stream = copies[packet.stream.index]
                    out.mux(packet)
                continue
            for frame in packet.decode():
                if not isinstance(frame, av.VideoFrame):
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                faces = find_faces(rgb, model)
                frames += 1
                faces_total += len(faces)
                frames_with += bool(faces)
                new = av.VideoFrame.from_ndarray(blur_faces_in(rgb, faces), format="rgb24")
                new.pts, new.time_base = frame.pts, frame.time_base
                out.mux(vout.encode(new.reformat(format="yuv420p")))
        out.mux(vout.encode(None))
    os.replace(tmp, dest)
    return BlurResult(faces_total, frames_with, frames)
