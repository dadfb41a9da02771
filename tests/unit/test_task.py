"""task.yaml: the packaged templates validate, and every kind of bad spec is named precisely."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from syncline.task import (
    HardGate,
    Slice,
    TaskSpec,
    TaskSpecError,
    load_task,
    parse_gate,
    template_path,
    validate_task,
)

FARM: dict[str, Any] = yaml.safe_load(template_path("farm").read_text(encoding="utf-8"))


def _write(tmp_path: Path, raw: Any, name: str = "task.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _problems(tmp_path: Path, mutate: Callable[[dict[str, Any]], Any]) -> list[str]:
    raw = copy.deepcopy(FARM)
    mutate(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(TaskSpecError) as info:
        load_task(path)
    lines = str(info.value).splitlines()
    assert lines == info.value.problems
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    assert "Traceback" not in str(info.value)
    return lines


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


# -- the templates ------------------------------------------------------------------------------


def test_farm_template_validates_with_its_decision_costs_gates_and_slices() -> None:
    spec = load_task(template_path("farm"))
    assert spec.decision.field == "action"
    assert spec.labels["action"].kind == "judgment"
    assert spec.decision_labels == ["alert_vet", "watch", "ignore"]
    assert {spec.labels[f].kind for f in ("animal_state", "call_type", "visible")} == {"perception"}
    assert spec.cost("alert_vet", "ignore") > 10 * spec.cost("ignore", "alert_vet")
    assert set(spec.modalities.required) == {"video", "audio", "sensor"}
    assert set(spec.modalities.optional) == {"transcript", "events"}
    distress = spec.hard_gates[0]
    assert (distress.metric, distress.label, distress.op, distress.value, distress.scope) == (
        "false_negative_rate", "animal_state.distressed", "<=", 0.02, "every_slice"
    )
    assert spec.resolve("animal_state.distressed") == ("animal_state", "distressed")
    assert spec.resolve("alert_vet") == ("action", "alert_vet")
    assert {s.name for s in spec.slices} >= {"night", "cam2", "rain", "barn_north", "barn_south"}
    assert spec.budget.cpu_only and spec.budget.p95_latency_ms == 500


def test_farm_template_registers_its_cross_modal_privacy_risks() -> None:
    spec = load_task(template_path("farm"))
    assert [(r.signals, r.reveals) for r in spec.privacy.inferences][:2] == [
        (["audio", "transcript"], "identity"), (["video", "events"], "behaviour")]
    assert [r.signals for r in spec.privacy.open_risks()] == [["video", "sensor", "events"]]


def test_blank_template_validates_as_it_is() -> None:
    spec = load_task(template_path("blank"))
    assert spec.decision_labels == ["positive", "negative"]


# -- each kind of invalid spec ------------------------------------------------------------------

BAD_GATE = {"metric": "false_negative_rate", "label": "distres", "op": "<=", "value": 0.02}

CASES: dict[str, tuple[Callable[[dict[str, Any]], Any], str, str]] = {
    "unknown label in gate": (
        lambda r: r["hard_gates"].append(BAD_GATE),
        "hard_gates[5].label", "unknown label 'distres'; allowed: alert_vet, watch, ignore",
    ),
    "unknown label in human-form gate": (
        lambda r: r["hard_gates"].append("false-negative rate on `distres` <= 2% in every slice"),
        "hard_gates[5].label", "'distres'",
    ),
    "gate on an undeclared slice": (
        lambda r: r["hard_gates"].append("recall on `alert_vet` >= 90% in slice `nite`"),
        "hard_gates[5].scope", "unknown slice 'nite'",
    ),
    "cost matrix missing a column": (
        lambda r: r["error_costs"]["alert_vet"].pop("ignore"),
        "error_costs.alert_vet.ignore", "missing cost of predicting 'ignore'",
    ),
    "cost matrix missing a row": (
        lambda r: r["error_costs"].pop("watch"),
        "error_costs.watch", "missing row for true label 'watch'",
    ),
    "cost matrix with an unknown column": (
        lambda r: r["error_costs"]["watch"].update(maybe=1),
        "error_costs.watch.maybe", "unknown label 'maybe'; allowed: alert_vet, watch, ignore",
    ),
    "negative cost": (
        lambda r: r["error_costs"]["watch"].update(ignore=-3),
        "error_costs.watch.ignore", "got -3",
    ),
    "non-zero diagonal": (
        lambda r: r["error_costs"]["watch"].update(watch=2),
        "error_costs.watch.watch", "got 2",
    ),
    "cost that is not a number": (
        lambda r: r["error_costs"]["watch"].update(ignore="twenty"),
        "error_costs.watch.ignore", "'twenty'",
    ),
    "modality without adds": (
        lambda r: r["modalities"]["required"]["video"].pop("adds"),
        "modalities.required.video.adds", "'adds' is missing",
    ),
    "modality with empty adds": (
        lambda r: r["modalities"]["required"]["audio"].update(adds=""),
        "modalities.required.audio.adds", "must not be empty; got ''",
    ),
    "unknown modality": (
        lambda r: r["modalities"]["required"].update(smell={"adds": "odour"}),
        "modalities.required.smell", "'smell'; allowed: video, audio, image",
    ),
    "bad slice operator in a string filter": (
        lambda r: r["slices"].append({"name": "dark", "where": "context.lighting ~= 'night'"}),
        "slices[5].where", "unknown operator '~='",
    ),
    "bad slice operator in a mapping filter": (
        lambda r: r["slices"].append(
            {"name": "dark", "where": {"column": "camera", "op": "like", "value": "cam"}}
        ),
        "slices[5].where[0].op", "unknown value 'like'; allowed: ==, !=, in",
    ),
    "slice 'in' without a list": (
        lambda r: r["slices"].append({"name": "c2", "where": "camera in 'cam2'"}),
        "slices[5].where[0]", "'cam2'",
    ),
    "duplicate slice name": (
        lambda r: r["slices"].append({"name": "night", "where": "camera == 'cam1'"}),
        "slices[5].name", "duplicate slice name 'night'",
    ),
    "threshold above 1": (
        lambda r: r["review"].update(confidence_threshold=1.5),
        "review.confidence_threshold", "must be <= 1; got 1.5",
    ),
    "review rate below 0": (
        lambda r: r["review"].update(max_review_rate=-0.1),
        "review.max_review_rate", "got -0.1",
    ),
    "unknown label under always_review": (
        lambda r: r["review"]["always_review"].append("animal_state.sick"),
        "review.always_review[2]", "'animal_state.sick'",
    ),
    "extra top-level key": (
        lambda r: r.update(slcies=[]),
        "slcies", "unknown key 'slcies'; allowed: version, name, decision, labels",
    ),
    "extra nested key": (
        lambda r: r["budget"].update(gpus=1),
        "budget.gpus", "unknown key 'gpus'; allowed: p95_latency_ms",
    ),
    "a version from the future": (
        lambda r: r.update(version=99),
        "version", "unknown value 99; allowed: 1",
    ),
    "zero latency budget": (
        lambda r: r["budget"].update(p95_latency_ms=0),
        "budget.p95_latency_ms", "must be > 0; got 0",
    ),
    "gpu memory on a cpu-only budget": (
        lambda r: r["budget"].update(max_gpu_memory_gb=8),
        "budget", "max_gpu_memory_gb must be 0; got 8",
    ),
    "unknown field kind": (
        lambda r: r["labels"]["visible"].update(kind="guess"),
        "labels.visible.kind", "unknown value 'guess'; allowed: perception, judgment",
    ),
    "decision on a perception field": (
        lambda r: r["decision"].update(field="animal_state"),
        "decision.field", "'animal_state' is a perception field",
    ),
    "unquoted yes as a label value": (
        lambda r: r["labels"]["visible"]["values"].update({True: "in view"}),
        "labels.visible.values", "quote it",
    ),
    "unknown gate metric": (
        lambda r: r["hard_gates"].append({**BAD_GATE, "metric": "f1", "label": "alert_vet"}),
        "hard_gates[5].metric", "unknown value 'f1'; allowed: false_negative_rate",
    ),
    "rate gate above 1": (
        lambda r: r["hard_gates"].append({**BAD_GATE, "label": "alert_vet", "value": 2}),
        "hard_gates[5]", "got 2",
    ),
    "privacy risk on a modality the task lacks": (
        lambda r: r["privacy"]["inferences"][0]["signals"].append("document"),
        "privacy.inferences[0].signals[2]", "'document' is not a modality of this task",
    ),
    "privacy risk of one signal": (
        lambda r: r["privacy"]["inferences"][0].update(signals=["audio", "audio"]),
        "privacy.inferences[0].signals", "needs two different signals",
    ),
    "privacy risk reveals an unknown kind": (
        lambda r: r["privacy"]["inferences"][0].update(reveals="mood"),
        "privacy.inferences[0].reveals", "mood",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_spec_names_the_field_path_and_the_bad_value(tmp_path: Path, case: str) -> None:
    mutate, path, detail = CASES[case]
    lines = _problems(tmp_path, mutate)
    assert len(lines) == 1, lines
    assert f": {path}: " in lines[0], lines[0]
    assert detail in lines[0], lines[0]


def test_all_problems_are_reported_at_once_one_line_each(tmp_path: Path) -> None:
    def two_problems(r: dict[str, Any]) -> None:
        r["review"]["confidence_threshold"] = 1.5  # a problem pydantic finds
        r["hard_gates"].append(BAD_GATE)  # a problem only the cross-section check finds

    lines = _problems(tmp_path, two_problems)
    assert len(lines) == 2, lines
    assert ": review.confidence_threshold: " in lines[0]
    assert ": hard_gates[5].label: " in lines[1]


def test_a_broken_gate_does_not_hide_a_bad_label_in_another_gate(tmp_path: Path) -> None:
    def two_gates(r: dict[str, Any]) -> None:
        r["hard_gates"].append("f1 on `alert_vet` >= 90%")
        r["hard_gates"].append(BAD_GATE)

    lines = _problems(tmp_path, two_gates)
    assert [line.split(": ")[1] for line in lines] == ["hard_gates[5]", "hard_gates[6].label"]
    assert "unknown metric 'f1'" in lines[0]


def test_yaml_syntax_error_gives_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("version: 1\nname: x\nlabels:\n  a: [1, 2\n  b: 3\n", encoding="utf-8")
    with pytest.raises(TaskSpecError) as info:
        load_task(path)
    (line,) = str(info.value).splitlines()
    assert line.startswith(f"{path}: line 5, column 4: YAML syntax error")


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "task.yaml"
    text = template_path("farm").read_text(encoding="utf-8")
    again = "  alert_vet: {alert_vet: 0, watch: 1, ignore: 1}\n  watch:     {"
    path.write_text(text.replace("  watch:     {", again), encoding="utf-8")
    with pytest.raises(TaskSpecError, match=r"line \d+, column 3: .*duplicate key 'alert_vet'"):
        load_task(path)


def test_missing_and_empty_files_are_reported_without_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(TaskSpecError, match="cannot read task spec"):
        load_task(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    with pytest.raises(TaskSpecError, match="got an empty file"):
        load_task(tmp_path / "empty.yaml")


def test_building_a_spec_directly_runs_the_cross_section_checks() -> None:
    raw = copy.deepcopy(FARM)
    raw["hard_gates"].append(BAD_GATE)
    with pytest.raises(ValidationError, match="unknown label 'distres'"):
        TaskSpec.model_validate(raw)


def test_spec_is_frozen() -> None:
    spec = validate_task(FARM)
    with pytest.raises(ValidationError):
        spec.name = "other"


# -- hard gates in words ------------------------------------------------------------------------


def test_human_form_gate_parses_into_the_typed_gate() -> None:
    words = "false-negative rate on `distress` <= 2% in every slice"
    gate = HardGate.model_validate(words)
    assert gate == HardGate(
        metric="false_negative_rate", label="distress", op="<=", value=0.02, scope="every_slice"
    )
    assert gate.to_human() == words
    assert parse_gate("FNR on `distress` ≤ 2 % in every slice") == gate.model_dump()
    assert parse_gate("p95 latency < 250ms")["scope"] == "overall"


@pytest.mark.parametrize(
    "gate",
    [
        {"metric": "false_negative_rate", "label": "a", "op": "<=", "value": 0.02,
         "scope": "every_slice"},
        {"metric": "false_positive_rate", "label": "f.v", "op": "<", "value": 0.07},
        {"metric": "precision", "label": "a", "op": ">=", "value": 0.125, "scope": "slice:night"},
        {"metric": "recall", "label": "a", "op": ">", "value": 0.999, "scope": "every_slice"},
        {"metric": "accuracy", "op": ">=", "value": 0.9, "scope": "overall"},
        {"metric": "ece", "op": "<=", "value": 0.05, "scope": "every_slice"},
        {"metric": "abstain_rate", "op": "<=", "value": 0.15, "scope": "overall"},
        {"metric": "p95_latency_ms", "op": "<=", "value": 500, "scope": "overall"},
        {"metric": "p95_latency_ms", "op": "<", "value": 12.5, "scope": "slice:cam2"},
    ],
)
def test_human_form_gate_round_trips(gate: dict[str, Any]) -> None:
    typed = HardGate.model_validate(gate)
    assert HardGate.model_validate(typed.to_human()) == typed


def test_gate_passes_compares_with_its_operator() -> None:
    gate = HardGate.model_validate("recall on `alert_vet` >= 90%")
    assert gate.passes(0.9) and not gate.passes(0.89)


# -- slices ---------------------------------------------------------------------------------------


def test_slice_filter_in_words_equals_the_mapping_form_and_matches_rows() -> None:
    words = Slice.model_validate(
        {"name": "night_cam2",
         "where": "context.lighting == 'night' and camera in ['cam2', 'cam3']"}
    )
    mapping = Slice.model_validate({"name": "night_cam2", "where": [
        {"column": "context.lighting", "op": "==", "value": "night"},
        {"column": "camera", "op": "in", "value": ["cam2", "cam3"]},
    ]})
    assert words == mapping
    assert words.matches({"context": {"lighting": "night"}, "camera": "cam2"})
    assert words.matches({"context.lighting": "night", "camera": "cam3"})
    assert not words.matches({"context": {"lighting": "day"}, "camera": "cam2"})
    assert words.to_sql() == "\"context\".\"lighting\" = 'night' AND \"camera\" IN ('cam2', 'cam3')"


# -- content hash ---------------------------------------------------------------------------------


def test_content_hash_is_stable_under_key_reordering_and_gate_spelling() -> None:
    spec = validate_task(FARM)
    assert validate_task(_reordered(FARM)).content_hash() == spec.content_hash()
    spelled = copy.deepcopy(FARM)
    spelled["hard_gates"] = [HardGate.model_validate(g).model_dump() for g in FARM["hard_gates"]]
    assert validate_task(spelled).content_hash() == spec.content_hash()
    assert load_task(template_path("farm")).content_hash() == spec.content_hash()
    assert len(spec.content_hash()) == 64


def test_content_hash_changes_when_a_cost_changes() -> None:
    changed = copy.deepcopy(FARM)
    changed["error_costs"]["alert_vet"]["ignore"] = 99
    assert validate_task(changed).content_hash() != validate_task(FARM).content_hash()
