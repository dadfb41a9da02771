"""Each labelled target's consensus value, as the audits count it: Dawid–Skene over all of the
field's labels (``annotate.consensus``).

Why not the SQL majority: with two annotators every disagreement is a tie, and a tie broken by
the class name hands the target to whichever class sorts first — on the demo's ``action`` that
was the rare ``alert_vet``, which then no longer looked rare. Dawid–Skene weighs each annotator
by how reliable they are on each class, so the expert's word settles a two-way disagreement and
a systematically confused crowd worker stops dragging the count.
"""

from __future__ import annotations

import numpy as np


def consensus(rows: list[tuple[str, str, str]]) -> dict[str, str]:
    """``{target: value}`` from ``(target, annotator, value)`` rows."""
    from syncline.annotate.consensus import dawid_skene

    if not rows:
        return {}
    targets, t = np.unique([r[0] for r in rows], return_inverse=True)
    _, a = np.unique([r[1] for r in rows], return_inverse=True)
    values, v = np.unique([r[2] for r in rows], return_inverse=True)
    gold = dawid_skene(t.ravel(), a.ravel(), v.ravel()).gold
    return {str(targets[i]): str(values[g]) for i, g in enumerate(gold) if g >= 0}


def with_consensus(rows: list[tuple[str, str, str, str]], gold: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """``Q.class_conditions`` rows ``(target, entity, value, condition)`` with the value replaced
    by the consensus."""
    return [(t, e, gold.get(t, v), c) for t, e, v, c in rows]
