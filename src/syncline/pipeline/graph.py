"""A pipeline's graph, checked before anything runs.

``Pipeline(name, stages, sources)`` refuses, naming the stage and the port: two stages with one
name, an input from an unknown stage or source, an unknown output port, a type mismatch, a
fallback that does not exist or does not give the same outputs, a stage that needs a modality
no source provides, and a cycle (with its path). ``order`` is the topological order
(deterministic: ties by declaration order); fallback stages run only where they stand in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from syncline.pipeline.stage import PORT_TYPES, Stage


class PipelineError(ValueError):
    """An invalid pipeline: every problem, each naming the stage and the port."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: list[Stage]
    sources: dict[str, str]  # source name (a modality: audio, video) -> port type
    version: str = "1"
    order: list[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "order", _check(self.stages, self.sources))

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)

    @property
    def fallbacks(self) -> set[str]:
        return {s.fallback for s in self.stages if s.fallback}

    def config_hash(self) -> str:
        """What defines the run's behaviour: stages, ports, versions, policies (not the code bytes:
        a stage's ``version`` is how its author says the code changed)."""
        desc = {"name": self.name, "version": self.version, "sources": self.sources,
                "stages": [{"name": s.name, "version": s.version, "inputs": s.inputs, "outputs": s.outputs,
                            "role": s.role, "modalities": list(s.modalities), "on_missing": s.on_missing,
                            "fusion": s.fusion, "params": s.params} for s in self.stages]}
        return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check(stages: list[Stage], sources: dict[str, str]) -> list[str]:
    problems: list[str] = []
    by_name: dict[str, Stage] = {}
    for s in stages:
        if s.name in by_name:
            problems.append(f"stage {s.name}: declared twice")
        by_name[s.name] = s
        for port, kind in s.outputs.items():
            if kind not in PORT_TYPES:
                problems.append(f"stage {s.name} output {port}: unknown type {kind!r} (one of {', '.join(PORT_TYPES)})")
        for m in s.modalities:
            if m not in sources:
                problems.append(f"stage {s.name}: needs modality {m!r}, which no source provides "
                                f"(sources: {', '.join(sources) or 'none'})")
        if s.on_missing not in ("skip", "abstain") and not s.fallback:
            problems.append(f"stage {s.name}: on_missing must be skip, abstain or fallback:<stage>; "
                            f"got {s.on_missing!r}")
    for s in stages:
        for arg, value in s.inputs.items():
            owner, _, port = value.partition(":")[0].partition(".")
            if owner == "source":
                if port not in sources:
                    problems.append(f"stage {s.name} input {arg}: unknown source {port!r} "
                                    f"(sources: {', '.join(sources) or 'none'})")
                continue
            up = by_name.get(owner)
            if up is None:
                problems.append(f"stage {s.name} input {arg}: refers to unknown stage {owner!r}")
            elif port not in up.outputs:
                problems.append(f"stage {s.name} input {arg}: stage {owner} has no output {port!r} "
                                f"(it has {', '.join(up.outputs) or 'none'})")
        fb = s.fallback
        if fb == s.name:
            problems.append(f"stage {s.name}: cannot be its own fallback")
        elif fb is not None:
            alt = by_name.get(fb)
            if alt is None:
                problems.append(f"stage {s.name}: fallback stage {fb!r} is not declared")
            elif alt.outputs != s.outputs:
                problems.append(f"stage {s.name}: fallback {fb} gives {alt.outputs}, not the same outputs {s.outputs}")
    fallbacks = {s.fallback for s in stages if s.fallback}
    for s in stages:
        for arg, value in s.inputs.items():
            owner = value.partition(":")[0].partition(".")[0]
            if owner in fallbacks:
                problems.append(f"stage {s.name} input {arg}: {owner} runs only as a fallback (it stands in for "
                                "another stage, whose outputs it gives): take the input from that stage")
    if problems:
        raise PipelineError(problems)
    _types(stages, by_name, sources, problems)
    order = _topological(stages, problems)
    if problems:
        raise PipelineError(problems)
    return order


def _types(stages: list[Stage], by_name: dict[str, Stage], sources: dict[str, str], problems: list[str]) -> None:
    """An input written ``"stage.port:type"`` must get that type from its producer."""
    for s in stages:
        for arg, value in s.inputs.items():
            ref, _, wanted = value.partition(":")
            owner, _, port = ref.partition(".")
            given = sources[port] if owner == "source" else by_name[owner].outputs[port]
            if wanted and wanted != given:
                problems.append(f"stage {s.name} input {arg}: expects {wanted!r} but {ref} gives {given!r}")


def _topological(stages: list[Stage], problems: list[str]) -> list[str]:
    deps = {s.name: sorted({v.partition(":")[0].partition(".")[0] for v in s.inputs.values()} - {"source"})
            for s in stages}
    for s in stages:  # a fallback runs where its stage would: after what either needs
        if s.fallback:
            deps[s.name] = sorted(set(deps[s.name]) | set(deps[s.fallback]))
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            loop = path[path.index(name):] + [name]
            problems.append("cycle: " + " -> ".join(loop))
            return
        state[name] = 1
        for d in deps[name]:
            visit(d, path + [name])
        state[name] = 2
        order.append(name)

    for s in stages:
        visit(s.name, [])
    return order
