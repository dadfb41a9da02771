"""Per-slice metrics from grouped counts equal scikit-learn / statsmodels on the rows of each slice,
over randomized inputs (seeded: each seed is a different draw of classes, slices and rows)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from statsmodels.stats.proportion import proportion_confint

from syncline.evaluate.calibration import ECE_BINS, ece, reliability, risk_coverage
from syncline.evaluate.counts import count
from syncline.evaluate.intervals import bootstrap_counts, samples_to_decide, wilson
from syncline.evaluate.metrics import classification_metrics


def _draw(seed: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    n = int(rng.integers(50, 3000))
    g = int(rng.integers(1, 40))
    s = int(rng.integers(1, 8))
    truth = rng.integers(-1, k, n)  # -1: unlabelled
    noise = rng.random(n) < rng.uniform(0.1, 0.7)
    pred = np.where(noise, rng.integers(0, k, n), np.maximum(truth, 0))
    pred = np.where(rng.random(n) < 0.1, -1, pred)  # no answer
    conf = np.where(pred >= 0, rng.uniform(0.2, 1.0, n), np.nan)
    lat = rng.lognormal(1, 1, n)
    routed = rng.random(n) < 0.2
    group = rng.integers(0, g, n)
    membership = rng.random((g, s)) < 0.5
    membership[:, 0] = True  # "overall"
    classes = [f"c{j}" for j in range(k)]
    c = count(classes, group, membership, truth, pred, conf, lat, routed)
    rows = [membership[group, j] for j in range(s)]
    return classes, c, rows, truth, pred, conf, lat, routed


@pytest.mark.parametrize("seed", range(25))
def test_confusion_metrics_equal_sklearn(seed: int) -> None:
    classes, c, rows, truth, pred, conf, lat, routed = _draw(seed)
    k = len(classes)
    names = [f"s{j}" for j in range(len(rows))]
    got = {(m.slice, m.metric, m.label): m for m in classification_metrics(names, c, draws=200)}
    for j, inside in enumerate(rows):
        use = inside & (truth >= 0) & (pred >= 0)
        yt, yp = truth[use], pred[use]
        assert c.rows[j] == inside.sum() and c.routed[j] == (inside & routed).sum()
        assert c.no_answer[j].sum() == (inside & (pred < 0)).sum()
        if not len(yt):
            assert got[(f"s{j}", "accuracy", None)].value is None and c.confusion[j].sum() == 0
            continue
        assert (c.confusion[j] == confusion_matrix(yt, yp, labels=range(k))).all()
        assert got[(f"s{j}", "accuracy", None)].value == pytest.approx(accuracy_score(yt, yp), abs=1e-6)
        assert got[(f"s{j}", "balanced_accuracy", None)].value == pytest.approx(
            balanced_accuracy_score(yt, yp) if len(set(yt)) else np.nan, abs=1e-6)
        present = sorted(set(yt.tolist()))
        assert got[(f"s{j}", "macro_f1", None)].value == pytest.approx(
            f1_score(yt, yp, labels=present, average="macro", zero_division=0), abs=1e-6)
        p, r, f, _ = precision_recall_fscore_support(yt, yp, labels=range(k), zero_division=np.nan)
        cm = confusion_matrix(yt, yp, labels=range(k))
        for ci, name in enumerate(classes):
            tn = cm.sum() - cm[ci].sum() - cm[:, ci].sum() + cm[ci, ci]
            fp = cm[:, ci].sum() - cm[ci, ci]
            for metric, want in (("precision", p[ci]), ("recall", r[ci]),
                                 ("false_negative_rate", 1 - r[ci]),
                                 ("specificity", tn / (tn + fp) if tn + fp else np.nan),
                                 ("false_positive_rate", fp / (tn + fp) if tn + fp else np.nan)):
                m = got[(f"s{j}", metric, name)]
                if np.isnan(want):
                    assert m.value is None and m.n == 0
                else:
                    assert m.value == pytest.approx(want, abs=1e-6)
                    lo, hi = proportion_confint(m.k, m.n, alpha=0.05, method="wilson")
                    assert (m.lo, m.hi) == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6))
            f1 = got[(f"s{j}", "f1", name)]
            if cm[ci].sum() + cm[:, ci].sum():
                assert f1.value == pytest.approx(
                    f1_score(yt, yp, labels=[ci], average="macro", zero_division=0), abs=1e-6)
                assert f1.lo is not None and f1.hi is not None and f1.lo <= f1.value + 1e-9 <= f1.hi + 2e-9


@pytest.mark.parametrize("seed", range(10))
def test_calibration_equals_row_by_row(seed: int) -> None:
    classes, c, rows, truth, pred, conf, lat, routed = _draw(seed)
    names = [f"s{j}" for j in range(len(rows))]
    got = {m.slice: m for m in ece(names, c, draws=200) if m.metric == "ece"}
    for j, inside in enumerate(rows):
        use = inside & (truth >= 0) & (pred >= 0)
        if not use.any():
            continue
        cf, ok = conf[use], (truth[use] == pred[use]).astype(float)
        b = np.clip((cf * ECE_BINS).astype(int), 0, ECE_BINS - 1)  # the same bins, row by row
        want = sum(abs(ok[b == i].sum() - cf[b == i].sum()) for i in range(ECE_BINS)) / len(cf)
        assert got[f"s{j}"].value == pytest.approx(want, abs=1e-6)
        diagram = reliability(c, j)
        assert sum(r["n"] for r in diagram) == use.sum()
        rc = risk_coverage(c, j)
        assert rc["aurc"] == pytest.approx(_row_aurc(cf, ok), abs=0.01 if len(cf) < 300 else 4e-3)
        assert rc["coverage"][-1] == pytest.approx(1.0) and rc["risk"][-1] == pytest.approx(1 - ok.mean(), abs=1e-6)


def _row_aurc(conf: np.ndarray, ok: np.ndarray, rng: np.random.Generator | None = None) -> float:
    """AURC row by row: the mean, over the rows taken from the most confident down, of the error
    rate so far (ties broken at random when ``rng`` is given)."""
    key = -conf if rng is None else np.lexsort((rng.random(len(conf)), -conf))
    order = np.argsort(key, kind="stable") if rng is None else key
    errors = np.cumsum(1 - ok[order])
    return float(np.mean(errors / np.arange(1, len(conf) + 1)))


def test_aurc_is_exact_for_tied_confidences() -> None:
    """Confidences on the fine bins' grid: the closed form equals the row-by-row AURC averaged
    over random orders of the ties."""
    from syncline.evaluate.counts import FINE_BINS

    rng = np.random.default_rng(2)
    n = 400
    conf = (rng.integers(60, FINE_BINS, n) + 0.5) / FINE_BINS
    ok = (rng.random(n) < conf).astype(float)
    truth = np.zeros(n, np.int64)
    pred = np.where(ok > 0, 0, 1)
    c = count(["a", "b"], np.zeros(n, np.int64), np.ones((1, 1), bool), truth, pred, conf, np.full(n, np.nan),
              np.zeros(n, bool))
    want = np.mean([_row_aurc(conf, ok, rng) for _ in range(3000)])
    assert risk_coverage(c, 0)["aurc"] == pytest.approx(want, abs=5e-4)


def test_latency_p95_within_one_bin_of_numpy() -> None:
    classes, c, rows, truth, pred, conf, lat, routed = _draw(3)
    from syncline.evaluate.metrics import latency_p95

    for j, m in enumerate(latency_p95([f"s{i}" for i in range(len(rows))], c)):
        if rows[j].sum() < 50:
            continue
        want = float(np.quantile(lat[rows[j]], 0.95, method="inverted_cdf"))
        assert want <= m.value <= want * 1.05  # the bin's upper edge: high by at most one 4.7 % bin
        assert m.lo <= m.value <= m.hi


def test_wilson_equals_statsmodels_and_handles_empty() -> None:
    rng = np.random.default_rng(0)
    n = rng.integers(1, 500, 200)
    k = rng.integers(0, n + 1)
    lo, hi = wilson(k, n)
    want = np.array([proportion_confint(a, b, method="wilson") for a, b in zip(k, n, strict=True)])
    assert np.allclose(lo, want[:, 0]) and np.allclose(hi, want[:, 1])
    lo0, hi0 = wilson(np.array([0]), np.array([0]))
    assert np.isnan(lo0[0]) and np.isnan(hi0[0])


def test_samples_to_decide_is_the_first_n_that_decides() -> None:
    for p, thr in ((0.01, 0.02), (0.05, 0.02), (0.9, 0.8), (0.0, 0.02)):
        n = samples_to_decide(p, thr)
        assert n is not None
        lo, hi = wilson(p * n, n)
        lo1, hi1 = wilson(p * (n - 1), n - 1)
        if p < thr:
            assert hi[()] < thr <= hi1[()]
        else:
            assert lo[()] > thr >= lo1[()]
    assert samples_to_decide(0.02, 0.02) is None


def test_bootstrap_over_counts_matches_resampling_rows() -> None:
    """The multinomial redraw of a slice's counts gives the interval a row-by-row bootstrap gives."""
    rng = np.random.default_rng(5)
    yt = rng.integers(0, 3, 600)
    yp = np.where(rng.random(600) < 0.6, yt, rng.integers(0, 3, 600))
    cm = confusion_matrix(yt, yp, labels=range(3)).reshape(1, 9)

    def f1_0(r):  # type: ignore[no-untyped-def]
        m = r.reshape(*r.shape[:-1], 3, 3)
        return 2 * m[..., 0, 0] / (m[..., 0, :].sum(-1) + m[..., :, 0].sum(-1))

    lo, hi = bootstrap_counts(cm, f1_0, draws=4000, seed=1)
    idx = rng.integers(0, 600, (4000, 600))
    rows = [f1_score(yt[i], yp[i], labels=[0], average="macro", zero_division=0) for i in idx]
    want_lo, want_hi = np.quantile(rows, [0.025, 0.975])
    assert abs(lo[0] - want_lo) < 0.01 and abs(hi[0] - want_hi) < 0.01


def test_gap_q_values_equal_statsmodels_benjamini_hochberg() -> None:
    from scipy.stats import fisher_exact
    from statsmodels.stats.multitest import multipletests

    from syncline.evaluate.gaps import slice_gaps

    classes, c, rows, truth, pred, conf, lat, routed = _draw(7)
    names = [f"s{j}" for j in range(len(rows))]
    gaps = slice_gaps(names, c, min_rows=1)
    assert gaps, "the draw has slices to compare"
    want = multipletests([g.p for g in gaps], method="fdr_bh")[1]
    assert np.allclose([g.q for g in gaps], want)
    g = next(g for g in gaps if g.metric == "accuracy")  # one p-value recomputed from the rows themselves
    j = names.index(g.slice)
    use = (truth >= 0) & (pred >= 0)
    inside, outside = use & rows[j], use & ~rows[j]
    ok = truth == pred
    table = [[(ok & inside).sum(), (~ok & inside).sum()], [(ok & outside).sum(), (~ok & outside).sum()]]
    assert g.p == pytest.approx(fisher_exact(table).pvalue)


@pytest.mark.parametrize("seed", range(8))
def test_paired_comparison_equals_statsmodels_mcnemar_and_row_bootstrap(seed: int) -> None:
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    from syncline.evaluate.compare import compare_counts, paired_counts

    rng = np.random.default_rng(seed)
    k, n = 3, int(rng.integers(30, 800))
    truth = rng.integers(0, k, n)
    a = np.where(rng.random(n) < 0.7, truth, rng.integers(0, k, n))
    b = np.where(rng.random(n) < rng.uniform(0.6, 0.9), truth, rng.integers(0, k, n))
    group = rng.integers(0, 4, n)
    patterns = np.column_stack([np.ones(4, bool), rng.random(4) < 0.5])
    joint = paired_counts(k, group, patterns, truth, a, b)
    costs = rng.uniform(0, 10, (k, k))
    res = compare_counts(["overall", "s1"], joint, k, costs, draws=2000, seed=seed)
    for j, pr in enumerate(res):
        inside = patterns[group, j]
        if not inside.any():
            assert pr.n == 0 and pr.deltas["accuracy"]["b_minus_a"] is None
            continue
        ra, rb = a[inside] == truth[inside], b[inside] == truth[inside]
        table = [[(ra & rb).sum(), (ra & ~rb).sum()], [(~ra & rb).sum(), (~ra & ~rb).sum()]]
        assert (pr.a_right_b_wrong, pr.a_wrong_b_right) == (table[0][1], table[1][0])
        if pr.mcnemar_p is not None:
            want = sm_mcnemar(table, exact=table[0][1] + table[1][0] < 25, correction=True).pvalue
            assert pr.mcnemar_p == pytest.approx(want, rel=1e-9)
        assert pr.deltas["accuracy"]["b_minus_a"] == pytest.approx(rb.mean() - ra.mean(), abs=1e-6)
        cost_a, cost_b = costs[truth[inside], a[inside]].mean(), costs[truth[inside], b[inside]].mean()
        assert pr.deltas["cost_per_decision"]["b_minus_a"] == pytest.approx(cost_b - cost_a, abs=1e-5)
    # the count bootstrap's interval is the paired row bootstrap's
    idx = rng.integers(0, n, (2000, n))
    diffs = (b[idx] == truth[idx]).mean(1) - (a[idx] == truth[idx]).mean(1)
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    d = res[0].deltas["accuracy"]
    assert abs(d["lo"] - lo) < 0.012 and abs(d["hi"] - hi) < 0.012


def _categorical(seed: int, planted: bool):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    n = 4000
    cols = {"a": rng.integers(0, 3, n), "b": rng.integers(0, 4, n), "c": rng.integers(0, 2, n)}
    bad = (cols["a"] == 1) & (cols["b"] == 2)
    wrong = rng.random(n) < np.where(bad & planted, 0.45, 0.15)
    names, features, member = [], [], []
    for col, v in cols.items():
        for x in np.unique(v):
            names.append(f"{col} == {int(x)}")
            features.append(col)
            member.append(v == x)
    return names, features, np.column_stack(member), wrong, cols


def test_slice_search_finds_the_planted_regime_and_explains_its_parents() -> None:
    from syncline.evaluate.discover import discover

    names, features, member, wrong, cols = _categorical(0, planted=True)
    found = discover(names, features, member, np.ones(len(wrong)), wrong)  # each row its own group
    top = found[0]
    assert top["where"] == "a == 1 and b == 2" and top["explained_by"] is None
    inside = (cols["a"] == 1) & (cols["b"] == 2)
    assert (top["n"], top["errors"]) == (inside.sum(), (inside & wrong).sum())
    parents = {d["where"]: d for d in found if d["where"] in ("a == 1", "b == 2")}
    assert parents and all(d["explained_by"] == "a == 1 and b == 2" for d in parents.values())
    assert not any(d["where"].startswith("c ==") and d["explained_by"] is None for d in found)


def test_slice_search_controls_false_discoveries_when_nothing_is_planted() -> None:
    """Searching 9 conditions and their pairs on data where every slice errs alike: with
    Benjamini–Hochberg, a search finds something in few of 40 seeds (at most 5 % expected)."""
    from syncline.evaluate.discover import discover

    def search(seed: int) -> list:  # type: ignore[type-arg]
        names, features, member, wrong, _ = _categorical(seed, planted=False)
        return discover(names, features, member, np.ones(len(wrong)), wrong)

    hits = sum(bool(search(seed)) for seed in range(40))
    assert hits <= 4


def test_a_calibrated_model_fails_an_ece_gate_only_at_the_tests_level() -> None:
    """The plug-in ECE of a perfectly calibrated model on 1,000 rows is ~0.026 (biased upward),
    above a 2 % gate; the interval reaches 0 unless a calibration test rejects, so the gate
    fails a calibrated model about as often as the test's 5 % level; a model 10 points
    overconfident fails it nearly always."""
    from syncline.evaluate.gates import check_gates
    from syncline.task.gates import HardGate

    gate = HardGate.model_validate("ECE <= 0.02 overall")
    for shift in (0.0, 0.10):
        verdicts = []
        for seed in range(120):
            rng = np.random.default_rng(seed)
            n = 1000
            conf = rng.uniform(0.5, 1, n)
            right = rng.random(n) < conf - shift
            c = count(["yes", "no"], np.zeros(n, np.int64), np.ones((1, 1), bool), np.zeros(n, np.int64),
                      np.where(right, 0, 1), conf, np.full(n, np.nan), np.zeros(n, bool))
            m = ece(["overall"], c, draws=300, seed=seed)
            verdicts.append(check_gates([gate], m, "f", ["yes", "no"], [])[0].verdict)
        if shift == 0.0:
            assert verdicts.count("fail") <= 12 and verdicts.count("undetermined") >= 100, verdicts  # ~5 % expected
        else:
            assert verdicts.count("fail") >= 114, verdicts


@pytest.mark.parametrize("n, gap, shape", [(1000, 0.02, "even"), (300, 0.05, "even"), (1000, 0.02, "top half"),
                                           (3000, 0.01, "top half"), (300, 0.01, "top bin"), (1000, 0.05, "top bin")])
def test_the_ece_interval_covers_the_true_ece_whatever_its_shape(n: int, gap: float, shape: str) -> None:
    """The plug-in ECE's upward bias depends on how many bins carry the miscalibration. A
    bootstrap of the counts covered these settings 71-76 % (plain percentile, even gaps) and,
    bias-corrected, 86-88 % (top half) and 71-76 % (top bin); the test-inversion interval 93-99 %.
    600 trials each: coverage >= 90 % is 5.6 Monte Carlo s.e. below 95 %."""
    rng = np.random.default_rng(17)
    trials = 600
    rows = n * trials
    conf = rng.uniform(0.5, 1.0, rows)  # right with probability conf - miscalibration: the true 15-bin ECE is gap
    if shape == "even":
        off = np.full(rows, gap)
    elif shape == "top half":
        off = np.where(conf > 0.75, 2 * gap, 0.0)
    else:
        off = np.where(conf >= 14 / 15, 7.5 * gap, 0.0)
    right = rng.random(rows) < conf - off
    c = count(["a", "b"], np.repeat(np.arange(trials), n), np.eye(trials, dtype=bool), np.zeros(rows, np.int64),
              np.where(right, 0, 1), conf, np.full(rows, np.nan), np.zeros(rows, bool))
    ms = ece([str(i) for i in range(trials)], c, seed=3)
    plug = {m.slice: m for m in ms if m.metric == "ece"}
    debiased = {m.slice: m for m in ms if m.metric == "ece_debiased"}
    lo = np.array([plug[str(i)].lo for i in range(trials)], float)
    hi = np.array([plug[str(i)].hi for i in range(trials)], float)
    value = np.array([plug[str(i)].value for i in range(trials)], float)
    middle = np.array([debiased[str(i)].value for i in range(trials)], float)
    assert np.all(lo <= value + 1e-9)  # the plug-in is never below the lower end (it may be above the upper)
    assert np.all((lo <= middle + 1e-9) & (middle <= hi + 1e-9))
    assert np.mean((lo <= gap) & (gap <= hi)) >= 0.90


def test_bca_from_counts_equals_scipy_bca_on_rows() -> None:
    """A skewed statistic (mean cost, one rare error costing 100): the BCa interval from the
    counts equals scipy's BCa over the rows, up to Monte Carlo noise."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(3)
    cost = np.array([0.0, 1.0, 100.0])
    rows = rng.choice(3, size=400, p=[0.8, 0.19, 0.01])
    counts = np.bincount(rows, minlength=3).reshape(1, 3)

    def mean_cost(r):  # type: ignore[no-untyped-def]
        return (r * cost).sum(-1) / r.sum(-1)

    lo, hi = bootstrap_counts(counts, mean_cost, draws=20000, seed=1)
    ref = bootstrap((cost[rows],), np.mean, n_resamples=20000, method="BCa", random_state=2).confidence_interval
    assert lo[0] == pytest.approx(ref.low, rel=0.05) and hi[0] == pytest.approx(ref.high, rel=0.05)


def test_count_refuses_inputs_it_would_misread() -> None:
    args = dict(classes=["a", "b"], group=np.array([0, 1]), membership=np.ones((2, 1), bool),
                truth=np.array([1, 0]), pred=np.array([1, 0]), conf=np.array([0.9, 0.8]),
                latency_ms=np.array([1.0, 2.0]), routed=np.array([False, True]))
    count(**args)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="routed must be a boolean array"):
        count(**(args | {"routed": np.array([1, 0])}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"pred codes must lie in \[-1, 2\); got 0..2"):
        count(**(args | {"pred": np.array([2, 0])}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one entry per row"):
        count(**(args | {"conf": np.array([0.5])}))  # type: ignore[arg-type]


def test_error_clusters_find_the_blob_the_model_gets_wrong() -> None:
    """Three blobs in a 6-d space; the model errs on 60 % of one blob and 10 % elsewhere, and that
    blob is mostly night: the cluster is found, night named over-represented, examples given."""
    from syncline.evaluate.diagnose import error_clusters

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 8, (3, 6))
    which = rng.integers(0, 3, 900)
    x = centres[which] + rng.normal(0, 1, (900, 6))
    wrong = rng.random(900) < np.where(which == 2, 0.6, 0.1)
    night = np.where(which == 2, rng.random(900) < 0.9, rng.random(900) < 0.2)
    member = np.column_stack([np.ones(900, bool), night])
    x[:5] = np.nan  # segments without vectors are left out
    ids = [f"seg-{i}" for i in range(900)]
    got = error_clusters(x, wrong, member, ["overall", "night"], ids, np.array(["e"] * 900, object),
                         np.arange(900) * 10**9, np.arange(1, 901) * 10**9)
    assert got["rows"] == 895 and got["clusters"]
    # k-means may cut the bad blob in parts (k grows with the rows): the clusters found are its parts
    blob = len(set(np.flatnonzero(which == 2).tolist()) - set(range(5)))
    assert abs(sum(c["rows"] for c in got["clusters"]) - blob) <= 15
    for c in got["clusters"]:
        assert c["error_rate"] > 0.45 and c["over_represented"][0]["slice"] == "night"
        assert all(wrong[int(e["target_id"].split("-")[1])] and which[int(e["target_id"].split("-")[1])] == 2
                   for e in c["examples"])


def test_confusion_pairs_give_the_commonest_mistakes_with_moments() -> None:
    from syncline.evaluate.diagnose import confusion_pairs

    truth = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, -1])
    pred = np.array([1, 1, 0, 1, 0, 1, 1, 1, 2, 1])
    conf = np.array([0.9, 0.6, 0.9, 0.9, 0.7, 0.95, 0.5, 0.8, 0.9, 0.9])
    ids = [f"s{i}" for i in range(10)]
    got = confusion_pairs(["a", "b", "c"], truth, pred, conf, ids, np.array(["e"] * 10, object),
                          np.arange(10) * 10**9, np.arange(1, 11) * 10**9)
    assert [(p["truth"], p["answer"], p["count"]) for p in got] == [("c", "b", 3), ("a", "b", 2), ("b", "a", 1)]
    assert [e["target_id"] for e in got[0]["examples"]] == ["s5", "s7", "s6"]  # most confident first
    assert got[0]["share_of_truth"] == pytest.approx(0.75) and got[0]["examples"][0]["t0_s"] == 5.0


def test_frame_groups_keep_adjacent_lists_apart() -> None:
    """DuckDB's hash() folds adjacent lists together (['a','b'], NULL == ['a'], ['b']); rows with
    those values must still be two groups, or a slice would take the other row's membership."""
    import duckdb

    from syncline.catalog import query as Q

    con = duckdb.connect()
    t = con.sql("""SELECT * FROM (VALUES ({'rain': ['false','true'], 'wind': NULL::VARCHAR[]}, ['x','y'], ['z']),
                                         ({'rain': ['false'], 'wind': ['true']}, ['x'], ['y','z']),
                                         ({'rain': ['false'], 'wind': ['true']}, ['x'], ['y','z'])) v(context, a, b)
                """).to_arrow_table()
    for cols in (["context"], ["a", "b"], ["context", "a", "b"]):
        codes, first = Q.frame_groups(con, t, cols)
        assert codes.tolist() == [0, 1, 1] and first.tolist() == [0, 1], cols


@pytest.mark.parametrize("seed", range(6))
def test_count_bins_equal_a_direct_pass_over_each_slice_in_any_step_and_thread_split(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``count`` builds its keys in cache-sized steps and splits rows across threads; with odd
    steps (7 rows) and 1–3 threads, every slice's confidence bins (rows, right, summed
    confidence), latency histogram and routed count equal a plain per-slice computation —
    including ugly values: NaN, infinite and out-of-range confidences, zero, negative and
    infinite latencies."""
    from syncline.evaluate import counts as counts_mod
    from syncline.evaluate.counts import FINE_BINS, LAT_BINS, LAT_HI, LAT_LO

    rng = np.random.default_rng(100 + seed)
    n, g = int(rng.integers(200, 2000)), int(rng.integers(1, 12))
    k = (2, 3, 4, 181, 200, 3)[seed]  # from 181 classes the pair codes no longer fit int16
    truth, pred = rng.integers(-1, k, n), rng.integers(-1, k, n)
    conf = rng.random(n)
    ugly = rng.random(n) < 0.15
    conf[ugly] = rng.choice([np.nan, np.inf, -np.inf, -0.2, 1.3, 1.0, 0.0, 1e300, -1e300], ugly.sum())
    lat = rng.lognormal(2, 2, n)
    ugly = rng.random(n) < 0.15
    lat[ugly] = rng.choice([np.nan, 0.0, -5.0, np.inf, 1e-9, 1e12, 1e300], ugly.sum())
    routed, group = rng.random(n) < 0.3, rng.integers(0, g, n)
    membership = rng.random((g, 5)) < 0.5
    membership[:, 0] = True
    classes = [f"c{j}" for j in range(k)]
    first = count(classes, group, membership, truth, pred, conf, lat, routed, threads=1)
    monkeypatch.setattr(counts_mod, "_STEP", 7)
    for threads in (1, 2, 3):
        c = count(classes, group, membership, truth, pred, conf, lat, routed, threads=threads)
        for j in range(membership.shape[1]):
            inside = membership[group, j]
            scored = inside & (truth >= 0) & (pred >= 0) & np.isfinite(conf)
            bins = np.clip(np.floor(conf[scored] * FINE_BINS), 0, FINE_BINS - 1).astype(int)
            assert np.array_equal(c.conf_n[j], np.bincount(bins, minlength=FINE_BINS))
            right = (truth == pred)[scored]
            assert np.array_equal(c.conf_correct[j], np.bincount(bins, weights=right, minlength=FINE_BINS))
            assert np.allclose(c.conf_sum[j], np.bincount(bins, weights=conf[scored], minlength=FINE_BINS),
                               rtol=1e-12, atol=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                pos = np.log(lat[inside] / LAT_LO) / np.log(LAT_HI / LAT_LO) * LAT_BINS
            pos = pos[np.isfinite(pos)]
            want = np.bincount(np.clip(np.floor(pos), 0, LAT_BINS - 1).astype(int), minlength=LAT_BINS)
            assert c.latency[j].sum() == want.sum()  # only a row within float32's rounding of an edge may move
            assert np.abs(np.cumsum(c.latency[j] - want)).max() <= 1
            assert c.routed[j] == (inside & routed).sum() and c.rows[j] == inside.sum()
            both = inside & (truth >= 0) & (pred >= 0)
            assert np.array_equal(c.confusion[j], np.bincount(truth[both] * k + pred[both],
                                                              minlength=k * k).reshape(k, k))
            assert np.array_equal(c.no_answer[j, :k], np.bincount(truth[inside & (truth >= 0) & (pred < 0)],
                                                                  minlength=k))
        assert np.array_equal(c.latency, first.latency) and np.array_equal(c.conf_n, first.conf_n)
        if threads == 1:  # one part sums each bin in row order: the same bits whatever the step
            assert np.array_equal(c.conf_sum, first.conf_sum)
