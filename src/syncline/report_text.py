"""Rich terminal rendering of ingest summaries and inventories (presentation only)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from syncline.ingest import IngestSummary
from syncline.inventory import Inventory


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def print_ingest(console: Console, s: IngestSummary) -> None:
    mods = ", ".join(f"{m} {n}" for m, n in sorted(s.by_modality.items()))
    console.print(
        f"ingested [bold]{s.new_assets}[/bold] new assets ({_bytes(s.bytes_new)}), "
        f"{s.known_assets} already known, {s.duplicate_files} duplicate files, "
        f"[bold]{len(s.quarantined)}[/bold] quarantined — {s.files_seen} files in {s.elapsed_s:.1f} s")
    if mods:
        console.print(f"  by modality: {mods}; entities: {s.entities}; events: {s.events}")
    for note in s.moved:
        console.print(f"  [yellow]re-filed[/yellow] {escape(note)}", highlight=False)
    for path in s.manifest_missing:
        console.print(f"  [yellow]missing[/yellow] {escape(path)}: listed in the manifest but not found; "
                      "check the path or remove the row", highlight=False)
    for q in s.quarantined:
        console.print(f"  [yellow]quarantined[/yellow] ({escape(q.kind)}) {escape(q.path)}", highlight=False)
        console.print(f"      {escape(q.reason)}", highlight=False)


def print_inventory(console: Console, inv: Inventory) -> None:
    t = Table(title="Modalities", title_justify="left")
    for col in ("modality", "assets", "entities", "hours", "bytes"):
        t.add_column(col, justify="left" if col == "modality" else "right")
    for row in inv.modalities:
        t.add_row(str(row["modality"]), str(row["assets"]), str(row["entities"]),
                  f"{float(row['hours']):.3f}", _bytes(float(row["bytes"] or 0)))
    console.print(t)

    mods = sorted({m for ms in inv.coverage.values() for m in ms})
    c = Table(title="Coverage (entity x modality)", title_justify="left")
    c.add_column("entity")
    for mod in mods:
        c.add_column(mod[:5], justify="center")
    for e, have in inv.coverage.items():
        c.add_row(e, *("[green]●[/green]" if m in have else ("[red]✗[/red]" if m in inv.required else "·")
                      for m in mods))
    console.print(c)

    req = ", ".join(inv.required) or "(none: no task spec)"
    console.print(f"required modalities: {req}")
    console.print(f"hours of files: [bold]{inv.hours_of_files:.3f}[/bold]   "
                  f"aligned hours (all required at once): [bold]{inv.aligned_hours:.3f}[/bold]   "
                  f"complete entities: {len(inv.complete_entities)}/{len(inv.coverage)}")
    for e, missing in inv.missing.items():
        console.print(f"  [red]gap[/red] {escape(e)}: missing {', '.join(missing)}")
    for e, ms in inv.missing_streams.items():
        console.print(f"  [yellow]gap[/yellow] {e}: no {', '.join(ms)} (most entities have it)")
    for e, h in inv.unaligned_hours_by_entity.items():
        console.print(f"  [yellow]gap[/yellow] {e}: {h * 3600:.1f} s recorded without every required modality")
    judged = [b for b in inv.context if not b.too_few]
    if judged:
        console.print("capture conditions per modality:")
    for b in judged:
        flag = "[red]imbalanced[/red]" if b.imbalanced else "ok"
        counts = ", ".join(f"{k} {v}" for k, v in b.counts.items())
        console.print(f"  {b.modality} {b.key}: {counts} (max/min {b.ratio:g}, entropy {b.entropy:.2f}) {flag}")
    if len(judged) < len(inv.context):
        console.print(f"  ({len(inv.context) - len(judged)} more splits over fewer than 10 assets: too few to judge; "
                      "see --json)")
    if inv.quarantined:
        console.print(f"quarantined files: {inv.quarantined} (see `syncline ingest` output or the quarantine table)")
    if inv.consent:
        console.print("consent: " + ", ".join(f"{k} {v}" for k, v in sorted(inv.consent.items()))
                      + " subject(s) (syncline consent list)")
    for r in inv.privacy_register:
        state = "[red]open[/red]" if r["open"] else "mitigated"
        console.print(f"privacy risk ({state}): {' + '.join(r['signals'])} could reveal {r['reveals']} of "
                      f"{escape(r['about'])}" + ("" if r["open"] else f" — {escape(r['mitigation'])}"))
    for n in inv.notes:
        console.print(f"[yellow]note[/yellow] {n}")
    if inv.png:
        console.print(f"coverage plot: {inv.png}")


def print_align(console: Console, report: Any) -> None:
    mode = "applied" if report.applied else "detect only"
    console.print(f"[bold]alignment run {report.run_id[:12]}[/bold] ({mode})")
    colour = {"aligned": "green", "ambiguous": "yellow", "abstain": "dim", "no_plausible_alignment": "red"}
    entity = None
    for r in report.results:
        e = r.estimate
        if r.entity_id != entity:
            entity = r.entity_id
            console.print(f"  {escape(entity)}")
        moved = r.target_path if r.moved_id == r.target_id else r.reference_path
        lag = "" if e.lag_ns is None else f" lag {e.lag_ns / 1e9:+.3f} s"
        unc = "" if e.uncertainty_ns is None or e.lag_ns is None else f" ±{e.uncertainty_ns / 1e6:.1f} ms"
        drift = "" if e.drift_ppm is None or e.lag_ns is None else f", drift {e.drift_ppm:+.1f} ppm"
        console.print(f"    {r.kind:<16} {escape(moved.rsplit('/', 1)[-1]):<40} "
                      f"[{colour.get(str(e.verdict), 'white')}]{e.verdict}[/]{lag}{unc}{drift}", highlight=False)
        if str(e.verdict) != "aligned":
            console.print(f"      {escape(e.reason)}", highlight=False, style="dim")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts().items()))
    console.print(f"verdicts: {counts}")
    console.print(f"aligned hours (required modalities overlapping): before {report.aligned_hours_before:.4f}, "
                  f"after {report.aligned_hours_after:.4f}; verified in sync: {report.verified_hours_after:.4f}")
    if not report.applied:
        console.print("detect only: re-run with --apply to record the aligned corrections in the clocks")


def print_subjects(console: Console, rows: list[dict[str, Any]]) -> None:
    if not rows:
        console.print("no subjects: the manifest declares none and no asset lists one")
        return
    for r in rows:
        scope = ",".join(r.get("scope") or []) or "-"
        console.print(f"  {escape(str(r['subject_id'])):<20} {r.get('status') or 'no record':<10} scope {scope:<30} "
                      f"{r.get('jurisdiction') or '-':<6} {r['assets']} asset(s)", highlight=False)


def print_withdrawal(console: Console, data: dict[str, Any]) -> None:
    """What a withdrawal removed (or, in a dry run, would remove) and what it flagged."""
    verb = "would remove" if data["dry_run"] else "removed"
    console.print(f"[bold]consent withdrawal[/bold] (subject key {data['subject_hash'][:12]}, "
                  f"{'dry run' if data['dry_run'] else 'done'} in {data['elapsed_s']} s)")
    if data.get("finished_earlier"):
        console.print("  already withdrawn earlier; finished what was left (old versions, leftover media)")
        return
    assets = data.get("assets", [])
    by_mod: dict[str, int] = {}
    for a in assets:
        by_mod[a["modality"]] = by_mod.get(a["modality"], 0) + 1
    console.print(f"  {verb}: {len(assets)} asset(s) ({', '.join(f'{m} {n}' for m, n in sorted(by_mod.items()))})")
    rows = data.get("rows", {})
    console.print(f"  {verb}: {sum(rows.values())} catalog row(s): "
                  + ", ".join(f"{t} {n}" for t, n in rows.items()), highlight=False)
    console.print(f"  {verb}: {len(data.get('media_files', []))} media file(s) (managed copies and sidecars)")
    for f in data.get("files", []):
        console.print(f"  {verb}: {escape(f)}", highlight=False)
    for name in data.get("indexes", []):
        console.print(f"  {verb}: segment index {name} (rebuild it: syncline index build)", highlight=False)
    if data.get("runs_flagged"):
        console.print(f"  {'would flag' if data['dry_run'] else 'flagged'} for re-run or retraining: "
                      f"{len(data['runs_flagged'])} run(s) " + ", ".join(r[:12] for r in data["runs_flagged"]))
    outside = data.get("source_files_outside_project", [])
    if outside:
        console.print(f"  outside the project (not touched; delete them at the source): {len(outside)} file(s)")
    if not data["dry_run"]:
        console.print("  old table versions removed; ingest will refuse these files and this subject from now on")


def print_retention(console: Console, data: dict[str, Any]) -> None:
    verb = "would purge" if data["dry_run"] else "purged"
    expired = data["expired"]
    console.print(f"[bold]retention[/bold] at {data['now_utc']}: {len(expired)} file(s) past their period "
                  f"({'dry run' if data['dry_run'] else 'done'} in {data['elapsed_s']} s)")
    for a in expired:
        console.print(f"  {verb}: {a['modality']} {a['asset_id'][:12]} of {escape(str(a['entity_id']))} — "
                      f"{a['age_days']} days old, kept at most {a['days']}", highlight=False)
    fp = data.get("footprint")
    if fp:
        rows = fp.get("rows", {})
        console.print(f"  {verb}: {sum(rows.values())} derived catalog row(s), {len(fp['media_files'])} media "
                      f"file(s), {len(fp['files'])} export/report file(s); {len(fp['runs_flagged'])} run(s) flagged")
    if data["undated"]:
        console.print(f"  [yellow]kept[/yellow]: {len(data['undated'])} file(s) with a period but no capture or "
                      "start time: their age is unknown (give start times in the manifest)")


def print_stage_blocks(console: Console, stage: str, rows: list[dict[str, Any]]) -> None:
    n = len({r["asset_id"] for r in rows})
    console.print(f"{n} asset(s) may not be used for {stage}" + (":" if rows else ""))
    for r in rows:
        who = f" ({escape(str(r['subject_id']))})" if r["subject_id"] else ""
        console.print(f"  {r['asset_id'][:12]}{who}: {escape(r['reason'])}", highlight=False)


def print_agreement(console: Console, report: Any) -> None:
    """The field's agreement overall, then per slice; per annotator under each."""
    for part in [report, *report.slices]:
        lo, hi = part.interval
        what = "Krippendorff's alpha" if part.measure == "krippendorff_alpha" else "matched F1 (IoU >= 0.5)"
        where = f" [cyan]{escape(part.slice)}[/cyan]" if part.slice else ""
        console.print(f"[bold]{escape(part.field_name)}[/bold]{where} ({part.level}): {part.targets} target(s), "
                      f"{len(part.annotators)} annotator(s); {what} {part.value:.3f} [95% {lo:.3f}, {hi:.3f}]")
        for r in sorted(part.per_annotator, key=lambda r: r["score"] if r["score"] == r["score"] else -9):
            klo, khi = r["interval"]
            vs = "kappa vs the others' majority" if r["measure"].startswith("kappa") else "F1 vs the others"
            console.print(f"  {escape(r['annotator']):<16} {vs} {r['score']:.3f} "
                          f"[95% {klo:.3f}, {khi:.3f}] on {r['targets']} target(s)", highlight=False)


def print_audit(console: Console, report: Any, project: Any, *, limit: int = 12) -> None:
    """Per check: ran or why not, findings by severity and kind, the first findings in full."""
    colour = {"error": "red", "warning": "yellow", "info": "cyan"}
    for r in report.results:
        if not r.ran:
            console.print(f"[bold]{escape(r.check)}[/bold]: did not run — {escape(str(r.why_not))}")
            continue
        counts = ", ".join(f"{n} {s}" for s, n in sorted(r.to_json()["by_severity"].items())) or "no findings"
        console.print(f"[bold]{escape(r.check)}[/bold]: {counts}")
        for kind, n in r.summary.get("by_check", {}).items():
            console.print(f"  {escape(kind):<28} {n}", highlight=False)
        for f in sorted(r.findings, key=lambda f: ("error", "warning", "info").index(f.severity))[:limit]:
            c = colour[f.severity]
            console.print(f"  [{c}]{f.severity:<7}[/{c}] {escape(f.message)}", highlight=False)
            console.print(f"          → {escape(f.action)}", highlight=False)
        if len(r.findings) > limit:
            console.print(f"  … {len(r.findings) - limit} more (syncline audit --json, or the findings table)")
        for e in r.errors:
            console.print(f"  [red]unreadable[/red] {escape(e)}", highlight=False)
    console.print(f"audit run {report.run_id[:12]} in {report.seconds:.1f} s")


def print_embed(console: Console, report: Any) -> None:
    t = Table("representation", "embedded now", "already", "no media", "failed", "vectors written")
    for rid, c in report.representations.items():
        t.add_row(rid, str(c["embedded"]), str(c["already"]), str(c["no_media"]), str(c["failed"]), str(c["vectors"]))
    console.print(t)
    for e in report.errors:
        console.print(f"  [red]failed[/red] {escape(e)}", highlight=False)


def print_representations(console: Console, rows: list[dict[str, Any]]) -> None:
    t = Table("representation", "modality", "dim", "config", "vectors", "assets", "runs using it", "heads using it")
    for r in rows:
        t.add_row(r["representation_id"], r["modality"], str(r["dim"]), r["config_hash"], str(r["vectors"]),
                  str(r["assets"]), ", ".join(x[:12] for x in r["runs"]) or "-", ", ".join(r.get("heads", [])) or "-")
    console.print(t)


def print_similar(console: Console, res: dict[str, Any]) -> None:
    console.print(f"like {res['segment_id']} ({res['entity_id']} {res['t0_ns'] / 1e9:.1f}-{res['t1_ns'] / 1e9:.1f} s) "
                  f"on {', '.join(res['representations'])}; {res['segments_searched']} segments searched"
                  + (f" (index {res['index']}, {'exact scan' if res['exact'] else 'IVF_PQ probe'})"
                     if "index" in res else ""),
                  highlight=False)
    t = Table("score", "segment", "entity", "from s", "to s")
    for r in res["similar"]:
        t.add_row(f"{r['score']:.3f}", r["segment_id"], r["entity_id"], f"{r['t0_ns'] / 1e9:.1f}",
                  f"{r['t1_ns'] / 1e9:.1f}")
    console.print(t)


def print_barn_pipeline(console: Console, r: dict[str, Any]) -> None:
    t = Table("stage", "model", "trained on", "out-of-fold balanced acc.", "segments: ok / fallback / skipped / "
              "abstained / failed")
    for name, st in r["stage_status"].items():
        head = r["heads"].get(name, {})
        score = head.get("out_of_fold_balanced_accuracy")
        t.add_row(name, head.get("model_id", r.get("uses", {}).get(name, "")), str(head.get("rows", "-")),
                  "-" if score is None else f"{score:.2f} (chance {1 / len(head['classes']):.2f})",
                  " / ".join(str(st.get(k, 0)) for k in ("ok", "fallback", "skipped", "abstained", "failed")))
    console.print(t)
    routes = ", ".join(f"{k} {v}" for k, v in sorted(r["routes"].items()))
    rate, cap = r["review_rate"], r["max_review_rate"]
    over = "" if rate is None or rate <= cap else " — over the task's budget: the heads are not ready"
    console.print(f"      {r['segments']} segments → {routes}; review rate {rate} (task allows {cap}){over}",
                  highlight=False)
    console.print("      not decided: " + ", ".join(f"{why} {n}" for why, n in r["not_decided"].items()),
                  highlight=False)
    tst = r["test"]
    console.print(f"      held-out stall-days (test split): {tst['decided']} of {tst['labelled']} labelled segments "
                  f"decided, {tst['agree_with_labels']} agree with the labels' consensus", highlight=False)


def print_run(console: Console, res: Any) -> None:
    console.print(f"run {res.run_id}: {res.segments} segments ({res.done_before} done before) in {res.seconds} s; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(res.routes.items())), highlight=False)
    t = Table("stage", "ok", "fallback", "skipped", "abstained", "failed", "seconds")
    for name, st in res.stage_status.items():
        t.add_row(name, *(str(st.get(k, 0)) for k in ("ok", "fallback", "skipped", "abstained", "failed")),
                  f"{res.stage_seconds.get(name, 0.0):.3f}")
    console.print(t)


def print_plan(console: Console, r: dict[str, Any]) -> None:
    e, m, b = r["estimate"], r["media"], r["budget"]
    console.print(f"per decision ({r['window_s']:g} s window of {m['width']}x{m['height']} @ {m['fps']:g} fps video, "
                  f"{m['audio_rate']} Hz x {m['audio_channels']} audio) on {r['device']}:", highlight=False)
    console.print(f"  decoded {e['decoded_mb']:.1f} MB; {e['frames']:g} frames -> {e['video_tokens']:g} video + "
                  f"{e['audio_tokens']:g} audio tokens; {e['params_m']:.1f} M parameters, {e['gflops']:.2f} GFLOP, "
                  f"{e['memory_gb']:.3f} GiB; {e['latency_ms']:.1f} ms ({e['throughput_per_s']:.1f}/s), "
                  f"{e['usd_per_1000']:.4f} per 1000", highlight=False)
    console.print("  budget: " + ", ".join(f"{k} {'ok' if v else 'OVER'} ({b[k]})" for k, v in r["fits"].items()),
                  highlight=False)
    for note in r.get("notes", []):
        console.print(f"  note: {note}", highlight=False)
    if r["reductions"]:
        t = Table("reduction", "fits", "latency ms", "memory GiB", "tokens", "per 1000")
        for o in r["reductions"]:
            t.add_row(o["change"], "yes" if o["fits"] else "no", f"{o['latency_ms']:.1f}", f"{o['memory_gb']:.3f}",
                      f"{o['tokens']:g}", f"{o['usd_per_1000']:.4f}")
        console.print(t)
    if "run" in r:
        run = r["run"]
        console.print(f"  run {run['run_id'][:12]} recorded: per-segment latency median {run['latency_ms']['median']} "
                      f"ms, p95 {run['latency_ms']['p95']} ms; " + ", ".join(
                          f"{s['stage']} {s['ms_per_segment']:.4f} ms / {s['bytes_per_segment']:.0f} B"
                          for s in run["stages"]), highlight=False)
