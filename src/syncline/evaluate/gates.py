"""The task spec's hard gates against measured metrics: pass, fail, or undetermined.

A gate passes only when its whole 95 % interval lies on the right side of the limit, fails
when the whole interval lies on the wrong side, and is *undetermined* otherwise — a slice of 40
rows with no misses has not shown a false-negative rate under 2 %. An undetermined gate says how
many rows would decide it if the rate stayed what it is (``samples_to_decide``). A gate on a
label the evaluated field does not have (``animal_state.distressed`` when evaluating
``action``) is undetermined and says which predictions are missing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from syncline.evaluate.intervals import samples_to_decide
from syncline.evaluate.metrics import Metric
from syncline.task.gates import HardGate


@dataclass(frozen=True)
class GateResult:
    gate: str
    slice: str
    verdict: str  # pass | fail | undetermined
    value: float | None
    lo: float | None
    hi: float | None
    n: int
    why: str
    samples_needed: int | None = None
    limit: float | None = None  # the gate's threshold
    metric: str | None = None
    label: str | None = None  # the class the metric is about (without its field)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def check_gates(gates: list[HardGate], metrics: list[Metric], field: str, classes: list[str],
                task_slices: list[str]) -> list[GateResult]:
    by = {(m.slice, m.metric, m.label): m for m in metrics}
    out: list[GateResult] = []
    for g in gates:
        text = g.to_human()
        label = g.label
        if label is not None and "." in label:
            owner, _, value = label.partition(".")
            if owner != field:
                out.append(GateResult(text, g.scope, "undetermined", None, None, None, 0,
                                      f"needs predictions of {owner!r}; this evaluation is of {field!r}",
                                      limit=g.value, metric=g.metric, label=g.label))
                continue
            label = value
        if label is not None and label not in classes:
            out.append(GateResult(text, g.scope, "undetermined", None, None, None, 0,
                                  f"{label!r} is not a value of {field!r} ({', '.join(classes)})", limit=g.value,
                                  metric=g.metric, label=g.label))
            continue
        scopes = (["overall"] if g.scope == "overall" else task_slices if g.scope == "every_slice"
                  else [g.scope.removeprefix("slice:")])
        for sl in scopes:
            m = by.get((sl, g.metric, label))
            if m is None or m.value is None:
                out.append(GateResult(text, sl, "undetermined", None, None, None, m.n if m else 0,
                                      "no rows to measure it on" if m else f"{g.metric} is not measured here",
                                      limit=g.value, metric=g.metric, label=g.label))
                continue
            out.append(_verdict(g, text, m))
    return out


def _verdict(g: HardGate, text: str, m: Metric) -> GateResult:
    value = float(m.value)  # type: ignore[arg-type]
    upper_bound = g.op in ("<=", "<")  # the metric must stay under the limit
    needed = m.hi if upper_bound else m.lo
    if needed is None and m.method != "none":  # too few rows to bound it on the side the gate needs
        return GateResult(text, m.slice, "undetermined", m.value, m.lo, m.hi, m.n,
                          f"{m.n} rows: too few to bound {g.metric} {'above' if upper_bound else 'below'}",
                          None, g.value, g.metric, g.label)
    lo = m.lo if m.lo is not None else value
    hi = m.hi if m.hi is not None else value
    good_all = g.passes(hi) if upper_bound else g.passes(lo)
    bad_all = not (g.passes(lo) if upper_bound else g.passes(hi))
    if good_all:
        return GateResult(text, m.slice, "pass", m.value, m.lo, m.hi, m.n,
                          f"the whole interval [{lo:.4g}, {hi:.4g}] meets {g.op} {g.value:g}", limit=g.value,
                          metric=g.metric, label=g.label)
    if bad_all:
        return GateResult(text, m.slice, "fail", m.value, m.lo, m.hi, m.n,
                          f"the whole interval [{lo:.4g}, {hi:.4g}] breaks {g.op} {g.value:g}", limit=g.value,
                          metric=g.metric, label=g.label)
    need = samples_to_decide(value, g.value) if m.method == "wilson" else None
    more = (f"about {need - m.n} more rows would decide it at this rate ({need} in all)" if need and need > m.n
            else "the rate sits on the limit: more rows alone will not decide it" if need is None
            and m.method == "wilson" else "a narrower interval needs more rows")
    return GateResult(text, m.slice, "undetermined", m.value, m.lo, m.hi, m.n,
                      f"{m.n} rows: the interval [{lo:.4g}, {hi:.4g}] straddles {g.value:g}; {more}", need,
                      g.value, g.metric, g.label)
