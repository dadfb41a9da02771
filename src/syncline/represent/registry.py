"""Encoders by name and version: the built-ins, and models a project loads from a local path.

An encoder has a ``representation`` (name, version, modality, dim, config) and
``encode(path) -> Features``: vectors per window on the file's own clock. The built-ins
(``represent.builtin``; speech and text in ``represent.speech``: VAD, ASR word timings, MiniLM)
run from what the package and its registry dependencies ship. A larger model — an image or video
tower exported to ONNX, CLIP-style — is declared in ``syncline.yaml`` under ``encoders:`` with
the path of its file; nothing is downloaded. Its config hash covers the file's sha256, so other
weights under the same ``name@version`` are refused (``embed`` checks the catalog) instead of
being mixed with the old vectors: a new model is a new version, and so a new representation.
Code of the project's own (a detector, a sensor feature) is declared there as ``python:
module:factory``, for any modality.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from syncline.represent.builtin import EXTRACTORS, GRID, GRID_VIDEO, LOGMEL, MOTION, Features, Representation
from syncline.represent.spec import EncoderSpec, OnnxEncoderSpec, PythonEncoderSpec

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
        return EXTRACTORS[self.representation.representation_id](path)


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


BUILTINS: dict[str, Encoder] = {r.representation_id: BuiltinEncoder(r) for r in (LOGMEL, GRID, GRID_VIDEO, MOTION)}


@dataclass
class PythonEncoder:
    """A project's encoder written in Python (``PythonEncoderSpec``): its factory is called once
    per process (here to learn its dim and code version, again in each worker)."""

    spec: PythonEncoderSpec
    representation: Representation
    _impl: Any = field(default=None, repr=False)

    @classmethod
    def load(cls, spec: PythonEncoderSpec) -> PythonEncoder:
        impl = _python_impl(spec)
        dim = getattr(impl, "dim", None)
        if not isinstance(dim, int) or dim < 1 or not callable(getattr(impl, "encode", None)):
            raise EncoderError(f"encoder {spec.name}@{spec.version}: {spec.python} must return an object with an "
                               f"int dim >= 1 and encode(path) (got {type(impl).__name__})")
        config = {"python": spec.python, "params": spec.params, "code_version": getattr(impl, "code_version", None)}
        return cls(spec, Representation(spec.name, spec.version, spec.modality, dim, config), impl)

    def __getstate__(self) -> dict[str, Any]:  # the factory runs again in the worker
        return {"spec": self.spec, "representation": self.representation, "_impl": None}

    def encode(self, path: Path) -> Features:
        if self._impl is None:
            self._impl = _python_impl(self.spec)
        t0, t1, vectors = self._impl.encode(path)
        dim = self.representation.dim
        arr = np.asarray(vectors, np.float32) if len(t0) else np.zeros((0, dim), np.float32)
        if dim == 1 and arr.ndim == 1:  # one value per window, given flat
            arr = arr.reshape(-1, 1)
        if arr.shape != (len(t0), dim) or len(t1) != len(t0):
            raise EncoderError(f"encoder {self.representation.representation_id} returned vectors of shape "
                               f"{arr.shape} and {len(t1)} ends for {len(t0)} starts; it declared dim {dim}")
        return Features(self.representation, [int(t) for t in t0], [int(t) for t in t1], arr)


def _python_impl(spec: PythonEncoderSpec) -> Any:
    import importlib

    module, _, factory = spec.python.partition(":")
    where = f"encoder {spec.name}@{spec.version}"
    try:
        fn = getattr(importlib.import_module(module), factory)
    except (ImportError, AttributeError) as e:
        raise EncoderError(f"{where}: cannot load {spec.python} ({e}); is the module importable from this "
                           "environment?") from e
    try:
        return fn(**spec.params)
    except TypeError as e:
        raise EncoderError(f"{where}: {spec.python} does not take the params given ({e})") from e
    except ValueError as e:
        raise EncoderError(f"{where}: {spec.python} refused its params ({e})") from e


def encoders(specs: list[EncoderSpec], root: Path, only: list[str] | None = None) -> dict[str, Encoder]:
    """The built-ins and the project's declared encoders, by representation ID; a declared model
    is loaded only when ``only`` names it (or ``only`` is None), so a broken one blocks nobody else."""
    from syncline.represent.speech import AsrWordsEncoder, SentenceEncoder, VadEncoder

    out = dict(BUILTINS)
    for offered in (VadEncoder.load(), AsrWordsEncoder.load(), SentenceEncoder.load()):
        if offered is not None:  # its package is installed
            out[offered.representation.representation_id] = offered
    for spec in specs:
        rid = f"{spec.name}@{spec.version}"
        if rid in out:
            raise EncoderError(f"encoder {rid} is declared twice (or shadows a built-in): give it another name "
                               "or version")
        if only is not None and rid not in only:
            out[rid] = _Declared(rid)
        elif isinstance(spec, PythonEncoderSpec):
            out[rid] = PythonEncoder.load(spec)
        else:
            out[rid] = OnnxEncoder.load(spec, root)
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
