"""The audits' consensus value per target: a two-annotator disagreement goes to the annotator
who is reliable elsewhere, not to the class whose name sorts first."""

from __future__ import annotations

import numpy as np

from syncline.audit.gold import consensus, with_consensus


def test_a_two_way_tie_goes_to_the_reliable_annotator() -> None:
    # vet and crowd label everything, a tech a third of it (so who is reliable can be learnt)
    rng = np.random.default_rng(2)
    rows, truth = [], {}

    def say(t: str, acc: float) -> str:
        return t if rng.random() < acc else ("alert" if t == "ok" else "ok")

    for i in range(400):
        t = "alert" if rng.random() < 0.08 else "ok"
        truth[f"t{i}"] = t
        rows += [(f"t{i}", "vet", say(t, 0.98)), (f"t{i}", "crowd", say(t, 0.75))]
        if i % 3 == 0:
            rows.append((f"t{i}", "tech", say(t, 0.9)))
    votes: dict[str, list[str]] = {}
    for t, _, v in rows:
        votes.setdefault(t, []).append(v)
    ties = [t for t, vs in votes.items() if len(vs) == 2 and vs[0] != vs[1]]
    assert len(ties) > 50
    gold = consensus(rows)
    assert sum(gold[t] == truth[t] for t in ties) / len(ties) >= 0.9
    by_name = sum(min(votes[t]) == truth[t] for t in ties) / len(ties)  # "alert" < "ok": a tie goes to the rare class
    assert by_name < 0.9


def test_with_consensus_replaces_only_the_value() -> None:
    rows = [("a", "e1", "x", "day"), ("b", "e2", "y", "night")]
    assert with_consensus(rows, {"a": "z"}) == [("a", "e1", "z", "day"), ("b", "e2", "y", "night")]
    assert consensus([]) == {}
