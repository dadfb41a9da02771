"""A project: a folder with ``syncline.yaml``, ``task.yaml``, the catalog and managed media.

Layout::

    <project>/
      syncline.yaml      settings (this module)
      task.yaml          the task spec (syncline.task)
      catalog/           Lance tables (syncline.catalog)
      media/ab/<sha256>.<ext>   scrubbed, content-addressed copies of ingested files
      reports/           inventory PNGs and JSON
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from syncline.catalog import Catalog
from syncline.represent.spec import EncoderSpec

SETTINGS_FILE = "syncline.yaml"


class ProjectError(ValueError):
    """The folder is not a usable project; the message says what to run."""


class RetentionPolicy(BaseModel):
    """How long files may be kept, counted from their capture time; the shortest rule that
    applies wins (a subject's consent record can set its own ``retention_days`` too)."""

    model_config = ConfigDict(extra="forbid")

    days: int | None = Field(default=None, ge=1, description="every file, unless a shorter rule applies")
    by_modality: dict[str, PositiveInt] = Field(default_factory=dict, description="e.g. {audio: 365}")
    by_jurisdiction: dict[str, PositiveInt] = Field(default_factory=dict, description="e.g. {EU: 730}")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "syncline-project"
    copy_media: bool = Field(True, description="copy files into managed storage (else reference in place)")
    strip_metadata: bool = Field(True, description="scrub EXIF/GPS/XMP/container tags from managed copies")
    workers: int = Field(2, ge=1, description="parallel probe/scrub processes")
    batch_size: int = Field(256, ge=1, description="assets per catalog commit")
    blur_faces: bool = Field(False, description="blur faces in managed copies of images and video (keeps audio)")
    embeddings_only: list[Literal["audio", "image", "video"]] = Field(
        default_factory=list, description="modalities kept only as built-in embeddings, never as media")
    retention: RetentionPolicy = Field(default_factory=RetentionPolicy)
    encoders: list[EncoderSpec] = Field(
        default_factory=list, description="encoders of the project's own (syncline embed): image/video towers "
        "exported to ONNX, by local path, or python: module:factory for any modality")
    stage_jurisdictions: dict[str, list[str]] = Field(
        default_factory=dict, description="per stage, the jurisdictions whose data it may use, e.g. {training: [EU]}")


@dataclass
class Project:
    root: Path
    settings: Settings

    @property
    def catalog_dir(self) -> Path:
        return self.root / "catalog"

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def task_path(self) -> Path:
        return self.root / "task.yaml"

    def catalog(self) -> Catalog:
        return Catalog(self.catalog_dir)

    @classmethod
    def open(cls, root: Path) -> Project:
        root = Path(root)
        path = root / SETTINGS_FILE
        if not path.is_file():
            raise ProjectError(f"{root}: not a syncline project (no {SETTINGS_FILE}); run `syncline init {root}` first")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            settings = Settings.model_validate(raw)
        except yaml.YAMLError as e:
            raise ProjectError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
        except ValidationError as e:  # every problem, each with its key, as task.yaml's are told
            from syncline.task.errors import _describe

            problems = [_describe(err, str(path), Settings) for err in e.errors()]
            raise ProjectError("invalid settings:\n" + "\n".join(problems)) from None
        return cls(root, settings)


def init_project(root: Path, *, name: str | None = None, template: str = "blank") -> Project:
    """Create (or re-open) a project folder. Idempotent: existing files are kept."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    settings_path = root / SETTINGS_FILE
    if not settings_path.exists():
        settings = Settings.model_validate({"name": name or root.resolve().name})
        tmp = settings_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(settings.model_dump(), sort_keys=False), encoding="utf-8")
        tmp.replace(settings_path)
    project = Project.open(root)
    if not project.task_path.exists():
        text = resources.files("syncline.templates").joinpath(f"task_{template}.yaml").read_text(encoding="utf-8")
        project.task_path.write_text(text, encoding="utf-8")
    for d in (project.media_dir, project.reports_dir):
        d.mkdir(exist_ok=True)
    project.catalog()
    return project
