"""Evaluation at scale: per-slice metrics with intervals, calibration and gates over millions of
predictions, against one raw scan of the same columns and against per-row bootstrap resampling;
and the coverage of the intervals in simulation.

    .venv/bin/python benchmarks/bench_eval.py [--rows 10000000] [--slices 100] [--draws 1000]
        [--coverage-trials 2000] [--coverage-draws 500] [--naive-draws 20] [--repeat 3] [--seed 0]

Synthetic predictions (NumPy, seeded; not timed): 3 classes, truth and prediction codes (5 % of
rows unlabelled, 5 % without an answer), a confidence, a latency, whether the decision was
routed, and 6 categorical capture columns (2, 3, 4, 5, 8 and 10 values). The slices are
``overall``, every ``column == value`` (32) and seeded pairwise conjunctions of those from two
different columns, up to ``--slices``.

Measured:

* **syncline**, end to end: the per-row group code (mixed radix of the 6 column codes: arithmetic,
  no sort), the groups x slices membership (each slice's predicate evaluated on the decoded
  column values of the 9,600 possible groups), ``count``, ``classification_metrics`` (with a 3x3
  cost matrix, ``--draws`` bootstrap replicates), ``ece`` and ``check_gates`` (false-negative rate
  on a class <= 2 % and <= 20 % in every slice, abstain rate <= 15 % overall) — wall time and a breakdown.
  Target: <= 10 s for 10M rows x 100 slices on 2 cores.
* **raw scan** of the columns as stored: one ``np.bincount`` per column the syncline path reads
  (truth, prediction, the 6 capture columns, routed), the two float columns (confidence,
  latency) binned by arithmetic first. Target: syncline within 3x of it. Also reported: the
  bincounts alone over integer codes prepared beforehand (not timed): the lower bound of
  reading the columns.
* **naive reference**: per-row bootstrap of the same statistics (the confusion matrix per
  replicate, so F1 and accuracy) in one slice (``overall``, every row): ``rng.integers`` row
  indices, gather, bincount; ``--naive-draws`` replicates timed and extrapolated to ``--draws``
  replicates over every slice (by the slices' row counts, and as ``slices x`` the overall slice).
* **coverage**: Wilson intervals at n in {50, 200, 1000} x p in {0.05, 0.2, 0.5}, and the
  count-bootstrap interval (``bootstrap_counts``) of F1 of the rare class and of cost per decision
  at n in {200, 1000}: ``--coverage-trials`` datasets each from a known distribution, the share of
  intervals holding the true value (computed exactly from the generating probabilities).
  Target: within +-1.5 points of the nominal 95 %.
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations

import numpy as np

CARDS = (2, 3, 4, 5, 8, 10)
CLASSES = ["c0", "c1", "c2"]
COSTS = np.array([[0.0, 10.0, 5.0],  # truth c0 (rare, costly to miss) x decision
                  [1.0, 0.0, 1.0],
                  [1.0, 2.0, 0.0]])
PRIOR = np.array([0.15, 0.35, 0.5])


def generate(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded synthetic predictions; accuracy varies with two of the capture columns."""
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, c, rows, dtype=np.int64) for c in CARDS]
    truth = rng.choice(3, size=rows, p=PRIOR).astype(np.int64)
    acc = 0.9 - 0.03 * cols[3] - 0.1 * (cols[0] == 1)  # 0.68 .. 0.9
    right = rng.random(rows) < acc
    pred = np.where(right, truth, (truth + rng.integers(1, 3, rows)) % 3)
    conf = np.where(right, rng.beta(8, 2, rows), rng.beta(4, 4, rows))
    latency = rng.lognormal(np.log(40.0), 0.7, rows) * (1 + cols[5] / 10)
    truth[rng.random(rows) < 0.05] = -1  # unlabelled
    no_answer = rng.random(rows) < 0.05
    pred[no_answer] = -1
    conf[no_answer] = np.nan
    latency[rng.random(rows) < 0.01] = np.nan  # not measured
    routed = no_answer | (conf < 0.35)
    return {"truth": truth, "pred": pred, "conf": conf, "latency": latency, "routed": routed,
            **{f"a{i}": c for i, c in enumerate(cols)}}


def make_slices(n_slices: int, seed: int) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """``overall``, every single ``a{i} == v``, then seeded pairs from two different columns."""
    singles = [(i, v) for i, c in enumerate(CARDS) for v in range(c)]
    names = ["overall"] + [f"a{i}={v}" for i, v in singles]
    preds: list[list[tuple[int, int]]] = [[]] + [[s] for s in singles]
    pairs = [(a, b) for a, b in combinations(singles, 2) if a[0] != b[0]]
    order = np.random.default_rng(seed + 1).permutation(len(pairs))
    for j in order[: max(0, n_slices - len(names))]:
        a, b = pairs[j]
        names.append(f"a{a[0]}={a[1]} & a{b[0]}={b[1]}")
        preds.append([a, b])
    return names[:n_slices], preds[:n_slices]


def syncline_path(d: dict[str, np.ndarray], names: list[str], preds: list[list[tuple[int, int]]], draws: int,
                  gates: list) -> tuple[dict[str, float], object, list, list]:  # type: ignore[type-arg]
    from syncline.evaluate.calibration import ece
    from syncline.evaluate.counts import count
    from syncline.evaluate.gates import check_gates
    from syncline.evaluate.metrics import classification_metrics

    times: dict[str, float] = {}
    t = time.perf_counter()
    group = d["a0"].copy()  # mixed radix: ((a0 * 3 + a1) * 4 + a2) ...
    for i, card in enumerate(CARDS[1:], start=1):
        group *= card
        group += d[f"a{i}"]
    g = int(np.prod(CARDS))  # every possible combination is a group; empty ones count zero
    digits = np.empty((len(CARDS), g), np.int64)
    rest = np.arange(g, dtype=np.int64)
    for i in range(len(CARDS) - 1, -1, -1):
        rest, digits[i] = np.divmod(rest, CARDS[i])
    membership = np.ones((g, len(names)), bool)
    for s, conds in enumerate(preds):
        for col, v in conds:
            membership[:, s] &= digits[col] == v
    times["group codes + membership"] = time.perf_counter() - t
    t = time.perf_counter()
    c = count(CLASSES, group, membership, d["truth"], d["pred"], d["conf"], d["latency"], d["routed"])
    times["count"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics = classification_metrics(names, c, costs=COSTS, draws=draws)
    times["classification_metrics"] = time.perf_counter() - t
    t = time.perf_counter()
    metrics += ece(names, c, draws=draws)
    times["ece"] = time.perf_counter() - t
    t = time.perf_counter()
    results = check_gates(gates, metrics, "field", CLASSES, names)
    times["check_gates"] = time.perf_counter() - t
    return times, c, metrics, results


def raw_scan(d: dict[str, np.ndarray]) -> tuple[float, float, float]:
    """Seconds for (one bincount per column over codes prepared beforehand, preparing those codes,
    one pass per raw column that bins it as cheaply as arithmetic allows and bincounts it)."""
    from syncline.evaluate.counts import LAT_BINS, LAT_HI, LAT_LO, latency_edges

    t = time.perf_counter()
    lat = d["latency"]
    cols = [d["truth"] + 1, d["pred"] + 1, *(d[f"a{i}"] for i in range(len(CARDS))),
            np.where(np.isfinite(d["conf"]), np.clip((np.nan_to_num(d["conf"]) * 15).astype(np.int64), 0, 14), 15),
            np.where(np.isfinite(lat), np.searchsorted(latency_edges(), np.nan_to_num(lat, nan=1.0)), 0),
            d["routed"].astype(np.int64)]
    prep = time.perf_counter() - t
    t = time.perf_counter()
    for x in cols:
        np.bincount(x)
    scan = time.perf_counter() - t
    del cols
    t = time.perf_counter()  # the same columns read raw: shift, bin by arithmetic (NaN to an extra bin), count
    np.bincount(d["truth"] + 1)
    np.bincount(d["pred"] + 1)
    for i in range(len(CARDS)):
        np.bincount(d[f"a{i}"])
    with np.errstate(invalid="ignore"):
        np.bincount(np.nan_to_num(d["conf"] * 15, nan=15).astype(np.int64).clip(0, 15))
        step = np.log(LAT_HI / LAT_LO) / LAT_BINS
        np.bincount(np.nan_to_num(np.log(lat / LAT_LO) / step, nan=LAT_BINS, posinf=LAT_BINS - 1,
                                  neginf=0).astype(np.int64).clip(0, LAT_BINS))
    np.bincount(d["routed"].view(np.uint8))
    return scan, prep, time.perf_counter() - t


def naive_bootstrap(d: dict[str, np.ndarray], n_draws: int, seed: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Per-row bootstrap over the ``overall`` slice: seconds per replicate, and the replicates'
    F1 of c0 and accuracy."""
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    rows = np.flatnonzero((d["truth"] >= 0) & (d["pred"] >= 0))  # the rows the metrics use
    truth, pred = d["truth"], d["pred"]
    f1, acc = np.empty(n_draws), np.empty(n_draws)
    for b in range(n_draws):
        idx = rows[rng.integers(0, len(rows), len(rows))]
        m = np.bincount(truth[idx] * 3 + pred[idx], minlength=9).reshape(3, 3)
        f1[b] = 2 * m[0, 0] / (m[0].sum() + m[:, 0].sum())
        acc[b] = np.trace(m) / m.sum()
    return (time.perf_counter() - t) / n_draws, f1, acc


def coverage(trials: int, draws: int, seed: int) -> list[tuple[str, float, float | None]]:
    """(setting, simulated coverage, exact coverage where it is a finite sum: Wilson's)."""
    from scipy.stats import binom

    from syncline.evaluate.intervals import bootstrap_counts, wilson

    rng = np.random.default_rng(seed + 7)
    out: list[tuple[str, float, float | None]] = []
    for n in (50, 200, 1000):
        for p in (0.05, 0.2, 0.5):
            k = rng.binomial(n, p, trials)
            lo, hi = wilson(k, np.full(trials, n))
            every = np.arange(n + 1)
            elo, ehi = wilson(every, np.full(n + 1, n))
            exact = float(binom.pmf(every, n, p)[(elo <= p) & (p <= ehi)].sum())
            out.append((f"Wilson n={n} p={p}", float(np.mean((lo <= p) & (p <= hi))), exact))
    # a known 3x3 joint distribution of (truth, decision): the prior times a confusion matrix
    cond = np.array([[0.70, 0.20, 0.10], [0.08, 0.80, 0.12], [0.05, 0.10, 0.85]])
    joint = (PRIOR[:, None] * cond).reshape(-1)
    true_f1 = 2 * joint.reshape(3, 3)[0, 0] / (joint.reshape(3, 3)[0].sum() + joint.reshape(3, 3)[:, 0].sum())
    w = COSTS.reshape(-1)
    true_cost = float(joint @ w)

    def f1_stat(r: np.ndarray) -> np.ndarray:
        m = r.reshape(*r.shape[:-1], 3, 3)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(2 * m[..., 0, 0] / (m[..., 0, :].sum(-1) + m[..., :, 0].sum(-1)))

    def cost_stat(r: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray((r * w).sum(-1) / r.sum(-1))

    for n in (200, 1000):
        counts = rng.multinomial(n, joint, size=trials)  # trials as the "slices" of one call
        for label, stat, truth in (("F1 of c0", f1_stat, true_f1), ("cost/decision", cost_stat, true_cost)):
            lo, hi = bootstrap_counts(counts, stat, draws=draws, seed=seed)
            out.append((f"bootstrap {label} n={n} (true {truth:.4f})",
                        float(np.mean((lo <= truth) & (truth <= hi))), None))
    return out


ECE_SHAPES = ("even", "top half", "top bin")


def miscalibration(conf: np.ndarray, gap: float, shape: str) -> np.ndarray:
    """How much less often than its confidence a row is right, so that the true 15-bin ECE is
    ``gap`` for confidences uniform on [0.5, 1]: every bin by ``gap`` (``even``); the rows above
    0.75 by ``2 gap`` (``top half``: overconfident where it is most confident, the usual shape);
    the top bin's rows (2/15 of them) by ``7.5 gap`` (``top bin``: all of it in one bin)."""
    if shape == "even":
        return np.full_like(conf, gap)
    if shape == "top half":
        return np.where(conf > 0.75, 2 * gap, 0.0)
    return np.where(conf >= 14 / 15, 7.5 * gap, 0.0)


def ece_coverage(trials: int, seed: int) -> list[tuple[str, float, float]]:
    """The ECE interval (``calibration.ece``) of a model whose confidence is uniform on [0.5, 1]
    and right with probability ``conf - miscalibration``: the true 15-bin ECE is exactly ``gap``
    in each shape. Each trial is one slice (one group each) of one ``count`` call.
    (setting, coverage, mean estimate)."""
    from syncline.evaluate.calibration import ece
    from syncline.evaluate.counts import count

    rng = np.random.default_rng(seed + 11)
    out = []
    for shape in ECE_SHAPES:
        for n in (300, 1000, 3000, 10000):
            for gap in (0.0, 0.01, 0.02, 0.05, 0.1):
                rows = n * trials
                conf = rng.uniform(0.5, 1.0, rows)
                right = rng.random(rows) < conf - miscalibration(conf, gap, shape)
                c = count(["a", "b"], np.repeat(np.arange(trials), n), np.eye(trials, dtype=bool),
                          np.zeros(rows, np.int64), np.where(right, 0, 1), conf, np.full(rows, np.nan),
                          np.zeros(rows, bool))
                ms = [m for m in ece([str(i) for i in range(trials)], c, seed=seed) if m.metric == "ece"]
                lo = np.array([m.lo for m in ms], float)
                hi = np.array([m.hi for m in ms], float)
                value = np.array([m.value for m in ms], float)
                out.append((f"ECE {shape}, n={n} true {gap}", float(np.mean((lo <= gap) & (gap <= hi))),
                            float(value.mean())))
    return out


def check_counts(d: dict[str, np.ndarray], c: object, preds: list[list[tuple[int, int]]], which: list[int]) -> str:
    """The counts of a few slices against a direct per-slice computation over the rows."""
    bad = []
    for s in which:
        mask = np.ones(len(d["truth"]), bool)
        for col, v in preds[s]:
            mask &= d[f"a{col}"] == v
        t, p = d["truth"][mask], d["pred"][mask]
        lab = (t >= 0) & (p >= 0)
        conf = np.bincount(t[lab] * 3 + p[lab], minlength=9).reshape(3, 3)
        ok = (np.array_equal(conf, c.confusion[s]) and int(mask.sum()) == c.rows[s]  # type: ignore[attr-defined]
              and int(d["routed"][mask].sum()) == c.routed[s]  # type: ignore[attr-defined]
              and int((p < 0).sum()) == c.no_answer[s].sum())  # type: ignore[attr-defined]
        if not ok:
            bad.append(s)
    return "all match" if not bad else f"MISMATCH in slices {bad}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--slices", type=int, default=100)
    ap.add_argument("--draws", type=int, default=1000, help="bootstrap replicates per interval")
    ap.add_argument("--coverage-trials", type=int, default=2000)
    ap.add_argument("--coverage-draws", type=int, default=500, help="bootstrap replicates in the coverage runs")
    ap.add_argument("--naive-draws", type=int, default=20, help="per-row bootstrap replicates actually timed")
    ap.add_argument("--repeat", type=int, default=3, help="syncline / raw-scan pairs, interleaved (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit BLAS threads (threadpoolctl) for the whole run; default: BLAS's own choice")
    ap.add_argument("--duckdb-groups", action="store_true",
                    help="also time the grouping `syncline eval` does: a DuckDB hash of the slice columns")
    args = ap.parse_args()
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(args.blas_threads, user_api="blas")  # noqa: F841 (held for the whole run)
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                         if i["user_api"] == "blas")
    except ImportError:
        blas = "threadpoolctl not installed"
    print(f"BLAS: {blas or 'unknown'}")
    from syncline.task.gates import HardGate

    t = time.perf_counter()
    d = generate(args.rows, args.seed)
    names, preds = make_slices(args.slices, args.seed)
    gates = [HardGate.model_validate("false-negative rate on `c0` <= 2% in every slice"),
             HardGate.model_validate("false-negative rate on `c0` <= 20% in every slice"),
             HardGate.model_validate("abstain rate <= 15% overall")]
    print(f"data: {args.rows:,} rows, {len(names)} slices ({sum(len(p) == 1 for p in preds)} single, "
          f"{sum(len(p) == 2 for p in preds)} pairs), {int(np.prod(CARDS))} groups; generated in "
          f"{time.perf_counter() - t:.1f} s (not timed)")

    runs, scans, raws = [], [], []
    for rep in range(args.repeat):  # interleaved, so a slow spell of the machine hits both
        times, c, metrics, results = syncline_path(d, names, preds, args.draws, gates)
        runs.append(times)
        scan, prep, raw = raw_scan(d)
        scans.append(scan)
        raws.append(raw)
        print(f"run {rep + 1}: syncline {sum(times.values()):.2f} s, raw scan {scan:.3f} s "
              f"(+{prep:.2f} s preparing its codes, not counted); binning + bincount from the raw columns {raw:.3f} s")
    totals = [sum(r.values()) for r in runs]
    mid = int(np.argsort(totals)[len(totals) // 2])
    total, scan = totals[mid], float(np.median(scans))
    print(f"\nsyncline path (median of {args.repeat}): {total:.2f} s for {args.rows:,} rows x {len(names)} slices, "
          f"{args.draws} bootstrap draws")
    for k, v in runs[mid].items():
        print(f"  {k:<26} {v:7.3f} s  {v / total:6.1%}")
    print(f"  {len(metrics)} metrics, {len(results)} gate results: "
          + ", ".join(f"{n} {v}" for v, n in zip(*np.unique([r.verdict for r in results], return_counts=True),
                                                 strict=True)))
    print(f"raw scan (one bincount per column, 11 columns, median): {scan:.3f} s")
    raw = float(np.median(raws))
    print(f"target <= 10 s: {'met' if total <= 10 else 'NOT met'}")
    print(f"ratio syncline / one raw scan of the columns as stored (the two float columns binned by arithmetic, "
          f"then one bincount per column; median {raw:.3f} s): {total / raw:.1f}x; <= 3x: "
          f"{'met' if total <= 3 * raw else 'NOT met'}")
    print(f"  (against bincounts alone over integer codes prepared beforehand, {scan:.3f} s: {total / scan:.1f}x — "
          f"the lower bound of reading them)")
    print(f"counts check against a direct per-slice pass (slices 0, 1, 40, last): "
          f"{check_counts(d, c, preds, [0, 1, 40, len(names) - 1])}")

    if args.duckdb_groups:
        import duckdb
        import pyarrow as pa

        from syncline.catalog import query as Q

        frame = pa.table({f"a{i}": pa.array(d[f"a{i}"]) for i in range(len(CARDS))})
        con = duckdb.connect()
        t = time.perf_counter()
        gcode, first = Q.frame_groups(con, frame, [f"a{i}" for i in range(len(CARDS))])
        t_hash = time.perf_counter() - t
        mixed = d["a0"].copy()
        for i, card in enumerate(CARDS[1:], start=1):
            mixed = mixed * card + d[f"a{i}"]
        same = len(first) == len(np.unique(mixed))
        print(f"grouping as `syncline eval` does (DuckDB hash of the slice columns, an Arrow hash table): "
              f"{t_hash:.2f} s -> {len(first)} groups ({'the same' if same else 'NOT the same'} number as the "
              f"mixed radix; that path: {runs[mid]['group codes + membership']:.2f} s)")
        del gcode, first, frame

    per_draw, f1, acc = naive_bootstrap(d, args.naive_draws, args.seed)
    slice_rows = c.rows.astype(np.float64)  # type: ignore[attr-defined]
    by_rows = per_draw * args.draws * slice_rows.sum() / slice_rows[0]
    flat = per_draw * args.draws * len(names)
    print(f"\nnaive per-row bootstrap, overall slice ({int(slice_rows[0]):,} rows): {per_draw:.3f} s per replicate "
          f"({args.naive_draws} timed)")
    print(f"  extrapolated to {args.draws} replicates x {len(names)} slices: {by_rows:,.0f} s by the slices' rows "
          f"({slice_rows.sum() / 1e6:.1f}M rows in all), {flat:,.0f} s as {len(names)} x the overall slice")
    print(f"  syncline is {by_rows / total:,.0f}x faster (by rows; {flat / total:,.0f}x as {len(names)} x overall)")
    m = {(x.slice, x.metric, x.label): x for x in metrics}
    for key, reps in ((("overall", "f1", "c0"), f1), (("overall", "accuracy", None), acc)):
        x = m[key]
        print(f"  overall {key[1]}{'' if key[2] is None else ' ' + key[2]}: syncline {x.value} [{x.lo}, {x.hi}] "
              f"({x.method}); per-row bootstrap ({args.naive_draws} reps) spread "
              f"[{reps.min():.6f}, {reps.max():.6f}]")

    t = time.perf_counter()
    cov = coverage(args.coverage_trials, args.coverage_draws, args.seed)
    se = 100 * np.sqrt(0.95 * 0.05 / args.coverage_trials)
    print(f"\ncoverage of 95 % intervals, {args.coverage_trials} trials per setting "
          f"(Monte Carlo s.e. {se:.2f} points), {args.coverage_draws} bootstrap draws; {time.perf_counter() - t:.1f} s")
    for label, v, exact in cov:
        dev = 100 * (v - 0.95)
        ex = "" if exact is None else (f"   exact {100 * exact:6.2f} % ({100 * (exact - 0.95):+.2f}: "
                                       f"{'ok' if abs(exact - 0.95) <= 0.015 else 'OUTSIDE +-1.5'})")
        print(f"  {label:<44} {100 * v:6.2f} %  {dev:+6.2f} points {'ok' if abs(dev) <= 1.5 else 'OUTSIDE +-1.5'}{ex}")
    mean = float(np.mean([v for _, v, _ in cov]))
    worst = max(abs(v - 0.95) for _, v, _ in cov)
    print(f"  mean over {len(cov)} settings: {100 * mean:.2f} % ({100 * (mean - 0.95):+.2f} points); "
          f"worst setting {100 * worst:.2f} points off; within +-1.5: "
          f"{sum(abs(v - 0.95) <= 0.015 for _, v, _ in cov)}/{len(cov)}")
    t = time.perf_counter()
    ece_trials = min(args.coverage_trials, 1000)
    ecov = ece_coverage(ece_trials, args.seed)
    print(f"also, not in the mean above: the ECE interval, {ece_trials} trials per setting; "
          f"{time.perf_counter() - t:.1f} s")
    for label, v, est in ecov:
        dev = 100 * (v - 0.95)
        print(f"  {label:<44} {100 * v:6.2f} %  {dev:+6.2f} points {'ok' if abs(dev) <= 1.5 else 'OUTSIDE +-1.5'}"
              f"   mean estimate {est:.4f}")
    for shape in (*ECE_SHAPES, "all"):
        ev = np.array([v for label, v, _ in ecov if shape == "all" or label.startswith(f"ECE {shape},")])
        print(f"  ECE, {shape}: mean over {len(ev)} settings {100 * ev.mean():.2f} %, lowest {100 * ev.min():.2f} %, "
              f"highest {100 * ev.max():.2f} %; within +-1.5: {int(np.sum(np.abs(ev - 0.95) <= 0.015))}/{len(ev)}")


if __name__ == "__main__":
    main()
