"""A pipeline graph is refused before it runs, naming the stage and the port; the decision
rule is the least expected cost under the task's matrix (checked against a loop by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from syncline.pipeline.graph import Pipeline, PipelineError
from syncline.pipeline.routing import decide
from syncline.pipeline.stage import Stage, stage
from syncline.project import init_project
from syncline.task.spec import load_task

SOURCES = {"audio": "vector", "video": "vector"}


def _s(name: str, inputs: dict[str, str], outputs: dict[str, str] | None = None, **kw: object) -> Stage:
    return Stage(name, lambda **_: {}, inputs, outputs or {"p": "probabilities"}, **kw)  # type: ignore[arg-type]


def test_a_valid_graph_is_ordered_with_parallel_branches_before_their_fusion() -> None:
    pipe = Pipeline("barn", [_s("fuse", {"a": "hear.p", "b": "see.p"}), _s("hear", {"x": "source.audio"}),
                             _s("see", {"x": "source.video:vector"}), _s("decide", {"p": "fuse.p:probabilities"})],
                    SOURCES)
    assert pipe.order == ["hear", "see", "fuse", "decide"]
    assert len(pipe.config_hash()) == 16


@pytest.mark.parametrize("stages, message", [
    ([_s("a", {"x": "b.p"}), _s("b", {"x": "a.p"})], "cycle: a -> b -> a"),
    ([_s("a", {"x": "ghost.p"})], "stage a input x: refers to unknown stage 'ghost'"),
    ([_s("a", {"x": "source.audio"}), _s("b", {"x": "a.boxes"})], "stage b input x: stage a has no output 'boxes'"),
    ([_s("a", {"x": "source.thermal"})], "stage a input x: unknown source 'thermal'"),
    ([_s("a", {"x": "source.audio"}), _s("b", {"x": "a.p:vector"})],
     "stage b input x: expects 'vector' but a.p gives 'probabilities'"),
    ([_s("a", {"x": "source.audio"}), _s("a", {"x": "source.video"})], "stage a: declared twice"),
    ([_s("a", {"x": "source.audio"}, on_missing="fallback:b")], "stage a: fallback stage 'b' is not declared"),
    ([_s("a", {"x": "source.audio"}, on_missing="fallback:b"), _s("b", {"x": "source.video"}, {"q": "score"})],
     "stage a: fallback b gives"),
    ([_s("a", {"x": "source.audio"}, modalities=("depth",))], "stage a: needs modality 'depth'"),
    ([_s("a", {"x": "source.audio"}, {"p": "tensor"})], "stage a output p: unknown type 'tensor'"),
    ([_s("a", {"x": "source.audio"}, on_missing="ignore")], "stage a: on_missing must be"),
    ([_s("a", {"x": "source.audio"}, on_missing="fallback:a")], "stage a: cannot be its own fallback"),
    ([_s("a", {"x": "source.audio"}, on_missing="fallback:b"), _s("b", {"x": "source.video"}),
      _s("c", {"y": "b.p"})], "stage c input y: b runs only as a fallback"),
])
def test_an_invalid_graph_is_refused_naming_the_stage_and_port(stages: list[Stage], message: str) -> None:
    with pytest.raises(PipelineError) as e:
        Pipeline("bad", stages, SOURCES)
    assert any(message in p for p in e.value.problems), e.value.problems


def test_the_decorator_declares_a_stage() -> None:
    @stage("hear", inputs={"x": "source.audio"}, outputs={"p": "probabilities"}, modalities=("audio",),
           on_missing="abstain")
    def hear(x: np.ndarray) -> dict[str, np.ndarray]:
        return {"p": np.full((len(x), 2), 0.5)}

    assert hear.name == "hear" and hear.modalities == ("audio",) and hear.fn(np.zeros((3, 4)))["p"].shape == (3, 2)


def test_decide_is_the_least_expected_cost_and_routes_by_the_review_policy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = load_task(init_project(tmp_path / "p", template="farm").task_path)
    labels = spec.decision_labels
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(len(labels)) * 0.5, size=500)
    r = decide(p, labels, spec)
    for i in range(len(p)):
        costs = [sum(p[i, t] * spec.cost(labels[t], labels[d]) for t in range(len(labels))) for d in range(len(labels))]
        best = int(np.argmin(costs))
        assert r.decision[i] == labels[best] and r.expected_cost[i] == pytest.approx(costs[best])
        assert r.confidence[i] == pytest.approx(p[i, best])
        always = labels[best] in [spec.resolve(x)[1] for x in spec.review.always_review
                                  if spec.resolve(x)[0] == spec.decision.field]
        low = p[i, best] < spec.review.confidence_threshold
        assert r.route[i] == ("review" if always or low else "act")
    assert {"act", "review"} <= set(r.route)
    with pytest.raises(ValueError, match="do not match"):
        decide(p[:, :2], labels, spec)


def test_late_fusion_refuses_heads_over_other_classes() -> None:
    from syncline.pipeline.heads import late_fusion_stage

    with pytest.raises(ValueError, match="same classes"):
        late_fusion_stage("fuse", {"a": "x.p", "b": "y.p"}, {"a": ["calm", "distressed"], "b": ["distressed", "calm"]})
    fused = late_fusion_stage("fuse", {"a": "x.p", "b": "y.p"}, {"a": ["calm", "up"], "b": ["calm", "up"]},
                              weights={"a": 3.0})
    out = fused.fn(a=np.array([[1.0, 0.0]]), b=np.array([[0.0, 1.0]]))["probabilities"]
    np.testing.assert_allclose(out, [[0.75, 0.25]])


def test_the_decision_stage_refuses_rows_that_are_not_probabilities(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from syncline.pipeline.routing import decision_stage

    spec = load_task(init_project(tmp_path / "p", template="farm").task_path)
    st = decision_stage("decide", spec, ["alert_vet", "ignore"], "fuse.probabilities")
    assert st.fn(p=np.array([[0.2, 0.8]]))["decision"].tolist() == ["alert_vet"]  # 0.2 x 100 > 0.8 x 3
    for bad in ([[np.nan, np.nan]], [[0.5, 0.7]]):
        with pytest.raises(ValueError, match="not finite or do not sum to 1"):
            st.fn(p=np.array(bad))


def test_a_stage_re_run_row_by_row_keeps_every_row_whole() -> None:
    """The batch raises, so each row runs alone: the text each gives is kept in full whatever
    the first row's length, and only the row that raises fails."""
    from syncline.pipeline.local import FAILED, OK, _Batch, _call

    def label(x: np.ndarray) -> dict[str, np.ndarray]:
        if len(x) > 1:
            raise RuntimeError("one at a time")
        if x[0, 0] == 3:
            raise ValueError("three is bad")
        return {"name": np.array(["x" * int(x[0, 0] * 4 + 1)]), "score": x[:, 0] * 2}

    st = Stage("label", label, {"x": "source.audio"}, {"name": "text", "score": "score"})
    x = np.array([[0.0], [2.0], [3.0], [1.0]])
    outputs: dict[str, np.ndarray] = {}
    status, reason = np.full(4, OK, object), np.full(4, "", object)
    _call(st, np.ones(4, bool), {"audio": x}, _Batch(4), outputs, status, reason)
    assert outputs["name"][[0, 1, 3]].tolist() == ["x", "xxxxxxxxx", "xxxxx"]
    assert outputs["score"][[0, 1, 3]].tolist() == [0.0, 4.0, 2.0] and np.isnan(outputs["score"][2])
    assert status.tolist() == [OK, OK, FAILED, OK] and reason[2] == "ValueError: three is bad"
