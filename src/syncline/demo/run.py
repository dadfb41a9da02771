"""The main job on the embedded default: world → init → ingest → inventory → align → segment
→ tuples → annotation → audit → the barn pipeline → a consent withdrawal (dry run, purge, proof)
→ the evaluation report (with its red team), and where to look next.

``syncline demo DIR`` writes the generated farm world to ``DIR/world`` (data, manifest and the
ground truth) and the project to ``DIR/project``. The product's logic never reads the ground
truth; only the last report step does (``demo.scorecard``), to show found against planted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

REDTEAM = ["drop:audio", "swap:audio", "shift:audio:0.5", "noise:video:1", "media:audio:rain"]  # the report's red team


def run_demo(path: Path, *, seed: int = 7, console: Console | None = None,
             rates: dict[str, float] | None = None) -> dict[str, Any]:
    from syncline.align.run import align
    from syncline.align.segment import run_segmenters
    from syncline.align.tuples import build_tuples, export_webdataset
    from syncline.audit.run import run_audit
    from syncline.demo.audit_card import audit_card, print_audit_card
    from syncline.demo.barn_pipeline import barn_pipeline
    from syncline.demo.scorecard import alignment_scorecard, print_scorecard
    from syncline.demo.world import generate_world
    from syncline.evaluate.console import evaluation_of, print_answers, print_diagnostics, print_eval, print_redteam
    from syncline.evaluate.report import build_report
    from syncline.govern.consent import list_subjects
    from syncline.govern.purge import withdraw
    from syncline.govern.verify import verify
    from syncline.ingest import ingest
    from syncline.inventory import build_inventory
    from syncline.project import init_project
    from syncline.report_text import (
        print_align,
        print_audit,
        print_barn_pipeline,
        print_ingest,
        print_inventory,
        print_withdrawal,
    )

    say = console.print if console else (lambda *a, **k: None)
    t0 = time.monotonic()
    path = Path(path)
    world_dir = path / "world"
    say(f"[bold]1/11[/bold] generating the farm world (seed {seed}) in {world_dir} …")
    world = generate_world(world_dir, seed=seed, rates=rates)
    t_world = time.monotonic() - t0
    say(f"      done in {t_world:.1f} s")

    project_dir = path / "project"
    say(f"[bold]2/11[/bold] syncline init {project_dir} --template farm")
    project = init_project(project_dir, template="farm")

    say(f"[bold]3/11[/bold] syncline ingest {world.out_dir / 'data'} --manifest {world.manifest_path}")
    summary = ingest(project, [world.out_dir / "data"], manifest_path=world.manifest_path)
    if console:
        print_ingest(console, summary)

    say("[bold]4/11[/bold] syncline inventory")
    inv = build_inventory(project)
    if console:
        print_inventory(console, inv)

    say("[bold]5/11[/bold] syncline align --apply   (offsets and drift; abstains when unsure)")
    report = align(project, apply=True)
    if console:
        print_align(console, report)
    card = alignment_scorecard(report, world.ground_truth_path, world.out_dir)
    if console:
        print_scorecard(console, card)

    say("[bold]6/11[/bold] syncline segment --by fixed --by cues --by events; syncline tuples --format webdataset")
    segments = run_segmenters(project, ["fixed", "cues", "events"], window_s=10.0)
    tuples = build_tuples(project, segmenter="fixed-10s@2")
    shards = export_webdataset(tuples, project.root / "exports" / "tuples")
    in_sync = sum(1 for v in tuples.column("in_sync").to_pylist() if v)
    say(f"      segments {segments}; {tuples.num_rows} ten-second tuples, {in_sync} in sync; "
        f"wrote {len(shards)} shard(s) to {shards[0].parent}")

    say("[bold]7/11[/bold] annotation: labels.yaml + guidelines.md from the team; syncline guidelines pilot, "
        "freeze; syncline segment --by fixed --window 2; syncline labels import; syncline grade; syncline "
        "agreement posture --by lighting; syncline gold posture --best; syncline split posture")
    annotation = annotate_step(project, world.out_dir, world.ground_truth_path, console)

    say("[bold]8/11[/bold] syncline audit   (media quality: black, frozen, blurred frames; silent, clipped audio; "
        "stuck, spiking, missing sensor rows; alignment; label noise; imbalance; leakage; splits; dominance)")
    audit = run_audit(project)
    if console:
        print_audit(console, audit, project)
    audit_score = audit_card(project, world.ground_truth_path)
    if console:
        print_audit_card(console, audit_score)

    say("[bold]9/11[/bold] the barn pipeline: locate (the animal, video) → see (posture) ‖ hear (calls, audio) ‖ "
        "temperature (the stall logger) → fuse → decide (the task's cost matrix and review policy; no microphone "
        "or logger → fuse on posture alone)")
    pipeline = barn_pipeline(project)
    if console:
        print_barn_pipeline(console, pipeline)

    withdrawals = []
    for subject in [r["subject_id"] for r in list_subjects(project) if r.get("status") == "withdrawn"]:
        say(f"[bold]10/11[/bold] the consent registry says {subject} withdrew: syncline consent withdraw {subject} "
            "--dry-run, then for real, then syncline consent verify")
        dry = withdraw(project, subject, dry_run=True).to_json(project.root)
        if console:
            print_withdrawal(console, dry)
        done = withdraw(project, subject).to_json(project.root)
        if console:
            print_withdrawal(console, done)
        proof = verify(project, subject).to_json()
        say(f"      verify: {'clean' if proof['clean'] else 'TRACES FOUND'} — {proof['files_scanned']} files "
            f"({proof['bytes_scanned'] / 1e6:.1f} MB) scanned, {proof['versions_read']} table versions read")
        withdrawals.append({"dry_run": dry, "withdrawn": done, "verify": proof})

    say(f"[bold]11/11[/bold] syncline report {pipeline['run_id'][:12]} " + " ".join(f"--perturb {p}" for p in REDTEAM)
        + "   (per slice with 95 % intervals: gates, gaps, calibration, slice search, diagnostics, red team; which "
        "model, is it safe, ready, deployable, what to monitor)")
    report_path = project.root / "reports" / "barn.html"
    final = build_report(project, [pipeline["run_id"]], report_path, perturbations=REDTEAM)
    if console:
        print_eval(console, evaluation_of(final))
        print_diagnostics(console, evaluation_of(final))
        print_redteam(console, final["redteam"])
        print_answers(console, final["answers"])
    say(f"      report: {report_path}")

    elapsed = time.monotonic() - t0
    say(f"\nfinished in {elapsed:.1f} s. Where to look next:")
    say(f"  • coverage plot:       {inv.png}")
    say(f"  • the catalog:         syncline inventory -p {project_dir} --json")
    say(f"  • alignment verdicts:  syncline align -p {project_dir} --json  (clocks and findings tables)")
    say(f"  • aligned tuples:      syncline tuples -p {project_dir} --segmenter fixed-10s@2 --json")
    say(f"  • the pipeline run:    traces and predictions of run {pipeline['run_id'][:12]} "
        f"(syncline representations -p {project_dir})")
    say(f"  • the task spec:       {project.task_path}  (syncline task check -p {project_dir})")
    say(f"  • the report:          {report_path}  (syncline report {pipeline['run_id'][:12]} -p {project_dir})")
    say(f"  • quarantined files:   {len(summary.quarantined)} — each with its reason above")
    say(f"  • the web app:         syncline serve -p {project_dir}  (timeline, labels, queues, findings, evaluation)")
    return {
        "world": str(world.out_dir), "project": str(project_dir), "elapsed_s": round(elapsed, 2),
        "world_s": round(t_world, 2), "ingest": summary.to_json(), "inventory": inv.to_json(),
        "align": report.to_json(), "scorecard": card, "segments": segments,
        "tuples": {"count": tuples.num_rows, "in_sync": in_sync, "shards": [str(s) for s in shards]},
        "audit": audit.to_json() | {"scorecard": audit_score}, "annotation": annotation, "pipeline": pipeline,
        "withdrawals": withdrawals, "report": {"html": str(report_path), "answers": final["answers"],
                                               "evaluation": final["evaluations"][0]},
    }


def annotate_step(project: Any, world_dir: Path, truth_path: Path, console: Console | None) -> dict[str, Any]:
    """The team's schema and guidelines go in, a pilot and a freeze, five annotators' labels,
    agreement per lighting slice, Dawid–Skene gold and a best-data export; then the scorecard."""
    import shutil
    from dataclasses import asdict

    from syncline.align.segment import run_segmenters
    from syncline.annotate.grading import best_data, gold, import_grades, write_best
    from syncline.annotate.guidelines import freeze, pilot
    from syncline.annotate.labels import import_jsonl
    from syncline.annotate.report import field_agreement
    from syncline.demo.annotation_card import annotation_card, print_annotation_card
    from syncline.report_text import print_agreement

    say = console.print if console else (lambda *a, **k: None)
    for name in ("labels.yaml", "guidelines.md"):
        shutil.copyfile(world_dir / "annotation" / name, project.root / name)
    run_segmenters(project, ["fixed"], window_s=2.0)
    chosen = pilot(project, n=12)
    version, _ = freeze(project)
    say(f"      pilot of {len(chosen)} windows covering the capture conditions; froze guidelines {version}")
    res = import_jsonl(project, world_dir / "annotation" / "labels.jsonl")
    say(f"      {res.written} labels written, {len(res.refused)} refused")
    graded = import_grades(project, world_dir / "annotation" / "grades.jsonl")
    say(f"      syncline grade: {graded.written} of crowd-c's labels reviewed by vet-g, {len(graded.refused)} refused")
    agreement = field_agreement(project, "posture", level="nominal", by="lighting")
    if console:
        print_agreement(console, agreement)
    g = gold(project, "posture")
    best = best_data(g, min_confidence=0.9)
    out = project.root / "exports" / "best_posture.parquet"
    write_best(best, out)
    say(f"      gold posture for {len(g.rows)} windows (Dawid-Skene); {len(best)} with confidence >= 0.9 "
        f"written to {out}")
    from syncline.splits import assign_splits

    counts = assign_splits(project, "posture", by="entity")
    say("      syncline split posture --by entity: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    card = annotation_card(project, agreement, g, truth_path)
    if console:
        print_annotation_card(console, card)
    return {"labels": res.written, "refused": len(res.refused), "guideline_version": version,
            "grades": graded.written, "grades_refused": len(graded.refused),
            "agreement": asdict(agreement), "gold": len(g.rows), "best": len(best), "scorecard": card}
