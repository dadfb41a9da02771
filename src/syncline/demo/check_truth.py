"""The demo's data audits found against planted: precision and recall for the checks beyond media.

Each scorer turns ``ground_truth.json`` into the set of things the check should report and the
catalog's findings into the set it did report, in the same keys, so precision and recall are
set arithmetic (``score``):

* *label noise* — every label whose value is not its window's truth (``annotation.wrong``),
  keyed (field, annotator, entity, window start), against the labels the disagreement finding
  lists as suspect. Fields with fewer than three annotators per target cannot be judged by
  disagreement (two people who differ cannot say who is wrong); their wrong labels are counted
  apart, not hidden in the recall;
* *text leakage* — the planted (field, source) pairs (the barn book naming the posture);
* *split leakage* — subjects whose entities (from the world's assets) fall in two or more splits
  of the catalog's split set, and planted near-duplicate photos whose entities do;
* *imbalance* — rare classes (under 5 % or 10× fewer than the largest) and class-by-lighting
  confounds (χ² p < 0.01 with Cramér's V ≥ 0.3) of the *true* window labels, against the check's
  findings on the consensus labels;
* *dominance* — the planted dominant modality (``vocal`` is heard, not seen). Posture and action
  are not scored: the world makes them depend on lighting, which the cameras see, so "video
  carries it" and "no signal" are both defensible there; their verdicts are listed as unscored.

The splits are the catalog's (``syncline split`` assigns them); everything else is the world's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from syncline.catalog import query as Q
from syncline.project import Project

Key = tuple[Any, ...]


def score(planted: set[Key], found: set[Key]) -> dict[str, Any]:
    tp = len(planted & found)
    return {"planted": len(planted), "found": len(found),
            "precision": round(tp / len(found), 3) if found else None,
            "recall": round(tp / len(planted), 3) if planted else None,
            "missed": sorted(map(str, planted - found))[:10], "extra": sorted(map(str, found - planted))[:10]}


def _findings(project: Project, prefix: str) -> list[dict[str, Any]]:
    with project.catalog().connect() as con:
        return Q.findings_with_prefix(con, prefix)


def label_noise_card(project: Project, truth: dict[str, Any]) -> dict[str, Any]:
    ann = truth["annotation"]
    with project.catalog().connect() as con:
        where = Q.segment_starts(con)
        per_target = Q.most_annotators_per_target(con)
    judged = {f for f, n in per_target.items() if n >= 3}
    found: set[Key] = set()
    for f in _findings(project, "label_noise.disagreement"):
        if f["check"] == "label_noise.disagreement":
            found |= {(f["target_id"], a, *where[t]) for t, a, _ in f["details"]["suspects"] if t in where}
    wrong = {(w["field"], w["annotator"], w["entity_id"], int(w["t0_ns"])) for w in ann["wrong"]}
    card = {"disagreement": score({w for w in wrong if w[0] in judged}, found)}
    card["fields"] = {f: score({w for w in wrong if w[0] == f}, {x for x in found if x[0] == f})
                      for f in sorted(judged)}
    card["not_judgeable"] = dict(Counter(w[0] for w in wrong if w[0] not in judged))
    return card


def leakage_card(project: Project, truth: dict[str, Any]) -> dict[str, Any]:
    planted = {(leak["field"], leak["source"]) for leak in truth["annotation"]["leaks"] if leak["classes"]}
    found = {(f["target_id"], f["details"]["source"]) for f in _findings(project, "leakage.text")}
    shortcuts = sorted({f["target_id"] for f in _findings(project, "leakage.metadata_shortcut")})
    return {"text": score(planted, found), "metadata_shortcuts_reported": shortcuts}


def split_card(project: Project, truth: dict[str, Any]) -> dict[str, Any]:
    with project.catalog().connect() as con:
        rows = Q.split_entities(con)
        paths = Q.asset_paths(con)
    splits: dict[tuple[str, str], set[str]] = {}
    for name, entity, split in rows:
        splits.setdefault((str(name), str(entity)), set()).add(str(split))
    sets = sorted({k[0] for k in splits})
    entity_of = {p: a["entity_id"] for p, a in truth["assets"].items() if a.get("entity_id")}
    planted_s: set[Key] = set()
    planted_d: set[Key] = set()
    for name in sets:
        for subject, s in truth["subjects"].items():
            where = set().union(*[splits.get((name, entity_of[p]), set()) for p in s["assets"] if p in entity_of])
            if len(where) > 1:
                planted_s.add((name, subject))
        for path, a in truth["assets"].items():
            src = a.get("near_duplicate_of")
            mine, theirs = splits.get((name, entity_of.get(path, ""))), splits.get((name, entity_of.get(src or "", "")))
            if src and mine and theirs and mine != theirs:
                planted_d.add((name, frozenset((path.rsplit("/", 1)[-1], src.rsplit("/", 1)[-1]))))
    found_s = {(f["target_id"], f["details"]["subject"]) for f in _findings(project, "split.subject")}
    found_d = {(f["target_id"], frozenset(str(paths.get(a, "")).rsplit("/", 1)[-1] for a in f["details"]["assets"]))
               for f in _findings(project, "split.near_duplicate")}
    out = {"subject": score(planted_s, found_s), "near_duplicate": score(planted_d, found_d)}
    out["near_duplicate"]["missed"] = [sorted(k[1]) for k in planted_d - found_d]
    out["near_duplicate"]["extra"] = [sorted(k[1]) for k in found_d - planted_d]
    return out


def imbalance_card(project: Project, truth: dict[str, Any], fields: tuple[str, ...] = ("posture", "action", "vocal"),
                   ) -> dict[str, Any]:
    from scipy.stats import chi2_contingency

    from syncline.audit.imbalance import CONFOUND_P, CONFOUND_V, MAX_RATIO, RARE_SHARE

    windows = truth["annotation"]["windows"]
    rare: set[Key] = set()
    confound: set[Key] = set()
    for field in fields:
        counts = Counter(w[field] for w in windows)
        n, big = sum(counts.values()), max(counts.values())
        rare |= {(field, c) for c, m in counts.items() if m / n < RARE_SHARE or big / m > MAX_RATIO}
        classes, lights = sorted(counts), sorted({w["lighting"] for w in windows})
        table = np.array([[sum(1 for w in windows if w[field] == c and w["lighting"] == li) for li in lights]
                          for c in classes])
        chi2, p, _, _ = chi2_contingency(table, correction=False)
        if p < CONFOUND_P and np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))) >= CONFOUND_V:
            confound.add((field, "lighting"))
    got = _findings(project, "imbalance.")
    found_r = {(f["target_id"], f["details"]["class"]) for f in got if f["check"] == "imbalance.rare_class"
               and f["target_id"] in fields}
    found_c = {(f["target_id"], f["details"]["key"]) for f in got if f["check"] == "imbalance.confounded"
               and f["details"]["key"] == "lighting" and f["target_id"] in fields}
    return {"rare_class": score(rare, found_r), "confounded_by_lighting": score(confound, found_c)}


def dominance_card(project: Project, truth: dict[str, Any]) -> dict[str, Any]:
    ann = truth["annotation"]
    planted = {(f, "one_modality", m) for f, m in ann["dominance"].items()}
    got = [(f["target_id"], f["check"].split(".", 1)[1], f["details"].get("modality", ""))
           for f in _findings(project, "dominance.")]
    found = {g for g in got if g[0] in ann["dominance"]}
    unscored = sorted(map(str, {g for g in got if g[0] not in ann["dominance"]}))
    return {"verdicts": score(planted, found), "unscored": unscored}


def data_audit_card(project: Project, truth: dict[str, Any]) -> dict[str, Any]:
    """Every non-media check's score, and the overall precision and recall over all of them."""
    parts = {"label_noise": label_noise_card(project, truth), "leakage": leakage_card(project, truth),
             "split": split_card(project, truth), "imbalance": imbalance_card(project, truth),
             "dominance": dominance_card(project, truth)}
    rows = {f"{check}.{k}": v for check, part in parts.items() for k, v in part.items()
            if isinstance(v, dict) and "planted" in v}
    return {"checks": rows, "details": parts}
