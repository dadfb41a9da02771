"""Rich terminal rendering of an evaluation (presentation only): per slice, the headline numbers
with their intervals and sample sizes; the gates; the gaps that survived multiple comparisons."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _cell(m: dict[str, Any] | None, pct: bool = True) -> str:
    if m is None or m["value"] is None:
        return "—"

    def f(x: float, digits: int) -> str:
        return f"{100 * x:.{digits}f}" if pct else f"{x:.3g}"

    iv = f" [{f(m['lo'], 0)}–{f(m['hi'], 0)}]" if m["lo"] is not None and m["hi"] is not None else ""
    return f"{f(m['value'], 1)}{iv}"


def evaluation_of(report: dict[str, Any]) -> dict[str, Any]:
    """The first (A's) evaluation of a report."""
    return dict(report["evaluations"][0])


def print_eval(console: Console, ev: Any, *, focus: str | None = None) -> None:
    """An evaluation (``Evaluation`` or its JSON): the slice table, the gates, the gaps."""
    d = ev.to_json() if hasattr(ev, "to_json") else ev
    by = {(m["slice"], m["metric"], m["label"]): m for m in d["metrics"]}
    focus = focus or d["classes"][0]
    console.print(f"evaluation {d['eval_id'][:12]} of run {d['run_id'][:12]} on {d['field']!r} ({d['split']} split); "
                  f"95 % intervals in brackets, n = labelled rows", highlight=False)
    for note in d["notes"]:
        console.print(f"  note: {note}", highlight=False)
    t = Table("slice", "n", "accuracy %", f"recall {focus} %", "cost/decision", "abstain %", "ECE")
    for s in d["slices"]:
        name = s["name"]
        if s["rows"] == 0:
            continue
        n = f"{s['labelled']}" + (" (too few)" if s["too_small"] else "")
        t.add_row(name, n, _cell(by.get((name, "accuracy", None))), _cell(by.get((name, "recall", focus))),
                  _cell(by.get((name, "cost_per_decision", None)), False),
                  _cell(by.get((name, "abstain_rate", None))), _cell(by.get((name, "ece", None)), False))
    console.print(t)
    if d["gates"]:
        g = Table("gate", "slice", "verdict", "value [interval]", "why")
        for r in d["gates"]:
            colour = {"pass": "green", "fail": "red"}.get(r["verdict"], "yellow")
            iv = "—" if r["value"] is None else f"{r['value']:.4g}" + (
                f" [{r['lo']:.4g}, {r['hi']:.4g}]" if r["lo"] is not None and r["hi"] is not None else "")
            why = "" if r["verdict"] in ("pass", "fail") else r["why"]  # the interval says why
            g.add_row(r["gate"], r["slice"], f"[{colour}]{r['verdict']}[/{colour}]", iv, why)
        console.print(g)
    if d["gaps"]:
        console.print(f"{len(d['gaps'])} gap(s) where a slice is worse than the rest (Fisher's exact test, "
                      "Benjamini–Hochberg q < 0.05):")
        for gap in d["gaps"][:8]:
            label = f" on {gap['label']}" if gap["label"] else ""
            console.print(f"  {gap['slice']}: {gap['metric']}{label} {100 * gap['inside']:.1f} % inside vs "
                          f"{100 * gap['outside']:.1f} % outside (n {gap['n_inside']} vs {gap['n_outside']}; "
                          f"h = {gap['cohens_h']:+.2f}, q = {gap['q']:.2g})", highlight=False)
    else:
        console.print("no slice is significantly worse than the rest (Benjamini–Hochberg q < 0.05)")
    found = [f for f in d.get("discovered", []) if f["explained_by"] is None]
    if found:
        console.print("slices found by search (one or two conditions on the catalog's columns; q over every "
                      "candidate tried) — add them to task.yaml's slices to track them:")
        for f in found[:5]:
            console.print(f"  {f['where']}: error {100 * f['error_rate']:.1f} % [{100 * f['lo']:.0f}–"
                          f"{100 * f['hi']:.0f}] vs {100 * f['rest_error_rate']:.1f} % elsewhere (n {f['n']}, "
                          f"q = {f['q']:.2g})", highlight=False)


def print_diagnostics(console: Console, d: dict[str, Any]) -> None:
    """The commonest confusions with a moment to look at, clusters of errors, and the next data."""
    diag = d.get("diagnostics") or {}
    for p in diag.get("confusion_pairs", [])[:3]:
        ex = p["examples"][0] if p["examples"] else None
        where = f" — e.g. {ex['entity_id']} at {ex['t0_s']}–{ex['t1_s']} s" if ex and ex["t0_s"] is not None else ""
        console.print(f"  confusion: {p['truth']} answered {p['answer']} {p['count']} times "
                      f"({100 * p['share_of_truth']:.0f} % of {p['truth']}){where}", highlight=False)
    cl = diag.get("error_clusters") or {}
    for c in cl.get("clusters", [])[:3]:
        over = ", ".join(o["slice"] for o in c["over_represented"]) or "no slice in particular"
        console.print(f"  error cluster {c['cluster']}: {c['rows']} segments err {100 * c['error_rate']:.0f} % vs "
                      f"{100 * c['rest_error_rate']:.0f} % elsewhere; mostly {over}", highlight=False)
    if cl.get("note"):
        console.print(f"  error clusters: {cl['note']}", highlight=False)
    att = diag.get("attribution") or {}
    wrong = att.get("wrong")
    if wrong and wrong["rows"]:
        console.print(f"  wrong decisions by the stage that went wrong first ({wrong['rows']}): " + "; ".join(
            f"{c['cause']} {c['rows']} ({100 * c['share']:.0f} %)" for c in wrong["causes"][:4]), highlight=False)
    req = diag.get("data_request", [])
    if req:
        console.print("next data:")
        for r in req[:6]:
            rows = "" if r["rows"] is None else f"{r['rows']} rows: "
            console.print(f"  [{r['priority']}] {r['action']} {r['where']} — {rows}{r['why']}", highlight=False)


def print_answers(console: Console, a: dict[str, Any]) -> None:
    """The report's five answers, one line each with its first reasons."""
    console.print(f"which model: run {a['which_model']['run_id'][:12]} — {a['which_model']['why']}"
                  + (f"; {a['which_model']['paired']}" if "paired" in a["which_model"] else ""), highlight=False)
    for key, q in (("is_it_safe", "is it safe"), ("is_it_ready", "is it ready"), ("can_we_deploy", "can we deploy")):
        console.print(f"{q}: {a[key]['answer']} — {'; '.join(a[key]['why'][:3])}", highlight=False)
    m = a["what_to_monitor"]
    console.print(f"what to monitor: each slice's share, abstain and no-answer rates against this baseline; "
                  f"slices with gaps: {', '.join(m['slices_with_gaps']) or 'none'}", highlight=False)


def print_compare(console: Console, r: dict[str, Any]) -> None:
    console.print(f"A = run {r['a'][:12]} against B = run {r['b'][:12]} on {r['field']!r} ({r['split']} split): "
                  f"{r['paired_rows']} targets both answered; differences are B − A with 95 % paired-bootstrap "
                  "intervals", highlight=False)
    for note in r["notes"]:
        console.print(f"  note: {note}", highlight=False)
    t = Table("slice", "n", "A right, B wrong", "A wrong, B right", "McNemar p", "Δ accuracy %", "Δ cost/decision")

    def d(x: dict[str, Any] | None, pct: bool) -> str:
        if not x or x["b_minus_a"] is None:
            return "—"
        def f(v: float) -> str:
            return f"{100 * v:+.1f}" if pct else f"{v:+.3g}"

        return f"{f(x['b_minus_a'])} [{f(x['lo'])}, {f(x['hi'])}]" if x["lo"] is not None else f(x["b_minus_a"])

    for s in r["slices"]:
        if s["n"] == 0:
            continue
        p = "—" if s["mcnemar_p"] is None else f"{s['mcnemar_p']:.2g}"
        t.add_row(s["slice"], str(s["n"]), str(s["a_right_b_wrong"]), str(s["a_wrong_b_right"]), p,
                  d(s["deltas"].get("accuracy"), True), d(s["deltas"].get("cost_per_decision"), False))
    console.print(t)


def print_monitor(console: Console, res: dict[str, Any]) -> None:
    console.print(f"batch {res['batch_run'][:12]} ({res['rows']['batch']} rows) against baseline "
                  f"{res['baseline_run'][:12]} ({res['rows']['baseline']} rows): PSI over regimes {res['psi']:.3f}; "
                  f"{len(res['alerts'])} alert(s)", highlight=False)
    for a in res["alerts"]:
        if a["check"] == "psi":
            console.print(f"  ALERT overall: the mix of regimes moved (PSI {a['effect']:.3f})", highlight=False)
        else:
            console.print(f"  ALERT {a['slice']}: {a['check']} {a['baseline']:.3g} -> {a['batch']:.3g} "
                          f"(q = {a['q']:.2g})", highlight=False)


def print_redteam(console: Console, res: dict[str, Any]) -> None:
    """Per perturbation, overall and for each slice that has rows: accuracy change against the
    clean run (paired), decisions flipped and lost."""
    console.print(f"red team of run {res['run_id'][:12]} on {res['field']!r}: each perturbation re-runs the pipeline; "
                  "Δ accuracy is perturbed − clean on the same labelled targets (95 % paired BCa interval)",
                  highlight=False)
    for note in res.get("notes", []):
        console.print(f"  note: {note}", highlight=False)
    t = Table("perturbation", "slice", "n", "Δ accuracy %", "McNemar p", "flipped %", "lost %")
    for r in res["perturbations"]:
        changes = {c["slice"]: c for c in r["changes"]}
        for s in r["paired"]:
            ch = changes.get(s["slice"], {})
            if (s["n"] == 0 and not ch.get("answered_clean")) or " & " in s["slice"]:
                continue  # intersections are in the report and --json
            d = s["deltas"].get("accuracy") or {}
            acc = "—" if d.get("b_minus_a") is None else (
                f"{100 * d['b_minus_a']:+.1f}" + (f" [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]"
                                                   if d.get("lo") is not None else ""))
            pv = "—" if s["mcnemar_p"] is None else f"{s['mcnemar_p']:.2g}"
            fl = "—" if ch.get("flip_rate") is None else f"{100 * ch['flip_rate']:.1f}"
            lo = "—" if ch.get("lost_rate") is None else f"{100 * ch['lost_rate']:.1f}"
            t.add_row(r["perturbation"], s["slice"], str(s["n"]), acc, pv, fl, lo)
    console.print(t)
