"""``syncline report``: one self-contained HTML file (and its JSON) that answers five questions —
which model, is it safe, is it ready, can we deploy it, what do we monitor — from evaluations
per slice, never from one headline number.

* **Which model**: with several runs, the one with the lowest cost per decision among those
  whose gates do not fail, and the paired comparison (McNemar, paired bootstrap) that says
  whether the difference is real.
* **Is it safe**: the hard gates, per slice — any fail is a no; any undetermined is "not shown",
  with the rows it would take.
* **Is it ready**: safe, no task slice (or intersection of two) significantly worse than the
  rest (after Benjamini–Hochberg), none too small to judge, and no worse regime found by the
  slice search (``evaluate.discover``).
* **Can we deploy it**: ready, and within the task's budget and review policy (p95 latency,
  review rate against ``max_review_rate``).
* **What do we monitor**: the baselines ``syncline monitor`` compares production against — each
  slice's share of rows, abstain and no-answer rates, confidence — and the slices closest to
  breaking a gate.

Every figure is inline SVG (no script, no CDN) and its caption pins the data (table versions),
model, representations and task hash. The inventory's coverage plot is embedded when it exists.
"""

from __future__ import annotations

import base64
import json
import os
from html import escape
from pathlib import Path
from typing import Any

from syncline.evaluate import svg
from syncline.evaluate.compare import compare_runs
from syncline.evaluate.run import Evaluation, evaluate
from syncline.project import Project


def _by(ev: Evaluation) -> dict[tuple[str, str, str | None], Any]:
    return {(m.slice, m.metric, m.label): m for m in ev.metrics}


def answers(evals: list[Evaluation], comparison: dict[str, Any] | None, budget: Any, review: Any,
            red: dict[str, Any] | None = None) -> dict[str, Any]:
    by_cost = all(_by(e).get(("overall", "cost_per_decision", None)) is not None for e in evals)

    def rank(ev: Evaluation) -> float:
        """Lower is better; a run whose number is undefined (no labelled rows) ranks last."""
        m = _by(ev).get(("overall", "cost_per_decision" if by_cost else "accuracy", None))
        if m is None or m.value is None:
            return float("inf")
        return float(m.value) if by_cost else -float(m.value)

    passing = [e for e in evals if not any(g.verdict == "fail" for g in e.gates)]
    best = min(passing or evals, key=rank)
    what = "lowest cost per decision" if by_cost else "highest accuracy"
    which = {"run_id": best.run_id, "model": best.versions["model"],
             "why": ("the only run evaluated" if len(evals) == 1 else
                     f"{what} among the {len(passing)} run(s) whose gates do not fail" if passing
                     else f"{what} of the {len(evals)} runs; none passes its gates")}
    if rank(best) == float("inf") and len(evals) > 1:
        which["why"] = "no run has labelled rows to rank it by"
    if comparison:
        o = comparison["slices"][0]
        d = o["deltas"].get("cost_per_decision") or o["deltas"]["accuracy"]
        which["paired"] = (f"B − A on {o['n']} shared targets: {d['b_minus_a']:+.3g} [{d['lo']:+.3g}, {d['hi']:+.3g}]"
                           f"; McNemar p = {o['mcnemar_p']:.2g}" if d["lo"] is not None and o["mcnemar_p"] is not None
                           else "too few shared targets to compare")
    ev = best
    fails = [g for g in ev.gates if g.verdict == "fail"]
    unknown = [g for g in ev.gates if g.verdict == "undetermined"]
    safe = "no" if fails else "not shown" if unknown else "yes"
    safe_why = ([f"{g.gate} fails in {g.slice}: {g.why}" for g in fails[:5]] +
                [f"{g.gate} undetermined in {g.slice}: {g.why}" for g in unknown[:5]]) or ["every gate passes"]
    gaps = list(ev.gaps)  # a task slice or an intersection of two: both are regimes the task named
    small = [s["name"] for s in ev.slices if s["name"] != "overall" and " & " not in s["name"] and s["too_small"]]
    fragile = []
    for p in (red or {}).get("perturbations", []):
        o = p["paired"][0]["deltas"].get("accuracy") or {}
        if o.get("hi") is not None and o["hi"] < -0.05:
            fragile.append(f"red team {p['perturbation']}: accuracy {100 * o['b_minus_a']:+.1f} points "
                           f"[{100 * o['lo']:+.1f}, {100 * o['hi']:+.1f}]")
    ready = "yes" if safe == "yes" and not gaps and not small and not fragile and not any(
        f["explained_by"] is None for f in ev.discovered) else "no"
    found = [f for f in ev.discovered if f["explained_by"] is None]
    ready_why = ([f"slice {g['slice']}: {g['metric']}{' on ' + g['label'] if g['label'] else ''} "
                  f"{100 * g['inside']:.1f} % vs {100 * g['outside']:.1f} % elsewhere (q = {g['q']:.2g})"
                  for g in gaps[:5]] + [f"slice {s} has too few labelled rows to judge" for s in small[:5]]
                 + [f"found by search: {f['where']} errs {100 * f['error_rate']:.1f} % vs "
                    f"{100 * f['rest_error_rate']:.1f} % elsewhere (q = {f['q']:.2g})" for f in found[:3]]
                 + fragile
                 + ([] if safe == "yes" else [f"not safe ({safe})"])) or ["no slice is significantly worse"]
    by = _by(ev)
    lat = by.get(("overall", "p95_latency_ms", None))
    rev = by.get(("overall", "abstain_rate", None))  # what people must decide: the review volume
    checks = []
    if budget.p95_latency_ms and lat and lat.value is not None:
        ok = lat.hi is not None and lat.hi <= budget.p95_latency_ms  # unknown bound: not shown to fit
        bound = (f"95 % upper bound {lat.hi:.4g} ms" if lat.hi is not None else
                 f"too few rows ({lat.n}) for an upper bound on the 95th percentile")
        checks.append((ok, f"p95 latency {lat.value:.4g} ms ({bound}) against a budget of "
                           f"{budget.p95_latency_ms:g} ms"))
    if review.max_review_rate is not None and rev and rev.value is not None:
        ok = (rev.hi if rev.hi is not None else rev.value) <= review.max_review_rate
        checks.append((ok, f"review volume (rows not acted on) {100 * rev.value:.1f} % [{100 * (rev.lo or 0):.1f}, "
                           f"{100 * (rev.hi or 0):.1f}] against at most {100 * review.max_review_rate:g} %"))
    deploy = "yes" if ready == "yes" and all(ok for ok, _ in checks) else "no"
    deploy_why = [("ok: " if ok else "over: ") + t for ok, t in checks] + ([] if ready == "yes" else ["not ready"])
    monitor = []
    for s in ev.slices:
        if s["rows"] == 0:
            continue
        ab, rr = by.get((s["name"], "abstain_rate", None)), by.get((s["name"], "no_answer_rate", None))
        monitor.append({"slice": s["name"], "share": round(s["rows"] / max(1, ev.slices[0]["rows"]), 6),
                        "abstain_rate": ab.value if ab else None, "no_answer_rate": rr.value if rr else None})
    close = sorted((g for g in ev.gates if g.verdict == "pass" and g.value is not None and g.hi is not None),
                   key=lambda g: abs(g.hi - g.value))[:3]  # type: ignore[operator]
    return {"which_model": which,
            "is_it_safe": {"answer": safe, "why": safe_why},
            "is_it_ready": {"answer": ready, "why": ready_why},
            "can_we_deploy": {"answer": deploy, "why": deploy_why},
            "what_to_monitor": {"baselines": monitor,
                                "slices_with_gaps": sorted({g["slice"] for g in ev.gaps})[:10],
                                "slices_found_by_search": [f["where"] for f in ev.discovered
                                                           if f["explained_by"] is None][:5],
                                "gates_closest_to_failing": [f"{g.gate} in {g.slice}" for g in close]}}


def build_report(project: Project, run_ids: list[str], out: Path, *, field_name: str | None = None,
                 split: str = "auto", draws: int = 1000, perturbations: list[str] | None = None) -> dict[str, Any]:
    """Evaluate ``run_ids`` (the first is A of the comparison), answer the five questions, and
    write ``out`` (HTML) and ``out.with_suffix('.json')``."""
    from syncline.task.spec import load_task

    if not run_ids:
        raise ValueError("name at least one run to report on")
    out = Path(out)
    _check_writable(out)  # before anything is evaluated and stored
    spec = load_task(project.task_path)
    evals = [evaluate(project, r, field_name=field_name, split=split, draws=draws) for r in run_ids]
    comparison = (compare_runs(project, run_ids[0], run_ids[1], field_name=evals[0].field, split=split, draws=draws)
                  if len(run_ids) > 1 else None)
    red = None
    if perturbations:
        from syncline.evaluate.redteam import red_team

        red = red_team(project, run_ids[0], perturbations, draws=draws)
    result = {"answers": answers(evals, comparison, spec.budget, spec.review, red),
              "evaluations": [e.to_json() for e in evals], "comparison": comparison, "redteam": red}
    png = project.reports_dir / "coverage_upset.png"  # written by `syncline inventory`
    _write(out, _html(result, evals, png if png.exists() else None))
    _write(out.with_suffix(".json"), json.dumps(result, indent=1, sort_keys=True, default=str))
    return result


def _check_writable(out: Path) -> None:
    """ValueError naming ``out`` when the report (or its JSON) cannot be written there."""
    for path in (out, out.with_suffix(".json")):
        if path.is_dir():
            raise ValueError(f"--out {path} is a folder; name the report's HTML file, e.g. {path / 'report.html'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"--out {out}: cannot create its folder ({e.strerror}); choose a writable place") from None
    if not os.access(out.parent, os.W_OK):
        raise ValueError(f"--out {out}: its folder {out.parent} is not writable; choose a writable place")


def _write(path: Path, text: str) -> None:
    """Write through a temporary file, removed again if the write fails (no half-written report)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ValueError(f"cannot write {path}: {e.strerror}") from None


def _pin(ev: Evaluation) -> str:
    v = ev.versions
    tables = ", ".join(f"{k} v{n}" for k, n in sorted(v["tables"].items()) if k in ("predictions", "labels",
                                                                                     "segments", "assets"))
    model = " ".join(str(x) for x in v["model"] if x)
    return (f"evaluation {ev.eval_id[:12]} · run {ev.run_id[:12]} · model {model or '—'} · representations "
            f"{', '.join(v['representations']) or '—'} · task {str(v['task_hash'])[:12]} · data {tables}")


def _html(result: dict[str, Any], evals: list[Evaluation], png: Path | None) -> str:
    a = result["answers"]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>syncline evaluation report</title><style>"
             "body{font-family:sans-serif;max-width:980px;margin:24px auto;padding:0 12px;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "figure{display:inline-block;margin:8px}figcaption{font-size:11px;color:#555;max-width:640px}"
             ".yes{color:#070}.no{color:#b00}.not{color:#a60}</style></head><body>",
             "<h1>Evaluation report</h1>", "<h2>Five questions</h2><dl>"]
    w = a["which_model"]
    parts.append(f"<dt><b>Which model?</b></dt><dd>run {escape(w['run_id'][:12])} "
                 f"({escape(' '.join(str(x) for x in w['model'] if x))}): {escape(w['why'])}"
                 + (f"; {escape(w['paired'])}" if "paired" in w else "") + "</dd>")
    questions = (("is_it_safe", "Is it safe?"), ("is_it_ready", "Is it ready?"), ("can_we_deploy", "Can we deploy it?"))
    for key, q in questions:
        ans = a[key]["answer"]
        cls = "yes" if ans == "yes" else "not" if ans == "not shown" else "no"
        parts.append(f"<dt><b>{q}</b> <span class='{cls}'>{escape(ans)}</span></dt><dd><ul>"
                     + "".join(f"<li>{escape(x)}</li>" for x in a[key]["why"]) + "</ul></dd>")
    m = a["what_to_monitor"]
    parts.append("<dt><b>What do we monitor?</b></dt><dd>per slice, its share of the rows, abstain and no-answer rates "
                 "(baselines below, compared by <code>syncline monitor</code>); slices with gaps: "
                 f"{escape(', '.join(m['slices_with_gaps']) or 'none')}; gates closest to failing: "
                 f"{escape('; '.join(m['gates_closest_to_failing']) or 'none')}</dd></dl>")
    parts.append("<table><tr><th>slice</th><th>share</th><th>abstain rate (not acted on)</th><th>no answer</th></tr>"
                 + "".join(f"<tr><td>{escape(b['slice'])}</td><td>{_pct(b['share'])}</td>"
                           f"<td>{_pct(b['abstain_rate'])}</td><td>{_pct(b['no_answer_rate'])}</td></tr>"
                           for b in m["baselines"]) + "</table>")
    for ev in evals:
        parts.append(_evaluation_html(ev))
    if result.get("redteam"):
        parts.append(_redteam_html(result["redteam"]))
    if png is not None:
        data = base64.b64encode(png.read_bytes()).decode()
        parts.append("<h2>Inventory coverage</h2><figure><img alt='coverage matrix' style='max-width:940px' "
                     f"src='data:image/png;base64,{data}'><figcaption>the catalog's inventory plot "
                     "(syncline inventory)</figcaption></figure>")
    parts.append("</body></html>")
    return "".join(parts)


def _diagnostics_html(diag: dict[str, Any]) -> str:
    parts = ["<h3>What the errors look like</h3><table><tr><th>truth</th><th>answered</th><th>times</th>"
             "<th>moments to look at</th></tr>"]
    for p in diag.get("confusion_pairs", []):
        moments = "; ".join(f"{escape(str(e['entity_id']))} {e['t0_s']}–{e['t1_s']} s" if e["t0_s"] is not None
                            else escape(str(e["target_id"])) for e in p["examples"])
        parts.append(f"<tr><td>{escape(p['truth'])}</td><td>{escape(p['answer'])}</td><td>{p['count']} "
                     f"({_pct(p['share_of_truth'])})</td><td>{moments}</td></tr>")
    parts.append("</table>")
    cl = diag.get("error_clusters") or {}
    if cl.get("clusters"):
        reps = escape(", ".join(cl.get("representations", [])))
        parts.append(f"<p>Clusters of errors in representation space ({reps}):</p><ul>" + "".join(
                         f"<li>{c['rows']} segments err {_pct(c['error_rate'])} vs {_pct(c['rest_error_rate'])} "
                         f"elsewhere (q = {c['q']:.2g}); over-represented: "
                         f"{escape(', '.join(o['slice'] for o in c['over_represented']) or 'none')}</li>"
                         for c in cl["clusters"]) + "</ul>")
    elif cl.get("note"):
        parts.append(f"<p>Error clusters: {escape(cl['note'])}</p>")
    att = diag.get("attribution") or {}
    if att.get("wrong", {}).get("rows"):
        right = {c["cause"]: c for c in att.get("right", {}).get("causes", [])}
        parts.append("<h3>Which stage a wrong decision came from</h3><table><tr><th>cause</th><th>wrong decisions"
                     "</th><th>the same on right decisions</th></tr>" + "".join(
                         f"<tr><td>{escape(c['cause'])}</td><td>{c['rows']} ({_pct(c['share'])} [{_pct(c['lo'])}, "
                         f"{_pct(c['hi'])}])</td><td>{_pct(right[c['cause']]['share']) if c['cause'] in right else '—'}"
                         "</td></tr>" for c in att["wrong"]["causes"]) + "</table>")
    req = diag.get("data_request", [])
    if req:
        parts.append("<h3>Next data</h3><table><tr><th>priority</th><th>action</th><th>where</th><th>rows</th>"
                     "<th>why</th></tr>" + "".join(
                         f"<tr><td>{r['priority']}</td><td>{escape(r['action'])}</td><td>{escape(r['where'])}</td>"
                         f"<td>{'' if r['rows'] is None else r['rows']}</td><td>{escape(r['why'])}</td></tr>"
                         for r in req) + "</table>")
    return "".join(parts)


def _redteam_html(red: dict[str, Any]) -> str:
    rows = []
    for p in red["perturbations"]:
        changes = {c["slice"]: c for c in p["changes"]}
        for s in p["paired"]:
            d = s["deltas"].get("accuracy") or {}
            ch = changes.get(s["slice"], {})
            if s["n"] == 0 and not ch.get("answered_clean"):
                continue
            acc = "—" if d.get("b_minus_a") is None else f"{100 * d['b_minus_a']:+.1f}" + (
                f" [{100 * d['lo']:+.1f}, {100 * d['hi']:+.1f}]" if d.get("lo") is not None else "")
            rows.append(f"<tr><td>{escape(p['perturbation'])}</td><td>{escape(s['slice'])}</td><td>{s['n']}</td>"
                        f"<td>{acc}</td><td>{_pct(ch.get('flip_rate'))}</td><td>{_pct(ch.get('lost_rate'))}</td></tr>")
    notes = "".join(f"<p>Note: {escape(n)}</p>" for n in red.get("notes", []))
    return ("<h2>Red team</h2><p>Each perturbation re-ran the pipeline on the same segments; Δ accuracy is perturbed "
            "− clean on the same labelled targets (95 % paired BCa interval).</p>" + notes
            + "<table><tr><th>perturbation</th>"
            "<th>slice</th><th>n</th><th>Δ accuracy (points)</th><th>flipped</th><th>lost</th></tr>"
            + "".join(rows) + "</table>")


def _pct(v: float | None) -> str:
    return "" if v is None else f"{100 * v:.1f} %"


def _evaluation_html(ev: Evaluation) -> str:
    by = _by(ev)
    pin = escape(_pin(ev))
    focus = ev.classes[0]
    parts = [f"<h2>Run {escape(ev.run_id[:12])} — {escape(ev.field)} ({escape(ev.split)} split)</h2>"]
    gate_fnr = next((g for g in ev.gates if g.gate.startswith("false-negative rate on `" + focus)), None)
    for metric, label, title in (("accuracy", None, "accuracy per slice"),
                                 ("false_negative_rate", focus, f"false-negative rate on {focus} per slice")):
        rows = []
        for s in ev.slices:
            if " & " in s["name"] and s["rows"] == 0:
                continue  # an empty intersection says nothing; an empty task slice is listed ("no rows")
            mm = by.get((s["name"], metric, label))
            rows.append({"slice": s["name"], "value": mm.value if mm else None, "lo": mm.lo if mm else None,
                         "hi": mm.hi if mm else None, "n": mm.n if mm else 0,
                         "flag": any(g["slice"] == s["name"] for g in ev.gaps)})
        limit = gate_fnr.limit if metric == "false_negative_rate" and gate_fnr is not None else None
        parts.append(f"<figure>{svg.forest(rows, title=title, limit=limit)}<figcaption>95 % intervals (Wilson); "
                     f"red dots: slices significantly worse than the rest. {pin}</figcaption></figure>")
    parts.append("<h3>Gates</h3><table><tr><th>gate</th><th>slice</th><th>verdict</th><th>value</th><th>why</th></tr>"
                 + "".join(f"<tr><td>{escape(g.gate)}</td><td>{escape(g.slice)}</td><td>{escape(g.verdict)}</td>"
                           f"<td>{'' if g.value is None else f'{g.value:.4g}'}</td><td>{escape(g.why)}</td></tr>"
                           for g in ev.gates) + "</table>")
    if ev.discovered:
        parts.append("<h3>Slices found by search</h3><table><tr><th>where</th><th>n</th><th>error rate</th>"
                     "<th>elsewhere</th><th>q</th><th>explained by</th></tr>" + "".join(
                         f"<tr><td>{escape(f['where'])}</td><td>{f['n']}</td><td>{_pct(f['error_rate'])} "
                         f"[{_pct(f['lo'])}, {_pct(f['hi'])}]</td><td>{_pct(f['rest_error_rate'])}</td>"
                         f"<td>{f['q']:.2g}</td><td>{escape(f['explained_by'] or '')}</td></tr>"
                         for f in ev.discovered) + "</table>")
    parts.append(_diagnostics_html(ev.diagnostics))
    cal = ev.calibration.get("overall")
    if cal:
        ece = by.get(("overall", "ece", None))
        rc = cal["risk_coverage"]
        parts.append(f"<figure>{svg.reliability(cal['reliability'], title='reliability (overall)')}<figcaption>"
                     f"ECE {ece.value if ece else '—'} [{ece.lo if ece else ''}, {ece.hi if ece else ''}]. {pin}"
                     "</figcaption></figure>")
        fig = svg.curve(rc["coverage"], rc["risk"], title="risk–coverage (overall)", xlabel="coverage", ylabel="risk")
        parts.append(f"<figure>{fig}<figcaption>AURC {rc['aurc']}. {pin}</figcaption></figure>")
        for s in ev.slices:  # each task slice's own diagram: calibration can hold overall and fail at night
            name = s["name"]
            if name == "overall" or " & " in name or name not in ev.calibration:
                continue
            e = by.get((name, "ece", None))
            fig = svg.reliability(ev.calibration[name]["reliability"], title=f"reliability ({name})")
            parts.append(f"<figure>{fig}<figcaption>ECE {e.value if e else '—'} [{e.lo if e else ''}, "
                         f"{e.hi if e else ''}], n = {e.n if e else 0}. {pin}</figcaption></figure>")
    if ev.counts is not None:
        conf = ev.counts.confusion[0].tolist()
        fig = svg.confusion(ev.classes, conf, title="confusion (overall)")
        parts.append(f"<figure>{fig}<figcaption>truth in rows. {pin}</figcaption></figure>")
    return "".join(parts)
