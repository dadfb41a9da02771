"""Cross-modal red team: perturb one modality's input, re-run the same pipeline over the same
segments, and measure what moved — per perturbation and per slice.

Perturbations act where the pipeline reads its inputs, the segment vectors formed from the stored
windows of each representation (``pipeline.local.run_pipeline``'s ``form_sources``), so the
re-run is the real pipeline — its stages, failure policies, fusion and decision — on inputs that
went wrong the way they go wrong in the field:

* ``shift:<modality>:<seconds>`` — the modality read that many seconds late (audio off the video);
* ``drop:<modality>`` — the modality missing at inference (a dead microphone);
* ``swap:<modality>`` — the modality from another entity at the same time (conflicting signals:
  the audio of the next stall);
* ``noise:<modality>:<level>`` — Gaussian noise of ``level`` standard deviations (per dimension,
  over the stored vectors) added to the modality's segment vectors: degraded capture as the
  representation sees it;
* ``media:<modality>:<name>`` — the files themselves degraded with ffmpeg and encoded again by the
  same representation (``evaluate.perturb_media``): video ``blur``, ``dark`` (low light), ``codec``;
  audio ``rain`` and ``crowd`` noise, background sounds that should not matter (``siren``,
  ``dogs``, ``children``), ``codec``.

Each perturbed run is a catalog run (kind ``redteam``, its note naming the clean run and the
perturbation). Robustness per slice: the paired difference in accuracy and cost against the clean
run on the same labelled targets (McNemar, paired BCa bootstrap: ``evaluate.compare``), the share
of decisions that flipped and that were lost (answered clean, no answer perturbed), on every
target. ``looked_but_did_not_see`` needs no re-run: among targets whose perception label says
something is there that should drive the decision, the share the decision ignored.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from syncline.evaluate.compare import compare_runs
from syncline.evaluate.intervals import wilson
from syncline.evaluate.rows import load_rows, resolve_any_run
from syncline.pipeline.local import SourceFormer, run_pipeline
from syncline.project import Project
from syncline.represent.search import Windows, segment_vectors

KINDS = ("shift", "drop", "swap", "noise", "media")


def parse(spec: str) -> dict[str, Any]:
    """``shift:audio:0.5`` → ``{"kind": "shift", "modality": "audio", "value": 0.5}``."""
    parts = spec.split(":")
    if parts[0] not in KINDS or len(parts) < 2:
        raise ValueError(f"cannot read perturbation {spec!r}; write shift:MODALITY:SECONDS, drop:MODALITY, "
                         "swap:MODALITY, noise:MODALITY:LEVEL or media:MODALITY:NAME")
    if parts[0] == "media":
        from syncline.evaluate.perturb_media import names

        if len(parts) < 3 or parts[2] not in names(parts[1]):
            raise ValueError(f"perturbation {spec!r}: media:{parts[1]}:NAME takes one of "
                             f"{', '.join(names(parts[1])) or 'nothing for this modality'}")
        return {"kind": "media", "modality": parts[1], "value": parts[2], "spec": spec}
    value = None
    if parts[0] in ("shift", "noise"):
        try:
            value = float(parts[2])
        except (IndexError, ValueError):
            raise ValueError(f"perturbation {spec!r} needs a number: {parts[0]}:{parts[1]}:"
                             f"{'SECONDS' if parts[0] == 'shift' else 'LEVEL'}") from None
    return {"kind": parts[0], "modality": parts[1], "value": value, "spec": spec}


def former(p: dict[str, Any], seed: int = 0, media: Windows | None = None) -> SourceFormer:
    """How the perturbed run forms its sources: the others as usual, the modality changed
    (``media``: the windows of the degraded files, for a ``media:`` perturbation)."""
    def form(ws: dict[str, Windows], ents: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> dict[str, np.ndarray]:
        out = {s: segment_vectors(w, ents, t0, t1) for s, w in ws.items() if s != p["modality"]}
        w = ws[p["modality"]]
        if p["kind"] == "media":
            assert media is not None
            out[p["modality"]] = segment_vectors(media, ents, t0, t1)
        elif p["kind"] == "shift":
            d = np.int64(round(float(p["value"]) * 1e9))
            out[p["modality"]] = segment_vectors(w, ents, t0 + d, t1 + d)
        elif p["kind"] == "drop":
            dim = w.vectors.shape[1] if w.vectors.ndim == 2 else 1
            out[p["modality"]] = np.full((len(t0), dim), np.nan, np.float32)
        elif p["kind"] == "swap":
            names = np.unique(ents)
            rng = np.random.default_rng(seed)
            shift = rng.integers(1, len(names)) if len(names) > 1 else 0  # every entity takes another's
            other = dict(zip(names, np.roll(names, shift), strict=True))
            out[p["modality"]] = segment_vectors(w, np.array([other[e] for e in ents], object), t0, t1)
        else:
            x = segment_vectors(w, ents, t0, t1)
            sd = np.nanstd(w.vectors, axis=0) if len(w.vectors) else np.ones(x.shape[1])
            noise = np.random.default_rng(seed).normal(size=x.shape) * sd * float(p["value"])
            out[p["modality"]] = (x + noise).astype(np.float32)
        return out

    return form


def _changes(project: Project, clean: str, perturbed: str) -> list[dict[str, Any]]:
    """Per slice, on every target: decisions flipped and lost between the clean and perturbed runs."""
    r = load_rows(project, clean, split="all", compare_with=perturbed)
    assert r.other is not None
    both = (r.pred >= 0) & (r.other >= 0)
    lost = (r.pred >= 0) & (r.other < 0)

    def per(mask: np.ndarray) -> np.ndarray:
        return r.per_slice(r.per_group(mask))

    n_both, n_flip, n_ans, n_lost = per(both), per(both & (r.pred != r.other)), per(r.pred >= 0), per(lost)
    out = []
    for i, name in enumerate(r.slices.names):
        fl, fh = wilson(n_flip[i], n_both[i])
        ll, lh = wilson(n_lost[i], n_ans[i])
        out.append({"slice": name, "answered_clean": int(n_ans[i]),
                    "flip_rate": None if not n_both[i] else round(n_flip[i] / n_both[i], 6),
                    "flip_lo": None if not n_both[i] else round(float(fl), 6),
                    "flip_hi": None if not n_both[i] else round(float(fh), 6),
                    "lost_rate": None if not n_ans[i] else round(n_lost[i] / n_ans[i], 6),
                    "lost_lo": None if not n_ans[i] else round(float(ll), 6),
                    "lost_hi": None if not n_ans[i] else round(float(lh), 6)})
    return out


def red_team(project: Project, run_id: str, perturbations: list[str], *, seed: int = 0,
             draws: int = 1000) -> dict[str, Any]:
    """Re-run ``run_id``'s pipeline (the project's ``pipeline.yaml``, which must still be the one
    that run used) under each perturbation; robustness per perturbation and slice."""
    from syncline.pipeline.spec import load_pipeline

    specs = [parse(s) for s in perturbations]
    run = resolve_any_run(project, run_id)
    if run["kind"] != "pipeline":
        raise ValueError(f"run {run['run_id'][:12]} is a {run['kind']} run: the red team re-runs a pipeline run")
    pipe, spec, models = load_pipeline(project)
    if pipe.config_hash() != run["model_version"]:
        raise ValueError(f"pipeline.yaml is not the pipeline run {run['run_id'][:12]} used ({pipe.config_hash()} now, "
                         f"{run['model_version']} then): red-team the run of the current pipeline")
    config = json.loads(run.get("config_json") or "{}")
    for p in specs:
        if p["modality"] not in config.get("sources", {}):
            raise ValueError(f"perturbation {p['spec']}: the pipeline reads no {p['modality']!r} "
                             f"(its sources: {', '.join(config.get('sources', {}))})")
    pin = {str(k): int(v) for k, v in json.loads(run.get("table_versions_json") or "{}").items()}
    baseline = run["run_id"]

    def rerun(form: SourceFormer | None, note: dict[str, Any]) -> Any:
        return run_pipeline(project, pipe, representations=config["sources"], segmenter=config["segmenter"],
                            field_name=config["field"], model_versions=models, form_sources=form, kind="redteam",
                            note={"of": run["run_id"]} | note, pin=pin)

    notes = []
    try:  # the perturbed runs read the data the clean run read: only the perturbation differs
        with project.catalog().connect(versions=pin):
            pass
    except (OSError, ValueError):
        pin = {}
        baseline = rerun(None, {"perturbation": "none (baseline on the current data)"}).run_id
        notes.append(f"the clean run's table versions were cleaned up (a withdrawal or retention run): every "
                     f"perturbation is compared with a fresh unperturbed run on the current data ({baseline[:12]})")
    results = []
    for p in specs:
        media: Windows | None = None
        failed: list[str] = []
        if p["kind"] == "media":
            from syncline.evaluate.perturb_media import perturbed_windows
            from syncline.represent.search import windows_of

            table, failed = perturbed_windows(project, config["sources"][p["modality"]], p["modality"], p["value"])
            media = windows_of(table)
        res = rerun(former(p, seed, media), {"perturbation": p["spec"], "files_not_perturbed": failed})
        paired = compare_runs(project, baseline, res.run_id, draws=draws)
        results.append({"perturbation": p["spec"], "run_id": res.run_id, "routes": res.routes,
                        "paired": paired["slices"], "paired_rows": paired["paired_rows"],
                        "changes": _changes(project, baseline, res.run_id), "files_not_perturbed": failed})
    return {"run_id": run["run_id"], "baseline_run": baseline, "field": config["field"], "perturbations": results,
            "notes": notes}


def looked_but_did_not_see(project: Project, run_id: str, present: str, ignored: str) -> dict[str, Any]:
    """Among targets whose perception label is ``present`` (``field.value``, its consensus), the
    share whose decision was ``ignored`` — per slice, with Wilson intervals."""
    from syncline.audit.gold import consensus
    from syncline.catalog import query as Q

    field, _, value = present.partition(".")
    r = load_rows(project, run_id, split="all")
    if ignored not in r.classes:
        raise ValueError(f"{ignored!r} is not a value of {r.field!r} ({', '.join(r.classes)})")
    with project.catalog().connect() as con:
        if field not in Q.label_values(con):
            raise ValueError(f"no labels of {field!r}: looked-but-did-not-see needs perception labels of it")
        gold = consensus(Q.field_labels(con, field))
    present_ids = [t for t, v in gold.items() if v == value]
    there = np.isin(np.asarray(r.target_ids, object), present_ids) & (r.pred >= 0)
    hit = there & (r.pred == r.classes.index(ignored))
    n, k = r.per_slice(r.per_group(there)), r.per_slice(r.per_group(hit))
    lo, hi = wilson(k, n)
    return {"present": present, "ignored": ignored, "slices": [
        {"slice": s, "n": int(n[i]), "ignored": int(k[i]), "rate": None if not n[i] else round(k[i] / n[i], 6),
         "lo": None if not n[i] else round(float(lo[i]), 6), "hi": None if not n[i] else round(float(hi[i]), 6)}
        for i, s in enumerate(r.slices.names)]}
