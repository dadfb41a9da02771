"""The task spec (``task.yaml``): what is decided, what each mistake costs, what may never happen.

Every other capability starts from here: annotation schemas come from the label space, the
evaluation reads the error costs, hard gates and slices, the pipeline reads the modalities, the
review policy and the budget, and every run pins ``TaskSpec.content_hash()``.

A spec, in short (``syncline/templates/task_farm.yaml`` is a complete one)::

    version: 1
    name: vet-alert
    decision: {text: "...", affects: [animals, vet], field: action}
    labels:                           # field -> kind (perception | judgment) and values
      action: {kind: judgment, values: {alert_vet: "...", watch: "...", ignore: "..."}}
    error_costs:                      # true label -> predicted label -> cost, over decision.field
      alert_vet: {alert_vet: 0, watch: 50, ignore: 100}
      ...
    hard_gates:                       # a mapping, or the same thing in words
      - {metric: false_negative_rate, label: alert_vet, op: "<=", value: 0.02, scope: every_slice}
      - "false-negative rate on `animal_state.distressed` <= 2% in every slice"
    modalities: {required: {video: {adds: "..."}}, optional: {transcript: {adds: "..."}}}
    slices: [{name: night, where: "context.lighting == 'night'"}]
    review: {confidence_threshold: 0.6, always_review: [alert_vet], max_review_rate: 0.1}
    budget: {p95_latency_ms: 500, max_gpu_memory_gb: 0, cpu_only: true,
             cost_per_1000_decisions: 0.2}

A label reference is ``value`` (a value of the decision field) or ``field.value`` (any field).
``load_task`` reports every problem at once, one line each: file, field path, bad value, what
is allowed.
"""

from __future__ import annotations

from syncline.task._base import Name
from syncline.task.errors import TaskSpecError
from syncline.task.gates import GATE_OPS, METRICS, PER_LABEL_METRICS, HardGate, Metric, parse_gate
from syncline.task.slices import SLICE_OPS, Condition, Scalar, Slice, parse_condition
from syncline.task.spec import (
    MODALITIES,
    TEMPLATES,
    Budget,
    Decision,
    LabelField,
    Modalities,
    Modality,
    ModalityNeed,
    Problem,
    ReviewPolicy,
    TaskSpec,
    cross_check,
    load_task,
    template_path,
    validate_task,
)

__all__ = [
    "GATE_OPS",
    "METRICS",
    "MODALITIES",
    "PER_LABEL_METRICS",
    "SLICE_OPS",
    "TEMPLATES",
    "Budget",
    "Condition",
    "Decision",
    "HardGate",
    "LabelField",
    "Metric",
    "Modalities",
    "Modality",
    "ModalityNeed",
    "Name",
    "Problem",
    "ReviewPolicy",
    "Scalar",
    "Slice",
    "TaskSpec",
    "TaskSpecError",
    "cross_check",
    "load_task",
    "parse_condition",
    "parse_gate",
    "template_path",
    "validate_task",
]
