"""The demo's annotation step, found against planted: agreement per lighting slice, the
Dawid–Skene consensus, and how both compare with the world's true postures.

The product computes agreement and gold values from the labels alone; only this card reads
``ground_truth.json`` — to show that the slice report points at the planted annotator (crowd-c
at night), that the consensus is at least as accurate as any crowd annotator, and that
Dawid–Skene recovers the planted confusion rate from the labels alone.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from syncline.annotate.consensus import dawid_skene, majority
from syncline.project import Project


def annotation_card(project: Project, agreement: Any, gold: Any, truth_path: Path) -> dict[str, Any]:
    """Per slice: alpha and the lowest-kappa annotator; accuracy of gold, majority and each
    annotator against the truth, by lighting; crowd-c's estimated night confusion."""
    truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))["annotation"]
    with project.catalog().connect() as con:
        seg = {(e, int(t0), int(t1)): str(s) for s, e, t0, t1 in con.sql(
            "SELECT segment_id, entity_id, t0_ns, t1_ns FROM segments").fetchall()}
        labels = con.sql("SELECT target_id, annotator, value FROM labels WHERE field = 'posture'").fetchall()
    windows = {seg[(w["entity_id"], w["t0_ns"], w["t1_ns"])]: w for w in truth["windows"]
               if (w["entity_id"], w["t0_ns"], w["t1_ns"]) in seg}
    gold_of = {r["target_id"]: r["value"] for r in gold.rows}
    said: dict[str, dict[str, str]] = {}
    for t, a, v in labels:
        said.setdefault(str(a), {})[str(t)] = str(v)

    def accuracy(values: dict[str, Any], lighting: str) -> float:
        hits = [values.get(t) == w["posture"] for t, w in windows.items() if w["lighting"] == lighting and t in values]
        return round(float(np.mean(hits)), 3) if hits else float("nan")

    majority_of = _majority(said, list(windows))
    card: dict[str, Any] = {"windows": len(windows), "slices": {}, "accuracy": {}}
    for part in agreement.slices:
        enough = [r for r in part.per_annotator if r["targets"] >= 10]  # not the grader's handful of fixes
        worst = min(enough, key=lambda r: r["score"] if r["score"] == r["score"] else 9)
        card["slices"][part.slice] = {"alpha": round(part.value, 3), "interval": [round(x, 3) for x in part.interval],
                                      "lowest": worst["annotator"], "lowest_kappa": round(worst["score"], 3)}
    for lighting in ("day", "night"):
        card["accuracy"][lighting] = {"gold (Dawid-Skene)": accuracy(gold_of, lighting),
                                      "majority": accuracy(majority_of, lighting),
                                      **{a: accuracy(said[a], lighting) for a in sorted(said)}}
    card["crowd_c_night_lying_as_struggling"] = _night_confusion({a: d for a, d in said.items() if a != "vet-g"},
                                                                 windows)
    card["grader"] = _grader(project, windows)
    return card


def _grader(project: Project, windows: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """The grader's verdicts on crowd-c's labels, by lighting."""
    with project.catalog().connect() as con:
        rows = con.sql("SELECT l.target_id, g.verdict FROM grades g JOIN labels l USING (label_id)").fetchall()
    out: dict[str, dict[str, int]] = {}
    for t, verdict in rows:
        light = windows.get(str(t), {}).get("lighting", "unknown")
        out.setdefault(light, {}).setdefault(str(verdict), 0)
        out[light][str(verdict)] += 1
    return out


def _majority(said: dict[str, dict[str, str]], targets: list[str]) -> dict[str, str | None]:
    values = sorted({v for d in said.values() for v in d.values()})
    who = sorted(said)
    rows = [(i, j, values.index(said[a][t])) for i, t in enumerate(targets) for j, a in enumerate(who)
            if t in said[a]]
    items, annotators, labs = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    vote = majority(items, annotators, labs, n_items=len(targets), n_classes=len(values))
    return {t: (values[int(g)] if g >= 0 else None) for t, g in zip(targets, vote.gold, strict=True)}


def _night_confusion(said: dict[str, dict[str, str]], windows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the data say (truth) and what Dawid–Skene estimates (labels only, night windows)."""
    night = [t for t, w in windows.items() if w["lighting"] == "night"]
    lying = [t for t in night if windows[t]["posture"] == "lying"]
    observed = Counter(said["crowd-c"].get(t) for t in lying)
    values, who = ["standing", "lying", "down_struggling"], sorted(said)
    rows = [(i, j, values.index(said[a][t])) for i, t in enumerate(night) for j, a in enumerate(who) if t in said[a]]
    items, annotators, labs = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    ds = dawid_skene(items, annotators, labs, n_items=len(night), n_annotators=len(who), n_classes=3)
    assert ds.confusion is not None
    estimated = float(ds.confusion[who.index("crowd-c"), 1, 2])
    return {"lying_windows": len(lying), "true_rate": round(observed["down_struggling"] / max(1, len(lying)), 3),
            "dawid_skene_estimate": round(estimated, 3)}


def print_annotation_card(console: Console, card: dict[str, Any]) -> None:
    console.print(f"      [bold]annotation scorecard[/bold] (ground truth of {card['windows']} windows)")
    for name, s in card["slices"].items():
        console.print(f"        {name:<16} alpha {s['alpha']:.3f} [{s['interval'][0]:.3f}, {s['interval'][1]:.3f}]; "
                      f"lowest kappa: {s['lowest']} ({s['lowest_kappa']:.3f})", highlight=False)
    for lighting, acc in card["accuracy"].items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in acc.items())
        console.print(f"        accuracy by {lighting}: {parts}", highlight=False)
    for lighting, verdicts in sorted(card["grader"].items()):
        console.print(f"        grader vet-g on crowd-c by {lighting}: "
                      + ", ".join(f"{v} {n}" for v, n in sorted(verdicts.items())), highlight=False)
    c = card["crowd_c_night_lying_as_struggling"]
    console.print(f"        planted: crowd-c calls {c['true_rate']:.0%} of {c['lying_windows']} night lying windows "
                  f"down_struggling; Dawid-Skene estimates {c['dawid_skene_estimate']:.0%} from the labels alone",
                  highlight=False)
