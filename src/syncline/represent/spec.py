"""How a project declares an encoder of its own in ``syncline.yaml`` (kept apart from the
registry so that reading settings does not load media or model libraries)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OnnxEncoderSpec(BaseModel):
    """``syncline.yaml`` → ``encoders:``: an image/video encoder exported to ONNX, on local disk.

    The model takes ``(batch, 3, size, size)`` float32 RGB in [0, 1] minus ``mean`` over ``std``
    per channel and returns ``(batch, dim)``; a video is encoded once per second, on the frame
    nearest the middle of each second (as the built-in video representation is).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    modality: Literal["image", "video"]
    onnx: Path
    size: int = Field(224, ge=8, le=4096)
    mean: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
    std: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)


class PythonEncoderSpec(BaseModel):
    """``syncline.yaml`` → ``encoders:``: an encoder written in Python, for any modality —
    ``python: "package.module:factory"``, called with ``params`` as keywords, returns an object
    with ``dim`` (int) and ``encode(path) -> (t0_ns, t1_ns, vectors)`` on the file's own clock.

    Loading it runs that code, as a ``python:`` pipeline stage does. Its config hash covers the
    factory, the params and the object's ``code_version`` (if it has one): change the code's
    behaviour, raise ``code_version`` and give the encoder a new version.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    modality: Literal["audio", "image", "video", "sensor", "transcript", "document"]
    python: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    params: dict[str, Any] = Field(default_factory=dict)


EncoderSpec = OnnxEncoderSpec | PythonEncoderSpec
