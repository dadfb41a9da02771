"""Modality dominance: does one modality do nearly all the work?

For every class field labelled on segments, each labelled segment gets one vector per modality
from the built-in representations (log-mel per second of audio, colour and edge grid per second
of video), stored by ``syncline embed`` (what is missing is embedded first, once) and averaged
over the seconds inside the segment on the entity timeline, through each file's current clock
(``represent.search``). A fusion head — a logistic regression on the standardised
concatenation — is cross-validated with entities as groups. Then, per modality:

* *ablation*: the same fitted head with that modality's block set to its training mean; the
  drop in balanced accuracy is what the head takes from it;
* *alone*: a head fitted on that modality only.

Each modality's share of the contribution is its drop over the sum of drops. One modality with
80 % or more of it, while the fused head beats chance, is a finding: the "multimodal" model is a
unimodal one, and the other streams are along for the ride (or their features miss the signal).

With few segments the fused head can do worse than its best part (a small training set and many
noisy dimensions from the other streams), so the heads alone are tested too: a head alone that
beats chance by 0.1 in balanced accuracy is tested on how well it ranks the segments (its
out-of-fold AUC) against 99 shuffles of the labels on the same folds (a permutation p-value).
When exactly one modality passes with p ≤ 0.05 and no other does, only that modality carries the
label — the same finding. When none does and the fused head is no better than chance either, no
modality carries the label in these features (info).

A stream that ``syncline align`` examined but whose clock is not a recorded correction (it
abstained, found no plausible alignment, the lag was ambiguous, or the correction was never
applied) is left out: on its manifest clock it may sit
seconds off, its "window" features would come from another moment, and an ablation on them
measures the misalignment, not the modality. Left-out files are counted in the summary; streams
no alignment run examined are used as their clocks say.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from syncline.annotate.schema import SCHEMA_FILE, load_schema
from syncline.audit.findings import CannotRun, CheckResult, Finding
from syncline.audit.gold import consensus, with_consensus
from syncline.catalog import query as Q
from syncline.project import Project
from syncline.represent.search import Windows, segment_vectors, windows

MODALITIES = ("audio", "video")
DOMINANT, LIFT = 0.8, 0.1
ALONE_P, PERMUTATIONS = 0.05, 99


REPRESENTATIONS = {"audio": "logmel-1s@1", "video": "grid-colour-edges-1s@1"}


def _vectors(project: Project, errors: list[str]) -> dict[str, Windows]:
    """Each modality's stored window vectors (``syncline embed``; what is missing is embedded
    now, once, and kept for the next audit, pipeline or search)."""
    from syncline.represent.embed import embed
    from syncline.represent.registry import EncoderError

    try:
        report = embed(project, list(REPRESENTATIONS.values()))
    except EncoderError as e:
        raise CannotRun(f"the built-in vectors cannot be stored: {e}") from e
    errors += report.errors
    with project.catalog().connect() as con:
        return {m: windows(con, rid) for m, rid in REPRESENTATIONS.items()}


def modality_dominance(project: Project) -> CheckResult:
    path = project.root / SCHEMA_FILE
    if not path.exists():
        raise CannotRun(f"no label schema ({SCHEMA_FILE}): declare the label fields and import labels first")
    fields = [n for n, f in load_schema(path).fields.items() if f.type in ("class", "ordinal")
              and f.granularity == "segment"]
    with project.catalog().connect() as con:
        labelled = {f: with_consensus(Q.class_conditions(con, f, "entity"), consensus(Q.field_labels(con, f)))
                    for f in fields}
        spans = {f: {s["target_id"]: s for s in Q.label_target_spans(con, f)} for f in fields if labelled[f]}
        assets = Q.audit_assets(con, list(MODALITIES))
        examined = {str(r["asset_id"]) for r in Q.latest_alignment(con)}
    # examined by alignment, but its clock is not a recorded correction (nor the anchor): it
    # abstained, found nothing plausible, or was never applied (`syncline align` without --apply)
    unverified = {a["asset_id"] for a in assets if a["asset_id"] in examined
                  and not (str(a["clock_source"] or "") == "anchor"
                           or str(a["clock_source"] or "").startswith("estimated:"))}
    if not any(labelled.values()):
        raise CannotRun("no class labels on segments: import segment labels first")
    if len({a["modality"] for a in assets}) < 2:
        raise CannotRun("dominance needs two modalities (audio and video) in the catalog")
    result = CheckResult("dominance", ran=True)
    entities = {e for f in labelled.values() for _, e, _, _ in f}
    mine = [a for a in assets if a["entity_id"] in entities]
    synced = [a for a in mine if a["asset_id"] not in unverified]
    result.summary["streams"] = {"used": len(synced), "left_out_unverified": len(mine) - len(synced)}
    vectors = _vectors(project, result.errors)
    allowed = {a["asset_id"] for a in synced}
    for field in [f for f in fields if labelled[f]]:
        result.summary[field] = _field(result, field, labelled[field], spans[field], vectors, allowed)
    return result


def _field(result: CheckResult, field: str, labelled: list[tuple[str, str, str, str]],
           spans: dict[str, dict[str, Any]], vectors: dict[str, Windows], allowed: set[str]) -> dict[str, Any]:
    rows = [(entity, s["t0_ns"], s["t1_ns"], value) for target, entity, value, _ in labelled
            if (s := spans.get(target)) is not None and s["t0_ns"] is not None]
    ents = np.array([r[0] for r in rows], object)
    t0, t1 = np.array([r[1] for r in rows], np.int64), np.array([r[2] for r in rows], np.int64)
    per = {m: segment_vectors(vectors[m], ents, t0, t1, assets=allowed) for m in MODALITIES}
    every = np.ones(len(rows), bool)
    for m in MODALITIES:
        every &= ~np.isnan(per[m]).any(axis=1) if per[m].shape[1] else np.zeros(len(rows), bool)
    blocks = {m: per[m][every] for m in MODALITIES}
    y = [r[3] for r, ok in zip(rows, every, strict=True) if ok]
    groups = [r[0] for r, ok in zip(rows, every, strict=True) if ok]
    classes = sorted(set(y))
    if len(set(groups)) < 3 or len(classes) < 2 or len(y) < 20:
        return {"ran": False, "why_not": f"{len(y)} segments with every modality, {len(set(groups))} entities, "
                                         f"{len(classes)} classes: needs 20+, 3+ and 2+"}
    x = {m: np.asarray(blocks[m], np.float64) for m in MODALITIES}
    scores = _ablation(x, np.array([classes.index(v) for v in y]), np.array(groups), len(classes))
    drops = {m: max(0.0, scores["fused"] - scores[f"without {m}"]) for m in MODALITIES}
    total = sum(drops.values())
    shares = {m: round(d / total, 3) if total > 0 else None for m, d in drops.items()}
    chance = 1.0 / len(classes)
    out = {"ran": True, "segments": len(y), "chance": round(chance, 3),
           "balanced_accuracy": {k: round(v, 3) for k, v in scores.items()}, "shares": shares}
    y_idx = np.array([classes.index(v) for v in y])
    lifted = {m for m in MODALITIES if scores[f"{m} alone"] >= chance + LIFT}
    alone = _alone_p(x, y_idx, np.array(groups), lifted)
    p_alone = {m: a["p"] for m, a in alone.items()}
    out["alone_p"] = p_alone
    out["alone_auc"] = {m: a["auc"] for m, a in alone.items()}
    carriers = [m for m in MODALITIES if (p := p_alone[m]) is not None and p <= ALONE_P]
    top = max(drops, key=lambda m: drops[m])
    if total > 0 and drops[top] / total >= DOMINANT and drops[top] >= LIFT and scores["fused"] >= chance + LIFT and all(
            scores[f"{m} alone"] < chance + LIFT for m in MODALITIES if m != top):
        # a real drop without it, and no other modality that could do the job alone (that is redundancy)
        result.findings.append(Finding("dominance.one_modality", "warning",
                                       f"{field}: {top} does {drops[top] / total:.0%} of the work (balanced accuracy "
                                       f"{scores['fused']:.2f} fused, {scores[f'without {top}']:.2f} without {top})",
                                       f"the model is {_an(top)} model: check what the other streams should add, give "
                                       "them features that carry it, or drop them", "field", field,
                                       details=out | {"modality": top}))
    elif len(carriers) == 1:
        only = carriers[0]
        others = ", ".join(f"{m} alone {scores[f'{m} alone']:.2f} (AUC {alone[m]['auc']:.2f}, "
                           + (f"p = {p:.2f})" if (p := p_alone[m]) is not None else "within 0.1 of chance: not tested)")
                           for m in MODALITIES if m != only)
        fused = scores["fused"]
        result.findings.append(Finding("dominance.one_modality", "warning",
                                       f"{field}: only {only} carries it — {only} alone {scores[f'{only} alone']:.2f} "
                                       f"(AUC {alone[only]['auc']:.2f}, p = {p_alone[only]:.2f}, chance {chance:.2f}), "
                                       f"{others}; the fused head {fused:.2f}"
                                       + (" gains nothing from the rest" if fused <= scores[f"{only} alone"] else ""),
                                       f"the model is {_an(only)} model: check what the other streams should add, give "
                                       "them features that carry it, or drop them", "field", field,
                                       details=out | {"modality": only}))
    elif not carriers and scores["fused"] < chance + LIFT:
        result.findings.append(Finding("dominance.no_signal", "info",
                                       f"{field}: no modality carries it on the built-in audio and video features "
                                       f"(fused {scores['fused']:.2f}, "
                                       + ", ".join(f"{m} alone {scores[f'{m} alone']:.2f}" for m in MODALITIES)
                                       + f"; chance {chance:.2f})",
                                       "the label is not visible to these features: use a stronger representation "
                                       "or check that the label is observable in the media", "field", field,
                                       details=out))
    return out


def _ablation(x: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, k: int) -> dict[str, float]:
    """Out-of-fold balanced accuracy: fused, fused without each modality, each modality alone."""
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    names = list(x)
    full = np.hstack([x[m] for m in names])
    edges = np.cumsum([0] + [x[m].shape[1] for m in names])
    pred: dict[str, np.ndarray] = {key: np.zeros(len(y), np.int64) for key in
                                   ["fused", *[f"without {m}" for m in names], *[f"{m} alone" for m in names]]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train, test in GroupKFold(n_splits=min(5, len(set(groups)))).split(full, y, groups):
            scaler = StandardScaler().fit(full[train])
            xt, xs = scaler.transform(full[train]), scaler.transform(full[test])
            head = _fit(LogisticRegression, xt, y[train])
            pred["fused"][test] = head(xs)
            for i, m in enumerate(names):
                cut = xs.copy()
                cut[:, edges[i]:edges[i + 1]] = 0.0  # the training mean, after scaling
                pred[f"without {m}"][test] = head(cut)
                alone = _fit(LogisticRegression, xt[:, edges[i]:edges[i + 1]], y[train])
                pred[f"{m} alone"][test] = alone(xs[:, edges[i]:edges[i + 1]])
        return {key: float(balanced_accuracy_score(y, p)) for key, p in pred.items()}


def _an(modality: str) -> str:
    return ("an " if modality[0] in "aeiou" else "a ") + modality


def _alone_p(x: dict[str, np.ndarray], y: np.ndarray, groups: np.ndarray, tested: set[str], seed: int = 0,
             permutations: int = PERMUTATIONS) -> dict[str, dict[str, float | None]]:
    """Per modality, how well its logistic head alone ranks the segments: the out-of-fold AUC
    (macro one-vs-rest for more than two classes), and for the modalities in ``tested`` its
    permutation p-value — the share of ``permutations`` label shuffles (same folds) whose AUC is
    at least as high, counting the real labels once. The others (a balanced accuracy too close
    to chance to matter) get no p-value, which spares their model fits.

    AUC uses each segment's probability, not just which side of a threshold it fell on, so on a
    few dozen segments it tells a real signal from luck where balanced accuracy cannot."""
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    classes = np.unique(y)
    rng = np.random.default_rng(seed)
    shuffles = [rng.permutation(y) for _ in range(permutations)]
    folds = list(GroupKFold(n_splits=min(5, len(set(groups)))).split(y, y, groups))
    out: dict[str, dict[str, float | None]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m, v in x.items():
            scaled = [(s.transform(v[tr]), s.transform(v[te]), tr, te)
                      for s, tr, te in ((StandardScaler().fit(v[tr]), tr, te) for tr, te in folds)]
            labels = np.vstack([y, *shuffles]) if m in tested else y[None]
            scores = np.zeros((len(labels), len(y), len(classes)))
            for row, yy in zip(scores, labels, strict=True):
                for a, b, tr, te in scaled:
                    present = np.unique(yy[tr])
                    if len(present) < 2:  # a fold with one class predicts it
                        row[np.ix_(te, np.searchsorted(classes, present))] = 1.0
                        continue
                    head = LogisticRegression(max_iter=500).fit(a, yy[tr])
                    row[np.ix_(te, np.searchsorted(classes, head.classes_))] = head.predict_proba(b)
            auc = _macro_auc(scores, labels, classes)
            out[m] = {"auc": round(float(auc[0]), 3),
                      "p": round(float((1 + (auc[1:] >= auc[0]).sum()) / (permutations + 1)), 3)
                      if m in tested else None}
    return out


def _macro_auc(scores: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Per row of ``labels`` (one labelling of the segments), the AUC of ``scores[..., c]`` for
    class c against the rest, averaged over classes (binary: the second class's AUC), from
    mid-ranks (the Mann–Whitney form, ties counted half)."""
    from scipy.stats import rankdata

    which = classes[1:] if len(classes) == 2 else classes
    total = np.zeros(len(labels))
    for c in which:
        index = int(np.searchsorted(classes, c))
        ranks = rankdata(scores[:, :, index], axis=1)
        positive = labels == c
        n_pos = int(positive[0].sum())
        n_neg = labels.shape[1] - n_pos
        total += ((ranks * positive).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return total / len(which)


def _fit(model: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """A predictor fitted on (x, y); a fold with one class predicts that class."""
    if len(set(y.tolist())) < 2:
        only = int(y[0])
        return lambda z: np.full(len(z), only, np.int64)
    return model(max_iter=500).fit(x, y).predict
