"""Encoders by name and version: the built-ins, and models a project loads from a local path.

An encoder has a ``representation`` (name, version, modality, dim, config) and
``encode(path) -> Features``: vectors per window on the file's own clock. The built-ins
(``represent.builtin``, and the Silero VAD's speech probability per second) run from what the
package and its registry dependencies ship. A larger model — an image or video
tower exported to ONNX, CLIP-style — is declared in ``syncline.yaml`` under ``encoders:`` with
the path of its file; nothing is downloaded. Its config hash covers the file's sha256, so other
weights under the same ``name@version`` are refused (``embed`` checks the catalog) instead of
being mixed with the old vectors: a new model is a new version, and so a new representation.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from syncline.represent.builtin import GRID, GRID_VIDEO, LOGMEL, Features, Representation, features_for
from syncline.represent.spec import OnnxEncoderSpec

BATCH = 32  # frames per model call


class Encoder(Protocol):
    @property
    def representation(self) -> Representation: ...

    def encode(self, path: Path) -> Features: ...


@dataclass(frozen=True)
class BuiltinEncoder:
    """One of ``represent.builtin``'s feature extractors."""

    representation: Representation

    def encode(self, path: Path) -> Features:
        return features_for(path, self.representation.modality)


class EncoderError(ValueError):
    """An encoder that cannot be used: the message names it and says what to do."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class OnnxEncoder:
    """A user's ONNX image tower, run with onnxruntime on the CPU (one thread per worker)."""

    spec: OnnxEncoderSpec
    representation: Representation
    _session: Any = field(default=None, repr=False)

    @classmethod
    def load(cls, spec: OnnxEncoderSpec, root: Path) -> OnnxEncoder:
        path = spec.onnx if spec.onnx.is_absolute() else root / spec.onnx
        where = f"encoder {spec.name}@{spec.version}"
        if not path.is_file():
            raise EncoderError(f"{where}: model file {path} not found; give the local path of the .onnx file "
                               "(nothing is downloaded)")
        session = _session(path, where)
        shape = session.get_outputs()[0].shape
        dim = shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) else None
        if dim is None:
            dim = int(session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, spec.size, spec.size),
                                                                                   np.float32)})[0].shape[-1])
        config = {"onnx_sha256": file_sha256(path), "size": spec.size, "mean": list(spec.mean),
                  "std": list(spec.std), "per_second": spec.modality == "video"}
        rep = Representation(spec.name, spec.version, spec.modality, int(dim), config)
        return cls(spec.model_copy(update={"onnx": path}), rep, session)

    def __getstate__(self) -> dict[str, Any]:  # sent to worker processes without the session
        return {"spec": self.spec, "representation": self.representation, "_session": None}

    def encode(self, path: Path) -> Features:
        from syncline.represent.frames import image_rgb, per_second_frames

        if self._session is None:  # in a worker: one session per model file and process, not per file
            self._session = _cached_session(self.spec.onnx, str(self.representation.config["onnx_sha256"]),
                                            f"encoder {self.representation.representation_id}")
        frames = iter([(0, image_rgb(path))]) if self.spec.modality == "image" else per_second_frames(path)
        t0: list[int] = []
        out: list[np.ndarray] = []
        while batch := list(itertools.islice(frames, BATCH)):  # streamed: a batch of frames in memory at a time
            t0 += [t for t, _ in batch]
            pixels = np.stack([self._pixels(f) for _, f in batch])
            out.append(np.asarray(self._session.run(None, {self._session.get_inputs()[0].name: pixels})[0],
                                  np.float32).reshape(len(batch), -1))
        if not out:
            return Features(self.representation, [], [], np.zeros((0, self.representation.dim), np.float32))
        t1 = t0 if self.spec.modality == "image" else [t + 1_000_000_000 for t in t0]
        return Features(self.representation, t0, t1, np.concatenate(out))

    def _pixels(self, rgb: np.ndarray) -> np.ndarray:
        from PIL import Image

        size = self.spec.size
        img = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR), np.float32) / 255.0
        mean, std = np.asarray(self.spec.mean, np.float32), np.asarray(self.spec.std, np.float32)
        return np.ascontiguousarray(((img - mean) / std).transpose(2, 0, 1))


_SESSIONS: dict[tuple[str, str], Any] = {}


def _cached_session(path: Path, sha256: str, where: str) -> Any:
    """This process's session of a model file, checked once against the hash the representation
    was declared with (a file swapped since would give vectors of other weights)."""
    key = (str(path), sha256)
    if key not in _SESSIONS:
        if file_sha256(path) != sha256:
            raise EncoderError(f"{where}: {path.name} changed since the encoder was loaded; run again")
        _SESSIONS[key] = _session(path, where)
    return _SESSIONS[key]


def _session(path: Path, where: str) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        raise EncoderError(f"{where}: {path.name} is not a loadable ONNX model ({str(e).splitlines()[0]})") from e


BUILTINS: dict[str, Encoder] = {r.representation_id: BuiltinEncoder(r) for r in (LOGMEL, GRID, GRID_VIDEO)}


@dataclass(frozen=True)
class VadEncoder:
    """``silero-vad-1s@1`` (audio): per second, the mean and the peak speech probability of the
    Silero VAD (its ONNX file from the ``silero-vad`` package, run with onnxruntime) — where
    people speak, as a slice column or a pipeline input, without anything said."""

    representation: Representation

    @classmethod
    def load(cls) -> VadEncoder | None:
        from syncline.align.vad import vad_model

        try:
            model = vad_model()
        except RuntimeError:  # silero-vad not installed: the representation is not offered
            return None
        return cls(Representation("silero-vad-1s", "1", "audio", 2,
                                  {"model": model.name, "model_version": model.version, "sha256": model.sha256,
                                   "window_s": 1.0, "stats": ["mean", "max"]}))

    def encode(self, path: Path) -> Features:
        from syncline.align.vad import VAD_RATE, WINDOW, load_16k, window_probabilities

        x, start = load_16k(path)
        probs = window_probabilities(x)
        seconds = int(np.ceil(len(x) / VAD_RATE)) if len(x) else 0
        if not seconds:
            return Features(self.representation, [], [], np.zeros((0, 2), np.float32))
        which = np.minimum((np.arange(len(probs)) * WINDOW + WINDOW // 2) // VAD_RATE, seconds - 1)
        counts = np.bincount(which, minlength=seconds)
        mean = np.bincount(which, weights=probs, minlength=seconds) / np.maximum(counts, 1)
        peak = np.full(seconds, 0.0)
        np.maximum.at(peak, which, probs)
        keep = counts > 0
        t0 = [start + int(i) * 1_000_000_000 for i in np.flatnonzero(keep)]
        end = start + len(x) * 1_000_000_000 // VAD_RATE
        return Features(self.representation, t0, [min(t + 1_000_000_000, end) for t in t0],
                        np.stack([mean[keep], peak[keep]], axis=1).astype(np.float32))


def encoders(specs: list[OnnxEncoderSpec], root: Path, only: list[str] | None = None) -> dict[str, Encoder]:
    """The built-ins and the project's declared encoders, by representation ID; a declared model
    is loaded only when ``only`` names it (or ``only`` is None), so a broken one blocks nobody else."""
    out = dict(BUILTINS)
    vad = VadEncoder.load()
    if vad is not None:
        out[vad.representation.representation_id] = vad
    for spec in specs:
        rid = f"{spec.name}@{spec.version}"
        if rid in out:
            raise EncoderError(f"encoder {rid} is declared twice (or shadows a built-in): give it another name "
                               "or version")
        out[rid] = OnnxEncoder.load(spec, root) if only is None or rid in only else _Declared(rid)
    return out


@dataclass(frozen=True)
class _Declared:
    """A declared encoder that was not asked for (not loaded)."""

    rid: str

    @property
    def representation(self) -> Representation:
        raise EncoderError(f"encoder {self.rid} was not loaded")

    def encode(self, path: Path) -> Features:
        raise EncoderError(f"encoder {self.rid} was not loaded")
