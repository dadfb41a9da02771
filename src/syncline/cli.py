"""The command line: a thin Typer layer over the Python API. No logic lives here.

Every command takes ``--project`` (default: the current folder) and, where a machine reads the
output, ``--json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from syncline.manifest import ManifestError
from syncline.project import ProjectError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="syncline: multimodal data that survives real data.")
task_app = typer.Typer(no_args_is_help=True, help="Work with the task spec.")
app.add_typer(task_app, name="task")
consent_app = typer.Typer(no_args_is_help=True, help="Consent: list subjects, withdraw one, prove it.")
app.add_typer(consent_app, name="consent")
schema_app = typer.Typer(no_args_is_help=True, help="The label schema (labels.yaml): fields, kinds, annotators.")
app.add_typer(schema_app, name="schema")
guidelines_app = typer.Typer(no_args_is_help=True, help="Guidelines: pilot, freeze, diff (guidelines.md).")
app.add_typer(guidelines_app, name="guidelines")
labels_app = typer.Typer(no_args_is_help=True, help="Labels: import and export them (JSON Lines, Label "
                         "Studio, COCO, SRT/VTT), checked against the schema.")
app.add_typer(labels_app, name="labels")
retention_app = typer.Typer(no_args_is_help=True, help="Retention: purge what has outlived its period.")
app.add_typer(retention_app, name="retention")
console = Console() if sys.stdout.isatty() else Console(width=120)
err = Console(stderr=True, soft_wrap=True)

ProjectOpt = Annotated[Path, typer.Option("--project", "-p", help="project folder")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _report_lines(res: Any, path: Path, noun: str, json_out: bool) -> None:
    """What a JSON Lines import wrote and refused, line by line."""
    if json_out:
        _print_json({"written": res.written, "refused": [{"line": r.index + 1, "reason": r.reason}
                                                         for r in res.refused]})
        return
    console.print(f"{res.written} {noun}(s) written, {len(res.refused)} refused")
    for r in res.refused:
        console.print(f"  {path}:{r.index + 1}: {r.reason}", highlight=False)


def _open(project: Path) -> Any:
    from syncline.project import Project

    try:
        return Project.open(project)
    except ProjectError as e:
        _fail(str(e))


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="project folder to create")] = Path("."),
    template: Annotated[str, typer.Option(help="task.yaml template: blank or farm")] = "blank",
    json_out: JsonOpt = False,
) -> None:
    """Create a project: syncline.yaml, task.yaml, an empty catalog."""
    from syncline.project import init_project

    p = init_project(path, template=template)
    if json_out:
        _print_json({"project": str(p.root), "task": str(p.task_path)})
    else:
        console.print(f"project ready at [bold]{p.root}[/bold]; edit {p.task_path} then `syncline ingest`")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders to ingest")],
    project: ProjectOpt = Path("."),
    manifest: Annotated[Path | None, typer.Option(help="manifest (YAML/JSON/CSV): entities, subjects, consent")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Discover, probe, hash, scrub and register files. Safe to interrupt and re-run."""
    from syncline.ingest import ingest as run_ingest

    p = _open(project)
    try:
        if json_out:
            summary = run_ingest(p, paths, manifest_path=manifest)
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), console=err, transient=True) as bar:
                tasks: dict[str, Any] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(stage, total=total)
                    bar.update(tasks[stage], completed=done, total=total)

                summary = run_ingest(p, paths, manifest_path=manifest, progress=progress)
    except (ManifestError, ValueError) as e:
        _fail(str(e))
    if json_out:
        _print_json(summary.to_json())
        return
    from syncline.report_text import print_ingest

    print_ingest(console, summary)


@app.command()
def inventory(
    project: ProjectOpt = Path("."),
    require: Annotated[str | None, typer.Option(help="comma-separated modalities (default: task.yaml's)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Counts, hours and bytes per modality; coverage; aligned hours; capture-context balance."""
    from syncline.inventory import build_inventory

    p = _open(project)
    required = [m.strip() for m in require.split(",") if m.strip()] if require else None
    inv = build_inventory(p, required=required)
    if json_out:
        _print_json(inv.to_json())
        return
    from syncline.report_text import print_inventory

    print_inventory(console, inv)


@app.command()
def align(
    project: ProjectOpt = Path("."),
    apply: Annotated[bool, typer.Option("--apply", help="record the trusted corrections in the clocks")] = False,
    entity: Annotated[str | None, typer.Option(help="only this entity")] = None,
    max_lag: Annotated[float, typer.Option(help="search window in seconds around the current clocks")] = 10.0,
    json_out: JsonOpt = False,
) -> None:
    """Detect offsets and drift between streams; abstain when unsure; --apply corrects clocks."""
    from syncline.align.run import align as run_align

    p = _open(project)
    report = run_align(p, apply=apply, entity=entity, max_lag_ns=int(max_lag * 1e9))
    if json_out:
        _print_json(report.to_json())
        return
    from syncline.report_text import print_align

    print_align(console, report)


@app.command()
def audit(
    project: ProjectOpt = Path("."),
    check: Annotated[list[str] | None, typer.Option("--check", help="run only these checks (repeatable)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Audit data quality: findings (check, severity, evidence, what to do) into the catalog."""
    from syncline.audit.run import run_audit

    p = _open(project)
    try:
        report = run_audit(p, check)
    except ValueError as e:
        _fail(str(e).splitlines()[0])
    if json_out:
        _print_json(report.to_json())
        return
    from syncline.report_text import print_audit

    print_audit(console, report, p)


@app.command()
def split(
    field_name: Annotated[str, typer.Argument(metavar="FIELD", help="the label field whose targets to split")],
    project: ProjectOpt = Path("."),
    by: Annotated[str, typer.Option(help="keep whole: entity or subject")] = "entity",
    shares: Annotated[str, typer.Option(help="train,validation,test shares")] = "0.7,0.15,0.15",
    seed: Annotated[int, typer.Option(help="seed of the group order")] = 0,
    name: Annotated[str, typer.Option(help="name of the split set")] = "default",
    from_csv: Annotated[Path | None, typer.Option("--from", help="your own split: CSV target_id,split")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Split the labelled targets of a field into train / validation / test, groups kept whole."""
    from syncline.splits import assign_splits, import_splits

    p = _open(project)
    refused: list[str] = []
    try:
        if from_csv is not None:
            counts, refused = import_splits(p, from_csv, field_name, name=name)
        else:
            parts = tuple(float(x) for x in shares.split(","))
            counts = assign_splits(p, field_name, by=by, shares=parts, seed=seed, name=name)  # type: ignore[arg-type]
    except (ValueError, OSError) as e:
        _fail(str(e).splitlines()[0])
    if json_out:
        _print_json({"split_set": name, "counts": counts, "refused": refused})
        return
    console.print(f"split {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for r in refused:
        console.print(f"  refused {r}", highlight=False)


@app.command()
def segment(
    by: Annotated[list[str], typer.Option("--by", help="fixed, cues, events, speech, shots (repeatable)")],
    project: ProjectOpt = Path("."),
    window: Annotated[float, typer.Option(help="fixed window length in seconds")] = 10.0,
    entity: Annotated[str | None, typer.Option(help="only this entity")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Cut entity timelines into segments with stable IDs."""
    from syncline.align.segment import run_segmenters

    p = _open(project)
    try:
        counts = run_segmenters(p, by, window_s=window, entity=entity)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(counts)
    else:
        console.print("segments: " + ", ".join(f"{k} {n}" for k, n in counts.items()))


@app.command()
def embed(
    project: ProjectOpt = Path("."),
    representation: Annotated[list[str] | None, typer.Option(
        "--representation", "-r", help="only these, e.g. logmel-1s@1 (repeatable; default: every known one "
        "but the slow asr-words-1s@1)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Store window vectors of every asset under each representation, once per version (resumable)."""
    from syncline.represent.embed import embed as run_embed
    from syncline.represent.registry import EncoderError

    p = _open(project)
    try:
        report = run_embed(p, representation)
    except EncoderError as e:
        _fail(str(e))
    if json_out:
        _print_json(report.to_json())
        return
    from syncline.report_text import print_embed

    print_embed(console, report)


@app.command()
def representations(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Stored representations: vectors, assets, and the runs and heads that depend on each version."""
    from syncline.represent.embed import usage

    rows = usage(_open(project))
    if json_out:
        _print_json(rows)
        return
    from syncline.report_text import print_representations

    print_representations(console, rows)


@app.command()
def fit(
    field: Annotated[str, typer.Argument(help="the class field to predict")],
    representation: Annotated[list[str], typer.Option("--representation", "-r",
                                                      help="inputs, concatenated in this order (repeatable)")],
    project: ProjectOpt = Path("."),
    name: Annotated[str | None, typer.Option(help="the head's name (default: field-representations)")] = None,
    split: Annotated[str | None, typer.Option(help="a split set: fit on its train and validation targets")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Fit a head on labelled segments (consensus labels, stored vectors) and save it under models/."""
    from syncline.pipeline.training import fit_from_catalog

    p = _open(project)
    try:
        head, path, counts = fit_from_catalog(p, field, representation, name=name, split_set=split)
    except ValueError as e:
        _fail(str(e))
    info = {"model_id": head.model_id, "path": str(path.relative_to(p.root)), "classes": head.classes,
            "fitted_on": head.fitted_on, **counts}
    if json_out:
        _print_json(info)
        return
    score = head.fitted_on["out_of_fold_balanced_accuracy"]
    shown = "-" if score is None else f"{score:.2f}"
    console.print(f"{head.model_id} -> {info['path']}: {counts['used']} of {counts['targets']} labelled segments "
                  f"({counts['without_vectors']} without vectors), {head.fitted_on['groups']} entities; out-of-fold "
                  f"balanced accuracy {shown} (chance {head.fitted_on['chance']:.2f})", highlight=False)


@app.command()
def run(
    pipeline: Annotated[Path | None, typer.Argument(help="pipeline.yaml (default: the project's)")] = None,
    project: ProjectOpt = Path("."),
    run_id: Annotated[str | None, typer.Option(
        "--run-id", help="resume this (killed) run: its ID or a unique prefix")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a pipeline over the project's segments: traces, predictions, routes; resumable."""
    from syncline.pipeline.graph import PipelineError
    from syncline.pipeline.local import resolve_run, run_pipeline
    from syncline.pipeline.spec import load_pipeline

    p = _open(project)
    try:
        pipe, spec, models = load_pipeline(p, pipeline)
        res = run_pipeline(p, pipe, representations=spec.sources, segmenter=spec.segmenter, field_name=spec.field,
                           run_id=resolve_run(p, run_id) if run_id else None, model_versions=models)
    except PipelineError as e:
        _fail("the pipeline is refused:\n  " + "\n  ".join(e.problems))
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(res.to_json())
        return
    from syncline.report_text import print_run

    print_run(console, res)


scenarios_app = typer.Typer(no_args_is_help=True, help="Scenario suites: curated rare cases, versioned.")
app.add_typer(scenarios_app, name="scenarios")


@scenarios_app.command("add")
def scenarios_add(
    name: Annotated[str, typer.Argument(help="the suite's name")],
    project: ProjectOpt = Path("."),
    ids: Annotated[Path | None, typer.Option("--ids", help="a file of target IDs, one per line")] = None,
    from_run: Annotated[str | None, typer.Option("--from-run", help="take the targets of this run's predictions…")]
    = None,
    where: Annotated[str | None, typer.Option("--where", help="…that satisfy this slice condition")] = None,
    description: Annotated[str, typer.Option(help="what the cases are")] = "",
    json_out: JsonOpt = False,
) -> None:
    """Record a suite (a new version when its members change; old versions stay)."""
    from syncline.evaluate.scenarios import ids_from_file, save_suite, targets_where

    p = _open(project)
    if (ids is None) == (from_run is None) or (from_run is not None and not where):
        _fail("give --ids FILE, or --from-run RUN with --where CONDITION")
    try:
        targets = ids_from_file(ids) if ids is not None else targets_where(p, str(from_run), str(where))
        res = save_suite(p, name, targets, description=description)
    except (OSError, ValueError) as e:
        _fail(str(e).splitlines()[0])
    if json_out:
        _print_json(res)
    else:
        console.print(f"suite {res['suite']}@{res['version']}: {res['targets']} target(s)", highlight=False)


@scenarios_app.command("list")
def scenarios_list(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Every suite version, newest first."""
    from syncline.catalog import query as Q

    p = _open(project)
    with p.catalog().connect() as con:
        rows = Q.suite_versions(con)
    if json_out:
        _print_json(rows)
        return
    for r in rows:
        console.print(f"{r['suite']}@{r['version']}: {r['targets']} target(s) {r['description'] or ''}",
                      highlight=False)


predictions_app = typer.Typer(no_args_is_help=True, help="Predictions from any model, to evaluate like a run's.")
app.add_typer(predictions_app, name="predictions")


@predictions_app.command("import")
def predictions_import(
    path: Annotated[Path, typer.Argument(help="Parquet, CSV or JSON Lines keyed by segment_id or entity_id")],
    field: Annotated[str, typer.Option("--field", help="the label field the predictions are of")],
    model: Annotated[str, typer.Option("--model", help="the model's name")],
    version: Annotated[str, typer.Option("--version", help="the model's version")],
    project: ProjectOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Import predictions as a run; bad rows are refused with their line and reason."""
    from syncline.evaluate.imports import import_predictions

    p = _open(project)
    try:
        res = import_predictions(p, path, field_name=field, model=model, version=version)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(res.to_json())
        return
    if res.written:
        console.print(f"run {res.run_id}: {res.written} prediction(s) written, {len(res.refused)} refused",
                      highlight=False)
    else:
        console.print(f"no run: nothing was written ({len(res.refused)} row(s) refused)", highlight=False)
    for why in res.refused[:50]:
        console.print(f"  {why}", highlight=False)


@app.command(name="eval")
def eval_cmd(
    run_id: Annotated[str, typer.Argument(help="the run to evaluate (a pipeline or import run): ID or prefix")],
    project: ProjectOpt = Path("."),
    field: Annotated[str | None, typer.Option("--field", help="the field (default: the run's)")] = None,
    split: Annotated[str, typer.Option(help="auto (test if splits exist), test, validation, train or all")] = "auto",
    intersections: Annotated[bool, typer.Option(help="also every pair of task slices ANDed")] = True,
    suite: Annotated[str | None, typer.Option(help="only a scenario suite's targets: NAME or NAME@VERSION")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Evaluate a run per slice: metrics with intervals, gates, gaps, calibration; written to the catalog."""
    from syncline.evaluate.run import evaluate

    p = _open(project)
    try:
        ev = evaluate(p, run_id, field_name=field, split=split, intersections=intersections, suite=suite)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(ev.to_json())
        return
    from syncline.evaluate.console import print_diagnostics, print_eval

    print_eval(console, ev)
    print_diagnostics(console, ev.to_json())


@app.command()
def compare(
    run_a: Annotated[str, typer.Argument(help="model A's run: ID or prefix")],
    run_b: Annotated[str, typer.Argument(help="model B's run: ID or prefix")],
    project: ProjectOpt = Path("."),
    field: Annotated[str | None, typer.Option("--field", help="the field (default: A's)")] = None,
    split: Annotated[str, typer.Option(help="auto (test if splits exist), test, validation, train or all")] = "auto",
    json_out: JsonOpt = False,
) -> None:
    """Model A against B on the same targets, per slice: McNemar and paired-bootstrap differences."""
    from syncline.evaluate.compare import compare_runs

    p = _open(project)
    try:
        res = compare_runs(p, run_a, run_b, field_name=field, split=split)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(res)
        return
    from syncline.evaluate.console import print_compare

    print_compare(console, res)


@app.command()
def report(
    run_ids: Annotated[list[str], typer.Argument(help="the run(s) to report on; with two, A then B are compared")],
    project: ProjectOpt = Path("."),
    out: Annotated[Path | None, typer.Option("--out", help="the HTML file (default: reports/<run>.html)")] = None,
    field: Annotated[str | None, typer.Option("--field", help="the field (default: the run's)")] = None,
    split: Annotated[str, typer.Option(help="auto (test if splits exist), test, validation, train or all")] = "auto",
    perturb: Annotated[list[str] | None, typer.Option("--perturb", help="red-team perturbations to include "
                                                      "(see syncline redteam)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """An offline HTML report (and JSON) answering: which model, is it safe, ready, deployable, what to monitor."""
    from syncline.evaluate.report import build_report

    p = _open(project)
    target = out or p.root / "reports" / f"{run_ids[0][:12]}.html"
    try:
        res = build_report(p, run_ids, target, field_name=field, split=split, perturbations=perturb)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(res["answers"] | {"html": str(target), "json": str(target.with_suffix(".json"))})
        return
    from syncline.evaluate.console import print_answers

    print_answers(console, res["answers"])
    console.print(f"report: {target} (and {target.with_suffix('.json').name})", highlight=False)


@app.command()
def redteam(
    run_id: Annotated[str, typer.Argument(help="the clean pipeline run to perturb: ID or prefix")],
    perturb: Annotated[list[str], typer.Option("--perturb", help="shift:MODALITY:SECONDS, drop:MODALITY, "
                                               "swap:MODALITY or noise:MODALITY:LEVEL (repeat)")],
    project: ProjectOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Re-run the pipeline with one modality shifted, dropped, swapped or noised: robustness per slice."""
    from syncline.evaluate.redteam import red_team
    from syncline.pipeline.graph import PipelineError

    p = _open(project)
    try:
        res = red_team(p, run_id, perturb)
    except PipelineError as e:
        _fail("the pipeline is refused:\n  " + "\n  ".join(e.problems))
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(res)
        return
    from syncline.evaluate.console import print_redteam

    print_redteam(console, res)


@app.command(name="monitor")
def monitor_cmd(
    batch_run: Annotated[str, typer.Argument(help="the production batch's run (e.g. imported predictions)")],
    baseline: Annotated[str, typer.Option("--baseline", help="the evaluated run the batch is compared with")],
    project: ProjectOpt = Path("."),
    field: Annotated[str | None, typer.Option("--field", help="the field (default: the baseline run's)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """A production batch against the evaluation baseline per slice: which shift alerts fire."""
    from syncline.evaluate.monitor import monitor

    p = _open(project)
    try:
        res = monitor(p, batch_run, baseline_run=baseline, field_name=field)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(res)
    else:
        from syncline.evaluate.console import print_monitor

        print_monitor(console, res)
    if res["alerts"]:
        raise typer.Exit(1)


@app.command(name="plan")
def plan_cmd(
    project: ProjectOpt = Path("."),
    window: Annotated[float, typer.Option(help="seconds per decision window")] = 2.0,
    device: Annotated[str, typer.Option(help="cpu-2core, t4, a10 or h100")] = "cpu-2core",
    frames_per_s: Annotated[float, typer.Option(help="video frames the model sees per second")] = 1.0,
    image: Annotated[int, typer.Option(help="square image size the model sees, px")] = 224,
    patch: Annotated[int, typer.Option(help="patch size, px")] = 16,
    audio_tokens_per_s: Annotated[float, typer.Option(help="audio frames (tokens) per second")] = 50.0,
    width: Annotated[int, typer.Option(help="model width")] = 512,
    layers: Annotated[int, typer.Option(help="model depth")] = 8,
    run_id: Annotated[str | None, typer.Option("--run", help="also show what this run's traces recorded")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Compute plan: bytes, tokens, memory and latency per decision against the task's budget."""
    from syncline.plan import ModelShape, check_against_run
    from syncline.plan import plan as make_plan

    p = _open(project)
    shape = ModelShape(frames_per_s=frames_per_s, image=image, patch=patch, audio_tokens_per_s=audio_tokens_per_s,
                       width=width, layers=layers)
    try:
        res = make_plan(p, window_s=window, device=device, model=shape)
        if run_id:
            res["run"] = check_against_run(p, run_id)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(res)
        return
    from syncline.report_text import print_plan

    print_plan(console, res)


@app.command()
def similar(
    segment_id: Annotated[str, typer.Argument(help="the query segment's ID")],
    project: ProjectOpt = Path("."),
    representation: Annotated[list[str] | None, typer.Option(
        "--representation", "-r", help="compare on these (repeatable; default: every stored one)")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="how many to return")] = 10,
    other_entities: Annotated[bool, typer.Option("--other-entities", help="only other entities' segments")] = False,
    index: Annotated[bool, typer.Option("--index", help="answer from the stored index (syncline index build)")] = False,
    approximate: Annotated[bool, typer.Option("--approximate", help="with --index: probe its ANN index "
                                              "(built with --ann) instead of scanning every vector")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Segments like this one (cosine over standardised stored vectors, through current clocks)."""
    from syncline.represent.index import search_index
    from syncline.represent.search import SearchError
    from syncline.represent.search import similar as run_similar

    p = _open(project)
    try:
        res = (search_index(p, segment_id, representation_ids=representation, k=k, other_entities=other_entities,
                            exact=not approximate) if index or approximate
               else run_similar(p, segment_id, representation_ids=representation, k=k,
                                other_entities=other_entities))
    except SearchError as e:
        _fail(str(e))
    if json_out:
        _print_json(res)
        return
    from syncline.report_text import print_similar

    print_similar(console, res)


index_app = typer.Typer(no_args_is_help=True, help="Stored indexes of segment vectors (syncline similar --index).")
app.add_typer(index_app, name="index")


@index_app.command("build")
def index_build(
    segmenter: Annotated[str, typer.Option(help="the segments to index, e.g. fixed-10s@2")],
    representation: Annotated[list[str], typer.Option("--representation", "-r",
                                                      help="representations to index (repeatable)")],
    project: ProjectOpt = Path("."),
    ann: Annotated[bool, typer.Option("--ann", help="also train an IVF_PQ index (millions of segments)")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Form the segment vectors once and store them (rebuild after new vectors, clocks or segments)."""
    from syncline.represent.index import build_index
    from syncline.represent.search import SearchError

    p = _open(project)
    try:
        res = build_index(p, segmenter, representation, ann=ann)
    except SearchError as e:
        _fail(str(e))
    if json_out:
        _print_json(res)
        return
    console.print(f"index {res['index']}: {res['segments']} segments of {segmenter} × "
                  f"{', '.join(res['representations'])} ({res['dim']}-d{', with IVF_PQ' if res['ann'] else ''}); "
                  f"{res['lacking']} segments lack a representation and are left out", highlight=False)


@index_app.command("list")
def index_list(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Stored indexes, what they hold, and whether the catalog has moved past them."""
    from syncline.represent.index import list_indexes

    rows = list_indexes(_open(project))
    if json_out:
        _print_json(rows)
        return
    for r in rows:
        state = "stale: " + "; ".join(r["stale"]) if r["stale"] else "fresh"
        console.print(f"{r['index']}  {r.get('segmenter')}  {', '.join(r.get('representations', {}))}  "
                      f"{r.get('dim')}-d  {state}", highlight=False)


@app.command()
def tuples(
    project: ProjectOpt = Path("."),
    segmenter: Annotated[str | None, typer.Option(help="only segments of this segmenter, e.g. fixed-10s@2")] = None,
    entity: Annotated[str | None, typer.Option(help="only this entity")] = None,
    out: Annotated[Path | None, typer.Option(help="export folder")] = None,
    fmt: Annotated[str, typer.Option("--format", help="parquet or webdataset")] = "parquet",
    stage: Annotated[str | None, typer.Option(help="only assets whose consent allows this stage")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Aligned tuples: per segment, frames, samples, words, sensor rows, events, metadata."""
    from syncline.align.tuples import build_tuples, export, summarize

    p = _open(project)
    try:
        table = build_tuples(p, segmenter=segmenter, entity=entity, stage=stage)
    except ValueError as e:
        _fail(str(e))
    try:
        written = export(table, out, fmt) if out is not None else []
    except ValueError as e:
        _fail(str(e))
    summary = summarize(table, written)
    if json_out:
        _print_json(summary if out is not None else {**summary, "rows": table.to_pylist()})
    else:
        console.print(f"{summary['tuples']} tuples, {summary['in_sync']} in sync"
                      + (f"; wrote {', '.join(summary['written'])}" if written else ""))


@task_app.command("check")
def task_check(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Validate task.yaml; every problem is listed with its field and what is allowed."""
    from syncline.task import TaskSpecError, load_task

    p = _open(project)
    try:
        t = load_task(p.task_path)
    except TaskSpecError as e:
        if json_out:
            _print_json({"valid": False, "problems": str(e).splitlines()})
            raise typer.Exit(1) from None
        _fail(str(e), code=1)
    if json_out:
        _print_json({"valid": True, "name": t.name, "hash": t.content_hash()})
    else:
        console.print(f"[green]valid[/green] {p.task_path} (hash {t.content_hash()[:12]})")


@consent_app.command("list")
def consent_list(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Subjects (pseudonyms), their consent record and how many assets list them."""
    from syncline.govern.consent import list_subjects
    from syncline.report_text import print_subjects

    rows = list_subjects(_open(project))
    if json_out:
        _print_json(rows)
    else:
        print_subjects(console, rows)


@consent_app.command("check")
def consent_check(
    stage: Annotated[str, typer.Option(help="collection, annotation, training, evaluation or publication")],
    project: ProjectOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Which assets a stage may not use, and why (consent status, scope, jurisdiction)."""
    from syncline.govern.consent import blocked_for

    try:
        rows = blocked_for(_open(project), stage)
    except ValueError as e:
        _fail(str(e))
    if json_out:
        _print_json(rows)
    else:
        from syncline.report_text import print_stage_blocks

        print_stage_blocks(console, stage, rows)


@consent_app.command("withdraw")
def consent_withdraw(
    subject: Annotated[str, typer.Argument(help="the subject's pseudonym")],
    project: ProjectOpt = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would go; change nothing")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Remove everything of a subject: rows, old table versions, media, exports; flag runs."""
    from syncline.govern.footprint import GovernError
    from syncline.govern.purge import withdraw
    from syncline.report_text import print_withdrawal

    p = _open(project)
    try:
        report = withdraw(p, subject, dry_run=dry_run)
    except GovernError as e:
        _fail(str(e))
    data = report.to_json(p.root)
    if json_out:
        _print_json(data)
    else:
        print_withdrawal(console, data)


@consent_app.command("verify")
def consent_verify(
    subject: Annotated[str, typer.Argument(help="the subject's pseudonym")],
    project: ProjectOpt = Path("."),
    needle: Annotated[list[str] | None, typer.Option(help="another string that must not be found (repeatable)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Byte-scan the whole project and read every retained table version; exit 1 on any trace."""
    from syncline.govern.verify import verify

    report = verify(_open(project), subject, needles=needle or [])
    if json_out:
        _print_json(report.to_json())
    else:
        state = "[green]clean[/green]" if report.clean else f"[red]{len(report.hits)} trace(s) found[/red]"
        console.print(f"{state}: {report.files_scanned} files ({report.bytes_scanned / 1e6:.1f} MB) scanned, "
                      f"{report.versions_read} table versions read")
        for h in report.hits:
            console.print(f"  {h}", highlight=False)
    if not report.clean:
        raise typer.Exit(1)


@retention_app.command("apply")
def retention_apply(
    project: ProjectOpt = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="list what would go; change nothing")] = False,
    now: Annotated[str | None, typer.Option(help="ISO 8601 instant to judge ages at (default: now)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Purge files past their retention period (syncline.yaml, consent records) like a withdrawal."""
    from datetime import UTC, datetime

    from syncline.govern.retention import apply
    from syncline.report_text import print_retention

    p = _open(project)
    at = None
    if now:
        try:
            at = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            _fail(f"--now {now!r} is not an ISO 8601 instant; use e.g. 2027-01-01T00:00:00Z")
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
    data = apply(p, now=at, dry_run=dry_run).to_json(p.root)
    if json_out:
        _print_json(data)
    else:
        print_retention(console, data)


@schema_app.command("check")
def schema_check(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Validate labels.yaml; every problem is listed with its field and what is allowed."""
    from syncline.annotate.schema import SCHEMA_FILE, SchemaError, load_schema

    p = _open(project)
    try:
        schema = load_schema(p.root / SCHEMA_FILE)
    except SchemaError as e:
        if json_out:
            _print_json({"valid": False, "problems": e.problems})
            raise typer.Exit(1) from None
        _fail(str(e), code=1)
    from rich.markup import escape

    from syncline.annotate.labels import labels_outside

    stale = labels_outside(p, schema)
    if json_out:
        _print_json({"valid": True, "version": schema.content_hash(), "fields": list(schema.fields),
                     "labels_outside": stale})
    else:
        console.print(f"[green]valid[/green] {p.root / SCHEMA_FILE} (version {schema.content_hash()}): "
                      f"{len(schema.fields)} field(s), {len(schema.annotators)} annotator(s)")
        for line in stale:
            console.print(f"  [yellow]warning[/yellow] {escape(line)}: relabel or remove them", highlight=False)


@guidelines_app.command("pilot")
def guidelines_pilot(
    project: ProjectOpt = Path("."),
    n: Annotated[int, typer.Option("--n", help="segments in the pilot slice")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Register guidelines.md as a pilot and choose a slice covering the capture conditions."""
    from syncline.annotate.guidelines import GuidelineError, current, pilot
    from syncline.annotate.schema import SchemaError

    p = _open(project)
    try:
        chosen = pilot(p, n)
        version = current(p).version
    except (GuidelineError, SchemaError) as e:
        _fail(str(e).splitlines()[0])
    if json_out:
        _print_json({"version": version, "pilot_target_ids": chosen})
    else:
        console.print(f"pilot {version}: {len(chosen)} segment(s) for the experts to label first")


@guidelines_app.command("freeze")
def guidelines_freeze(project: ProjectOpt = Path("."), json_out: JsonOpt = False) -> None:
    """Freeze the piloted guidelines; labels of a superseded version are flagged for review."""
    from syncline.annotate.guidelines import GuidelineError, freeze
    from syncline.annotate.schema import SchemaError

    p = _open(project)
    try:
        version, flagged = freeze(p)
    except (GuidelineError, SchemaError) as e:
        _fail(str(e).splitlines()[0])
    if json_out:
        _print_json({"version": version, "flagged": flagged})
    else:
        console.print(f"frozen {version}; {flagged} label(s) of the superseded version flagged for review")


@guidelines_app.command("diff")
def guidelines_diff(project: ProjectOpt = Path(".")) -> None:
    """What changed in guidelines.md since the frozen version."""
    from syncline.annotate.guidelines import GuidelineError, diff

    try:
        sys.stdout.write(diff(_open(project)) or "no change since the frozen version\n")
    except GuidelineError as e:
        _fail(str(e))


AnnotatorMapOpt = Annotated[list[str] | None, typer.Option(
    "--annotator-map", help="Label Studio completed_by=ANNOTATOR (repeatable)")]
FieldOpt = Annotated[list[str] | None, typer.Option("--field", help="label field (repeatable)")]
AnnotatorOpt = Annotated[str | None, typer.Option(help="annotator (COCO without annotator keys; SRT/VTT)")]
AssetOpt = Annotated[str | None, typer.Option(help="SRT/VTT: the media (ID or file name) whose time the cues use")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="jsonl, label-studio, coco, srt or vtt")]


@labels_app.command("import")
def labels_import(
    path: Annotated[Path, typer.Argument(help="a label file: JSON Lines, Label Studio JSON, COCO, SRT or WebVTT")],
    project: ProjectOpt = Path("."),
    fmt: FormatOpt = None,
    annotator_map: AnnotatorMapOpt = None,
    field: FieldOpt = None,
    annotator: AnnotatorOpt = None,
    target: Annotated[str | None, typer.Option(help="SRT/VTT: what the spans label (an entity ID)")] = None,
    asset: AssetOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import labels; the valid ones are written in one commit, the others refused with a reason."""
    from syncline.annotate.interop.files import SpanOptions, import_file
    from syncline.annotate.schema import SchemaError

    p = _open(project)
    people = dict(m.split("=", 1) for m in annotator_map or [] if "=" in m)
    if len(people) != len(annotator_map or []):
        _fail("--annotator-map takes COMPLETED_BY=ANNOTATOR, e.g. --annotator-map 12=vet-a")
    spans = SpanOptions(field=field[0] if field else None, annotator=annotator, target=target, asset=asset)
    try:
        res = import_file(p, path, fmt, annotator_map=people, spans=spans)
    except (SchemaError, OSError, ValueError) as e:
        _fail(str(e).splitlines()[0])
    if json_out:
        _print_json(res.to_json())
        return
    console.print(f"{res.written} label(s) written, {len(res.refused)} refused")
    for where, why in res.refused:
        console.print(f"  {where}: {why}", highlight=False)


@labels_app.command("export")
def labels_export(
    path: Annotated[Path, typer.Argument(help="the file to write (.jsonl, .json, .srt, .vtt)")],
    project: ProjectOpt = Path("."),
    fmt: FormatOpt = None,
    field: FieldOpt = None,
    annotator: AnnotatorOpt = None,
    entity: Annotated[str | None, typer.Option(help="SRT/VTT: the entity whose spans to write")] = None,
    asset: AssetOpt = None,
    kind: Annotated[str | None, typer.Option(help="perception or judgment: export one kind only")] = None,
) -> None:
    """Export the current labels (perception and judgment fields as the schema says)."""
    from syncline.annotate.interop.files import SpanOptions, export_file
    from syncline.annotate.schema import SchemaError

    p = _open(project)
    try:
        n, skipped = export_file(p, path, fmt, fields=field, kind=kind,
                                 spans=SpanOptions(annotator=annotator, entity=entity, asset=asset))
    except (SchemaError, OSError, ValueError) as e:
        _fail(str(e).splitlines()[0])
    console.print(f"wrote {n} record(s) to {path}" + (f"; {len(skipped)} label(s) left out:" if skipped else ""))
    for why in skipped:
        console.print(f"  {why}", highlight=False)


@app.command()
def grade(
    path: Annotated[Path, typer.Argument(help="JSON Lines: {label_id, grader, verdict, value?, score?}")],
    project: ProjectOpt = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Second-tier grades (accept / fix / reject, 1-5 score); the valid ones written, the rest refused."""
    from syncline.annotate.grading import import_grades
    from syncline.annotate.schema import SchemaError

    p = _open(project)
    try:
        res = import_grades(p, path)
    except (SchemaError, OSError) as e:
        _fail(str(e).splitlines()[0])
    _report_lines(res, path, "grade", json_out)


@app.command()
def gold(
    field_name: Annotated[str, typer.Argument(metavar="FIELD", help="a class or ordinal label field")],
    project: ProjectOpt = Path("."),
    best: Annotated[Path | None, typer.Option(help="write the best data (Parquet) here")] = None,
    min_confidence: Annotated[float, typer.Option(help="best data: lowest gold confidence kept")] = 0.9,
    min_score: Annotated[float | None, typer.Option(help="best data: lowest grade score kept")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Gold values by Dawid-Skene over graded labels; optionally the best data to train on."""
    from syncline.annotate.grading import best_data, write_best
    from syncline.annotate.grading import gold as gold_values
    from syncline.annotate.schema import SchemaError

    p = _open(project)
    try:
        g = gold_values(p, field_name)
    except (SchemaError, ValueError) as e:
        _fail(str(e).splitlines()[0])
    chosen = best_data(g, min_confidence=min_confidence, min_score=min_score)
    if best is not None:
        write_best(chosen, best)
    per_value = {v: sum(1 for r in g.rows if r["value"] == v) for v in g.values}
    if json_out:
        _print_json({"field": field_name, "targets": len(g.rows), "best": len(chosen), "gold": per_value,
                     "rows": g.rows})
    else:
        console.print(f"{field_name}: gold values for {len(g.rows)} target(s) "
                      + ", ".join(f"{v} {n}" for v, n in per_value.items())
                      + f"; best data {len(chosen)} (confidence >= {min_confidence})"
                      + (f", written to {best}" if best else ""))


@app.command()
def agreement(
    field_name: Annotated[str, typer.Argument(metavar="FIELD", help="the label field, e.g. animal_state")],
    project: ProjectOpt = Path("."),
    by: Annotated[str | None, typer.Option(help="slice by a capture condition: lighting, camera, entity...")] = None,
    level: Annotated[str | None, typer.Option(help="nominal, ordinal, interval or ratio (default: the field's type)")]
    = None,
    json_out: JsonOpt = False,
) -> None:
    """Agreement on a label field, overall, per annotator and per slice, with intervals."""
    from dataclasses import asdict

    from syncline.annotate.report import field_agreement, level_of
    from syncline.annotate.schema import SCHEMA_FILE, SchemaError, load_schema
    from syncline.report_text import print_agreement

    p = _open(project)
    try:
        schema = p.root / SCHEMA_FILE
        spec = load_schema(schema).fields.get(field_name) if schema.exists() else None
        how, order = level_of(spec, level)
        report = field_agreement(p, field_name, level=how, order=order, by=by)
    except (ValueError, SchemaError, OSError) as e:
        _fail(str(e).splitlines()[0])
    if json_out:
        _print_json(asdict(report))
    else:
        print_agreement(console, report)


@app.command()
def demo(
    path: Annotated[Path, typer.Argument(help="folder for the demo world and its project")] = Path("demo-world"),
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    json_out: JsonOpt = False,
) -> None:
    """Generate the farm demo world, then init → ingest → inventory, and say where to look."""
    from syncline.demo.run import run_demo

    result = run_demo(path, seed=seed, console=None if json_out else console)
    if json_out:
        _print_json(result)


@app.command()
def serve(
    project: ProjectOpt = Path("."),
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (the app never listens elsewhere)")] = 8765,
) -> None:
    """Start the web app on 127.0.0.1 and print a login URL for the owner and each annotator."""
    from syncline.server.app import serve as run_server

    _open(project)
    console.print(f"syncline web app on http://127.0.0.1:{port}/ — open your login URL (tokens last until the "
                  "server stops):", highlight=False)
    run_server(project, port=port, echo=lambda line: console.print(line, highlight=False, soft_wrap=True))


def main() -> None:
    """Entry point: an unexpected error becomes one line (SYNCLINE_DEBUG=1 shows the traceback)."""
    import os

    try:
        app()
    except Exception as e:  # the last line of defence of rule 2: no stack trace as a message
        if os.environ.get("SYNCLINE_DEBUG"):
            raise
        first = (str(e).splitlines() or [""])[0]
        err.print(f"[red]error:[/red] {type(e).__name__}: {first} (set SYNCLINE_DEBUG=1 for details)",
                  highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
