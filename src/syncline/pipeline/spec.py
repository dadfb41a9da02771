"""``pipeline.yaml``: a pipeline by name, stage by stage, that ``syncline run`` loads and runs.

    name: barn
    version: "1"
    segmenter: fixed-2s@2
    field: action                      # what the decision stage predicts
    sources: {audio: logmel-1s@1, video: grid-colour-edges-1s@1}
    stages:
      - {name: hear, use: head, model: models/hear-vocal@234dbb15c9f9.json,
         inputs: {x: source.audio}, modalities: [audio], on_missing: skip}
      - {name: fuse, use: late_fusion, inputs: {a: hear.probabilities, b: see.probabilities}}
      - {name: decide, use: decision, input: fuse.probabilities}
      - {name: mine, use: "python:my_package.stages:make_stage", params: {threshold: 0.3}}

Stage kinds (``use``): ``head`` (a fitted head's JSON file, relative to the project), ``late_fusion``
(the classes of its inputs are read from their heads), ``decision`` (the task's cost matrix and
review policy), and ``python:module:factory`` — a function called with the stage's name, its
entry and the project, returning a ``Stage`` (a team's own code, by name: loading a
``pipeline.yaml`` runs that code, so treat the file like code). Head models must lie inside the
project. A fallback must give the same classes as the stage it stands in for, and a decision
takes the class order its input stage declares (``params["classes"]``). Every problem is
reported with the stage's index and name; the graph is then checked as any other.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from syncline.pipeline.graph import Pipeline, PipelineError
from syncline.pipeline.heads import LinearHead, head_stage, late_fusion_stage
from syncline.pipeline.routing import decision_stage
from syncline.pipeline.stage import Stage
from syncline.project import Project
from syncline.task.spec import load_task

PIPELINE_FILE = "pipeline.yaml"


class StageEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    use: str
    model: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)
    input: str | None = None
    role: Literal["preprocess", "perception", "fusion", "decision", "output"] | None = None
    modalities: list[str] = Field(default_factory=list)
    on_missing: str = "skip"
    weights: dict[str, float] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class PipelineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    version: str = "1"
    segmenter: str
    field: str
    sources: dict[str, str] = Field(min_length=1)
    stages: list[StageEntry] = Field(min_length=1)


def load_pipeline(project: Project, path: Path | None = None) -> tuple[Pipeline, PipelineSpec, dict[str, str]]:
    """The pipeline of ``path`` (default: the project's ``pipeline.yaml``), its spec, and the
    model ID of each head stage; ``PipelineError`` lists every problem."""
    path = Path(path) if path else project.root / PIPELINE_FILE
    if not path.is_file():
        raise PipelineError([f"{path}: no such file; write a pipeline.yaml (see `syncline run --help`)"])
    try:
        spec = PipelineSpec.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (ValidationError, yaml.YAMLError) as e:
        raise PipelineError([f"{path}: {_first_lines(e)}"]) from e
    problems: list[str] = []
    heads: dict[str, LinearHead] = {}
    for i, entry in enumerate(spec.stages):
        if entry.use == "head":
            model = (project.root / entry.model).resolve() if entry.model else None
            if model is not None and not model.is_relative_to(project.root.resolve()):
                problems.append(f"stages[{i}] {entry.name}: model {entry.model!r} is outside the project; keep heads "
                                "under models/ (their versions and provenance are tracked there)")
                continue
            if model is None or not model.is_file():
                problems.append(f"stages[{i}] {entry.name}: model file {entry.model!r} not found (a head's JSON, "
                                "relative to the project)")
                continue
            try:
                heads[entry.name] = LinearHead.load(model)
            except (OSError, ValueError, TypeError, AttributeError):
                problems.append(f"stages[{i}] {entry.name}: {model.name} is not a saved head (syncline's head JSON)")
    stages: list[Stage] = []
    for i, entry in enumerate(spec.stages):
        try:
            stages.append(_stage(project, entry, heads, stages, spec))
        except Exception as e:  # a team's factory may raise anything: reported against its stage, not a crash
            problems.append(f"stages[{i}] {entry.name}: {type(e).__name__}: {_first_lines(e)}")
    by_name = {st.name: st for st in stages}
    for i, entry in enumerate(spec.stages):  # a stand-in must speak the same classes as the stage it replaces
        fb = by_name.get(entry.on_missing.partition(":")[2]) if entry.on_missing.startswith("fallback:") else None
        main = by_name.get(entry.name)
        if fb is not None and main is not None and fb.params.get("classes") != main.params.get("classes"):
            problems.append(f"stages[{i}] {entry.name}: its fallback {fb.name} gives classes "
                            f"{fb.params.get('classes')}, not {main.params.get('classes')}: the decision would read "
                            "its columns as other classes")
    if problems:
        raise PipelineError(problems)
    pipe = Pipeline(spec.name, stages, {src: "vector" for src in spec.sources}, version=spec.version)
    return pipe, spec, {name: h.model_id for name, h in heads.items()}


def _stage(project: Project, e: StageEntry, heads: dict[str, LinearHead], built: list[Stage],
           spec: PipelineSpec) -> Stage:
    if e.use == "head":
        if e.name not in heads:
            raise ValueError("its model could not be loaded")
        return head_stage(e.name, heads[e.name], e.inputs, role=e.role or "perception", modalities=tuple(e.modalities),
                          on_missing=e.on_missing)
    if e.use == "late_fusion":
        classes = {arg: heads[ref.partition(".")[0]].classes for arg, ref in e.inputs.items()
                   if ref.partition(".")[0] in heads}
        if len(classes) != len(e.inputs):
            raise ValueError("late fusion reads its inputs' classes from their heads: every input must come from a "
                             "head stage")
        return late_fusion_stage(e.name, e.inputs, classes, weights=e.weights, on_missing=e.on_missing)
    if e.use == "decision":
        if not e.input:
            raise ValueError("a decision stage needs input: <stage>.probabilities")
        upstream = e.input.partition(".")[0]
        made = next((st for st in built if st.name == upstream), None)
        order = made.params.get("classes") if made is not None else None
        if not isinstance(order, list):
            raise ValueError(f"cannot tell the classes of {e.input}: its stage must be declared before the decision "
                             "and name its classes (heads and late fusion do; a python: stage sets "
                             "params['classes'])")
        task = load_task(project.task_path)
        if spec.field != task.decision.field:
            raise ValueError(f"field {spec.field!r} is not the task's decision field {task.decision.field!r}")
        return decision_stage(e.name, task, [str(c) for c in order], e.input)
    if e.use.startswith("python:"):
        module, _, factory = e.use[len("python:"):].partition(":")
        made = getattr(importlib.import_module(module), factory)(e.name, e, project)
        if not isinstance(made, Stage):
            raise TypeError(f"{e.use} returned {type(made).__name__}, not a Stage")
        return made
    raise ValueError(f"unknown stage kind {e.use!r}: head, late_fusion, decision or python:module:factory")


def _first_lines(e: Exception, n: int = 3) -> str:
    return "; ".join(str(e).splitlines()[:n]) or type(e).__name__


def write_pipeline(path: Path, spec: dict[str, Any]) -> Path:
    """Write a pipeline spec (validated first) as YAML, whole or not at all."""
    PipelineSpec.model_validate(spec)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("# a syncline pipeline (syncline run)\n" + yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path
