"""Rich terminal rendering of an evaluation (presentation only): per slice, the headline numbers
with their intervals and sample sizes; the gates; the gaps that survived multiple comparisons."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from syncline.evaluate.metrics import Metric


def _cell(m: Metric | None, pct: bool = True) -> str:
    if m is None or m.value is None:
        return "—"
    def f(x: float, digits: int) -> str:
        return f"{100 * x:.{digits}f}" if pct else f"{x:.3g}"

    iv = f" [{f(m.lo, 0)}–{f(m.hi, 0)}]" if m.lo is not None and m.hi is not None else ""
    return f"{f(m.value, 1)}{iv}"


def print_eval(console: Console, ev: Any, *, focus: str | None = None) -> None:
    by = {(m.slice, m.metric, m.label): m for m in ev.metrics}
    focus = focus or ev.classes[0]
    console.print(f"evaluation {ev.eval_id[:12]} of run {ev.run_id[:12]} on {ev.field!r} ({ev.split} split); "
                  f"95 % intervals in brackets, n = labelled rows", highlight=False)
    for note in ev.notes:
        console.print(f"  note: {note}", highlight=False)
    t = Table("slice", "n", "accuracy %", f"recall {focus} %", "macro F1", "cost/decision", "abstain %", "ECE")
    for s in ev.slices:
        name = s["name"]
        if s["rows"] == 0:
            continue
        n = f"{s['labelled']}" + (" (too few)" if s["too_small"] else "")
        t.add_row(name, n, _cell(by.get((name, "accuracy", None))), _cell(by.get((name, "recall", focus))),
                  _cell(by.get((name, "macro_f1", None)), False),
                  _cell(by.get((name, "cost_per_decision", None)), False),
                  _cell(by.get((name, "abstain_rate", None))), _cell(by.get((name, "ece", None)), False))
    console.print(t)
    if ev.gates:
        g = Table("gate", "slice", "verdict", "value [interval]", "why")
        for r in ev.gates:
            colour = {"pass": "green", "fail": "red"}.get(r.verdict, "yellow")
            iv = "—" if r.value is None else f"{r.value:.4g}" + (f" [{r.lo:.4g}, {r.hi:.4g}]" if r.lo is not None
                                                                and r.hi is not None else "")
            g.add_row(r.gate, r.slice, f"[{colour}]{r.verdict}[/{colour}]", iv, r.why)
        console.print(g)
    if ev.gaps:
        console.print(f"{len(ev.gaps)} gap(s) where a slice is worse than the rest (Fisher's exact test, "
                      "Benjamini–Hochberg q < 0.05):")
        for gap in ev.gaps[:8]:
            label = f" on {gap['label']}" if gap["label"] else ""
            console.print(f"  {gap['slice']}: {gap['metric']}{label} {100 * gap['inside']:.1f} % inside vs "
                          f"{100 * gap['outside']:.1f} % outside (n {gap['n_inside']} vs {gap['n_outside']}; "
                          f"h = {gap['cohens_h']:+.2f}, q = {gap['q']:.2g})", highlight=False)
    else:
        console.print("no slice is significantly worse than the rest (Benjamini–Hochberg q < 0.05)")


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
