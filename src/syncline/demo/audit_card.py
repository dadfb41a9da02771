"""The demo's audit, found against planted: precision and recall per media defect kind, and
per data check (``check_truth``: label noise, leaks, split leakage, imbalance, dominance).

The world plants black, frozen and blurred video frames, silent and clipped audio, and sensor
spikes, stuck readings and dropouts (``ground_truth.json``). A finding is a true positive when
it names the same file and kind as a planted defect and overlaps it in the file's own time; a
planted defect is found when such a finding exists. Kinds the world never plants (over-exposure,
DC offset, time going backwards) count every finding as a false positive; low light and low SNR
are capture conditions, not defects, and are only counted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from syncline.catalog import query as Q
from syncline.demo.check_truth import data_audit_card
from syncline.project import Project

CONDITIONS = ("media.video.low_light", "media.audio.low_snr")
NEVER_PLANTED = ("media.video.overexposed", "media.audio.dc_offset", "media.sensor.time_backwards")


def planted_defects(truth: dict[str, Any]) -> list[tuple[str, str, tuple[int, int]]]:
    """(file name, check, local span) of every planted media defect."""
    out: list[tuple[str, str, tuple[int, int]]] = []
    for path, a in truth["assets"].items():
        name = Path(path).name
        for d in a.get("defects", []):
            out.append((name, f"media.video.{d['kind']}", _span(d)))
        for kind, items in (a.get("faults") or {}).items():
            out += [(name, f"media.audio.{kind}", _span(x)) for x in items]
        g = a.get("glitches") or {}
        for key, check in (("dropouts", "gap"), ("spikes", "spike"), ("stuck", "stuck")):
            out += [(name, f"media.sensor.{check}", _span(x)) for x in g.get(key, [])]
    return out


def _span(item: dict[str, Any]) -> tuple[int, int]:
    return int(item["local_ns"][0]), int(item["local_ns"][1])


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def audit_card(project: Project, truth_path: Path) -> dict[str, Any]:
    truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    planted = planted_defects(truth)
    with project.catalog().connect() as con:
        rows = Q.findings_with_prefix(con, "media.")
    found = [(f["details"]["file"], f["check"], _span(f["details"])) for f in rows]
    kinds = sorted({c for _, c, _ in planted} | {c for _, c, _ in found if c not in CONDITIONS})
    card: dict[str, Any] = {"kinds": {}, "conditions": {c: sum(1 for _, k, _ in found if k == c) for c in CONDITIONS}}
    tp_all = fp_all = fn_all = 0
    for kind in kinds:
        p = [x for x in planted if x[1] == kind]
        f = [x for x in found if x[1] == kind]
        tp = sum(1 for x in f if any(x[0] == y[0] and _overlap(x[2], y[2]) for y in p))
        hit = sum(1 for y in p if any(x[0] == y[0] and _overlap(x[2], y[2]) for x in f))
        card["kinds"][kind] = {"planted": len(p), "found": len(f), "precision": round(tp / len(f), 3) if f else None,
                               "recall": round(hit / len(p), 3) if p else None}
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + len(f) - tp, fn_all + len(p) - hit
    card["data"] = data_audit_card(project, truth)
    card["precision"] = round(tp_all / max(1, tp_all + fp_all), 3)
    card["recall"] = round((sum(v["planted"] for v in card["kinds"].values()) - fn_all)
                           / max(1, sum(v["planted"] for v in card["kinds"].values())), 3)
    return card


def pr(k: dict[str, Any]) -> tuple[str, str]:
    """A score's precision and recall as text, "-" where there was nothing to score."""
    return tuple("-" if k[m] is None else f"{k[m]:.2f}" for m in ("precision", "recall"))  # type: ignore[return-value]


def print_audit_card(console: Console, card: dict[str, Any]) -> None:
    console.print(f"      [bold]audit scorecard[/bold]: precision {card['precision']:.2f}, recall {card['recall']:.2f} "
                  "against the planted defects")
    for kind, k in card["kinds"].items():
        p, r = pr(k)
        console.print(f"        {kind:<26} planted {k['planted']:>2}, found {k['found']:>2}; precision {p}, recall {r}",
                      highlight=False)
    console.print("      [bold]data audits[/bold] against the planted label noise, leaks, duplicates and dominance")
    for kind, k in card["data"]["checks"].items():
        p, r = pr(k)
        console.print(f"        {kind:<34} planted {k['planted']:>3}, found {k['found']:>3}; precision {p}, "
                      f"recall {r}", highlight=False)
