"""Fusion and decision heads: scikit-learn logistic regressions fitted on labelled segments,
kept as plain numbers (no pickle) and versioned with what they were fitted on.

``fit_head`` takes per-segment feature blocks (one per modality or upstream stage), the labels
and the groups (entities): it reports out-of-fold balanced accuracy with the groups kept whole
(an entity never trains and tests a fold at once; with one entity there is no such score, and
it says None), then fits on everything. The head is the
standardisation and the coefficients, so ``LinearHead.predict_proba`` is one matrix product —
equal to scikit-learn's (a test checks it) — and the JSON file is readable and safe to load.
Its ID is ``name@<hash of the numbers>``: a refit on other data is another version.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from syncline.pipeline.stage import Role, Stage


@dataclass(frozen=True)
class LinearHead:
    name: str
    classes: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[list[float]]  # (k or 1, d)
    intercept: list[float]
    fitted_on: dict[str, Any]  # rows, groups, out-of-fold score, representation IDs, table versions

    @property
    def version(self) -> str:
        numbers = json.dumps([self.classes, self.mean, self.scale, self.coef, self.intercept])
        return hashlib.sha256(numbers.encode()).hexdigest()[:12]

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = np.einsum("nd,kd->nk", z, np.asarray(self.coef)) + np.asarray(self.intercept)
        if len(self.classes) == 2 and logits.shape[1] == 1:
            p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}@{self.version}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        tmp.replace(path)  # whole or not at all
        return path

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        return cls(**json.loads(Path(path).read_text(encoding="utf-8")))


def fit_head(name: str, x: np.ndarray, y: list[str], groups: list[str], *, c: float = 1.0,
             fitted_on: dict[str, Any] | None = None) -> LinearHead:
    """A logistic head on ``x`` (rows = segments); refuses what cannot be fitted, saying why."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import GroupKFold
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, np.float64)
    classes = sorted(set(y))
    if len(classes) < 2:
        raise ValueError(f"head {name}: one class only ({classes}); label segments of at least two classes")
    if len(y) < 10:
        raise ValueError(f"head {name}: {len(y)} segments; needs 10+")
    yi = np.array([classes.index(v) for v in y])
    oof = np.zeros(len(yi), np.int64)
    folds = list(GroupKFold(n_splits=min(5, len(set(groups)))).split(x, yi, groups)) if len(set(groups)) > 1 else []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for train, test in folds:
            scaler = StandardScaler().fit(x[train])
            if len(set(yi[train].tolist())) < 2:
                oof[test] = yi[train][0]
                continue
            model = LogisticRegression(C=c, max_iter=1000).fit(scaler.transform(x[train]), yi[train])
            oof[test] = model.predict(scaler.transform(x[test]))
        scaler = StandardScaler().fit(x)
        model = LogisticRegression(C=c, max_iter=1000).fit(scaler.transform(x), yi)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    score = round(float(balanced_accuracy_score(yi, oof)), 4) if folds else None  # one entity: no honest score
    info = {"rows": len(yi), "groups": len(set(groups)), "c": c, "out_of_fold_balanced_accuracy": score,
            "chance": round(1.0 / len(classes), 4)} | (fitted_on or {})
    return LinearHead(name, classes, scaler.mean_.tolist(), scale.tolist(), model.coef_.tolist(),
                      model.intercept_.tolist(), info)


def head_stage(name: str, head: LinearHead, inputs: dict[str, str], *, role: Role = "perception",
               modalities: tuple[str, ...] = (), on_missing: str = "skip") -> Stage:
    """A stage that applies ``head`` to its inputs, concatenated in the order given."""
    def fn(**xs: np.ndarray) -> dict[str, np.ndarray]:
        return {"probabilities": head.predict_proba(np.hstack([np.asarray(xs[a], np.float64) for a in inputs]))}

    return Stage(name, fn, dict(inputs), {"probabilities": "probabilities"}, role, modalities, on_missing,
                 version=head.version, params={"model_id": head.model_id, "classes": head.classes})


def late_fusion_stage(name: str, inputs: dict[str, str], classes: dict[str, list[str]], *,
                      weights: dict[str, float] | None = None, on_missing: str = "skip") -> Stage:
    """Late fusion: the weighted mean of upstream class probabilities. ``classes`` gives each
    input's class order (its head's ``classes``); they must be the same list, or the columns
    would be averaged across different classes."""
    orders = {tuple(classes.get(a, ())) for a in inputs}
    if len(orders) != 1 or not next(iter(orders)):
        raise ValueError(f"fusion {name}: its inputs must give probabilities over the same classes in the same "
                         f"order; got {classes}")
    w = {a: float((weights or {}).get(a, 1.0)) for a in inputs}

    def fn(**ps: np.ndarray) -> dict[str, np.ndarray]:
        stacked = np.stack([w[a] * np.asarray(ps[a], np.float64) for a in inputs])
        return {"probabilities": stacked.sum(axis=0) / sum(w.values())}

    return Stage(name, fn, dict(inputs), {"probabilities": "probabilities"}, "fusion", (), on_missing,
                 fusion="late", params={"weights": w, "classes": list(next(iter(orders)))})


def heads_by_representation(folder: Path) -> dict[str, list[str]]:
    """The saved heads (``models/*.json``) fitted on each representation, by representation ID."""
    out: dict[str, list[str]] = {}
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        try:
            head = LinearHead.load(path)
        except (OSError, ValueError, TypeError, AttributeError):
            continue  # not a head
        ids = head.fitted_on.get("representation_ids") if isinstance(head.fitted_on, dict) else None
        for rid in ids if isinstance(ids, list) else []:
            out.setdefault(str(rid), []).append(head.model_id)
    return out
