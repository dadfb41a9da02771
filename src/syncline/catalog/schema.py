"""Explicit Arrow schemas of every catalog table, and the key each table upserts on.

Conventions: times on an entity timeline are ``int64`` nanoseconds (``*_ns``); wall-clock
instants are ``int64`` nanoseconds since the Unix epoch (``*_utc_ns``); free-form attributes
are JSON text (``*_json``) so that DuckDB's JSON functions can reach into them; provenance is
carried by ``asset_ids`` and ``subject_ids`` list columns on every derived row, so that a
consent withdrawal finds everything to purge with one query per table.

Adding a column here later is safe: ``Store`` adds missing columns to existing tables as
all-null columns without rewriting their data files.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

_str = pa.string()
_i64 = pa.int64()
_f64 = pa.float64()
_bool = pa.bool_()
_strs = pa.list_(pa.string())


def _f(name: str, type_: pa.DataType, nullable: bool = True) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


_PROVENANCE = [_f("asset_ids", _strs), _f("subject_ids", _strs)]


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: str
    schema: pa.Schema
    doc: str


TABLES: dict[str, TableSpec] = {}


def _table(name: str, key: str, doc: str, fields: list[pa.Field]) -> None:
    TABLES[name] = TableSpec(name, key, pa.schema(fields), doc)


_table("entities", "entity_id", "the real-world things that were recorded", [
    _f("entity_id", _str, False),
    _f("origin_utc_ns", _i64),        # wall clock of t=0 on the entity timeline
    _f("source", _str),                # manifest | convention
    _f("attrs_json", _str),
    _f("metadata_json", _str),         # this entity's row of a metadata table
    _f("metadata_asset_id", _str),
])

_table("subjects", "subject_id", "people whose consent governs assets (pseudonymous)", [
    _f("subject_id", _str, False),
    _f("jurisdiction", _str),
    _f("attrs_json", _str),
])

_table("assets", "asset_id", "one file of one modality of an entity", [
    _f("asset_id", _str, False),
    _f("sha256", _str, False),
    _f("bytes", _i64, False),
    _f("modality", _str, False),
    _f("format", _str),
    _f("entity_id", _str, False),
    _f("source_path", _str),           # where it was found (as given, UTF-8)
    _f("source_mtime_ns", _i64),       # with bytes, lets a re-ingest skip re-hashing
    _f("duplicate_paths", _strs),      # other paths holding the same bytes
    _f("managed_path", _str),          # relative to the project's media/ folder; null = in place
    _f("managed_sha256", _str),        # hash of the scrubbed managed copy
    _f("stripped", _strs),             # what scrubbing removed (exif, gps, xmp, comment, ...)
    _f("duration_ns", _i64),
    _f("start_ns", _i64),
    _f("codec", _str),
    _f("width", _i64),
    _f("height", _i64),
    _f("fps", _f64),
    _f("frame_count", _i64),
    _f("sample_rate", _i64),
    _f("channels", _i64),
    _f("priming_samples", _i64),
    _f("n_items", _i64),
    _f("capture_time_utc_ns", _i64),
    _f("had_gps", _bool),
    _f("device", _str),
    _f("camera", _str),
    _f("mic", _str),
    _f("channel", _str),
    _f("context_json", _str),
    _f("nominal_start_utc_ns", _i64),  # wall-clock start claimed by manifest/EXIF/container
    _f("clock_offset_ns", _i64),       # asset-local 0 -> entity timeline
    _f("clock_drift_ppm", _f64),
    _f("clock_source", _str),
    _f("jurisdiction", _str),
    _f("subject_ids", _strs),
    _f("media_json", _str),
    _f("ingest_version", _str),
])

_table("segments", "segment_id", "spans [t0, t1) on an entity timeline", [
    _f("segment_id", _str, False),
    _f("entity_id", _str, False),
    _f("t0_ns", _i64, False),
    _f("t1_ns", _i64, False),
    _f("segmenter", _str, False),
    _f("region_json", _str),
    *_PROVENANCE,
])

_table("events", "event_id", "timestamped occurrences with a type and a state", [
    _f("event_id", _str, False),
    _f("entity_id", _str, False),
    _f("t_ns", _i64, False),
    _f("type", _str, False),
    _f("state", _str),
    _f("actor", _str),
    _f("payload_json", _str),
    *_PROVENANCE,
])

_table("labels", "label_id", "values of schema fields, perception or judgment", [
    _f("label_id", _str, False),
    _f("target_type", _str, False),    # entity | segment | event | region
    _f("target_id", _str, False),
    _f("field", _str, False),
    _f("value", _str),
    _f("kind", _str, False),           # perception | judgment
    _f("annotator", _str),
    _f("annotator_tier", _str),
    _f("guideline_version", _str),
    _f("confidence", _f64),
    _f("instance", _str),              # which of an annotator's shapes on the target (boxes, spans)
    *_PROVENANCE,
])

_table("guidelines", "version", "annotation guideline versions: pilot, frozen, superseded", [
    _f("version", _str, False),          # g-<hash of the Markdown and the label schema>
    _f("status", _str, False),           # pilot | frozen | superseded
    _f("schema_hash", _str, False),
    _f("text", _str),                    # the Markdown, for diffs
    _f("created_utc_ns", _i64),
    _f("frozen_utc_ns", _i64),
    _f("pilot_target_ids", _strs),       # the pilot slice, chosen to cover capture conditions
])

_table("grades", "grade_id", "second-tier reviews of labels or demonstrations", [
    _f("grade_id", _str, False),
    _f("label_id", _str, False),
    _f("grader", _str),
    _f("verdict", _str),               # accept | fix | reject
    _f("score", _f64),                 # 1-5 expertness of a demonstration (optional)
    _f("accepted", _bool),
    _f("corrected_value", _str),
    _f("graded_value", _str),          # the label's value when it was graded (a relabel reopens it)
    _f("guideline_version", _str),
    *_PROVENANCE,
])

_table("representations", "representation_id", "encoders with explicit versions", [
    _f("representation_id", _str, False),
    _f("name", _str, False),
    _f("version", _str, False),
    _f("modality", _str, False),
    _f("dim", _i64, False),
    _f("config_hash", _str, False),
    _f("config_json", _str),
])

_table("embeddings", "embedding_id", "vectors per representation", [
    _f("embedding_id", _str, False),
    _f("representation_id", _str, False),
    _f("target_type", _str, False),
    _f("target_id", _str, False),
    _f("vector", pa.list_(pa.float32())),
    *_PROVENANCE,
])

_table("predictions", "prediction_id", "model outputs, pinned to a run", [
    _f("prediction_id", _str, False),
    _f("run_id", _str, False),
    _f("target_type", _str, False),
    _f("target_id", _str, False),
    _f("field", _str, False),
    _f("value", _str),
    _f("score", _f64),
    _f("abstained", _bool),
    _f("latency_ms", _f64),
    *_PROVENANCE,
    _f("route", _str),                 # act | review | abstain (a decision stage's routing)
    _f("details_json", _str),          # e.g. the expected cost, the reason of an abstention
])

_table("runs", "run_id", "pipeline and evaluation executions with pinned versions", [
    _f("run_id", _str, False),
    _f("kind", _str, False),
    _f("started_utc_ns", _i64),
    _f("finished_utc_ns", _i64),
    _f("status", _str),
    _f("task_hash", _str),
    _f("model_name", _str),
    _f("model_version", _str),
    _f("representation_ids", _strs),
    _f("table_versions_json", _str),
    _f("config_json", _str),
])

_table("metrics", "metric_id", "per-slice metrics of an evaluation run, each with its rows and interval", [
    _f("metric_id", _str, False),      # <eval run>|<slice>|<metric>|<label>
    _f("run_id", _str, False),         # the evaluation run
    _f("evaluated_run_id", _str),      # the run whose predictions were evaluated
    _f("field", _str),
    _f("slice", _str, False),
    _f("metric", _str, False),
    _f("label", _str),
    _f("value", _f64),
    _f("lo", _f64),                    # 95 % interval
    _f("hi", _f64),
    _f("n", _i64),                     # the rows the number is about
    _f("k", _i64),                     # the numerator, for proportions
    _f("method", _str),                # wilson | bootstrap | order-statistic | none
])

_table("scenarios", "scenario_id", "curated sets of targets (rare cases) evaluated on their own, versioned", [
    _f("scenario_id", _str, False),    # <suite>@<version>|<target>
    _f("suite", _str, False),
    _f("version", _str, False),        # hash of the sorted members: the same members, the same version
    _f("target_type", _str),
    _f("target_id", _str, False),
    _f("description", _str),
    _f("created_utc_ns", _i64),
    *_PROVENANCE,
])

_table("traces", "trace_id", "what each pipeline stage did to each segment of a run", [
    _f("trace_id", _str, False),
    _f("run_id", _str, False),
    _f("stage", _str, False),
    _f("target_id", _str, False),
    _f("status", _str, False),         # ok | failed | skipped | abstained | fallback
    _f("error", _str),
    _f("batch", _i64),
    _f("batch_seconds", _f64),         # the stage's time on the segment's batch
    _f("batch_rows", _i64),
    _f("output_bytes", _i64),          # the stage's outputs for the batch
    _f("outputs_json", _str),          # this segment's outputs, small ones in full
    *_PROVENANCE,
])

_table("clocks", "clock_id", "alignment estimates and clock corrections, one row per detector run", [
    _f("clock_id", _str, False),
    _f("run_id", _str, False),
    _f("entity_id", _str, False),
    _f("asset_id", _str, False),            # the asset whose clock this row is about
    _f("reference_asset_id", _str),         # the asset it was aligned against
    _f("method", _str, False),              # detector name and version
    _f("verdict", _str, False),             # aligned | ambiguous | abstain | no_plausible_alignment
    _f("reason", _str),
    _f("lag_ns", _i64),
    _f("drift_ppm", _f64),
    _f("uncertainty_ns", _i64),
    _f("score", _f64),
    _f("n_events", _i64),
    _f("expected_lag_ns", _i64),            # what the clocks before this run implied
    _f("old_offset_ns", _i64),
    _f("new_offset_ns", _i64),
    _f("old_drift_ppm", _f64),
    _f("new_drift_ppm", _f64),
    _f("applied", _bool),
    _f("details_json", _str),
    *_PROVENANCE,
])

_table("words", "word_id", "word timings refined by forced alignment, on the transcript's own time", [
    _f("word_id", _str, False),
    _f("asset_id", _str, False),            # the transcript
    _f("entity_id", _str, False),
    _f("cue_index", _i64, False),
    _f("word_index", _i64, False),          # -1: the refined utterance (cue) boundary itself
    _f("t0_ns", _i64, False),
    _f("t1_ns", _i64, False),
    _f("text", _str),
    _f("confidence", _f64),
    _f("method", _str, False),
    _f("run_id", _str),
    *_PROVENANCE,
])

_table("consent", "consent_id", "consent records per subject", [
    _f("consent_id", _str, False),
    _f("subject_id", _str, False),
    _f("status", _str, False),         # granted | withdrawn | pending
    _f("scope", _strs),
    _f("granted_at", _str),
    _f("withdrawn_at", _str),
    _f("jurisdiction", _str),
    _f("source", _str),
    _f("source_document", _str),
    _f("retention_days", _i64),
])

_table("lineage", "edge_id", "provenance edges: child row derived from parent row", [
    _f("edge_id", _str, False),
    _f("child_table", _str, False),
    _f("child_id", _str, False),
    _f("parent_table", _str, False),
    _f("parent_id", _str, False),
    _f("run_id", _str),
])

_table("findings", "finding_id", "what audits found, where, how bad", [
    _f("finding_id", _str, False),
    _f("check", _str, False),
    _f("severity", _str, False),       # info | warning | error
    _f("target_type", _str),
    _f("target_id", _str),
    _f("entity_id", _str),
    _f("t0_ns", _i64),
    _f("t1_ns", _i64),
    _f("message", _str),
    _f("details_json", _str),
    _f("run_id", _str),
    *_PROVENANCE,
])

QUALITY_KINDS = ("video_black", "video_frozen", "video_blurred", "video_overexposed", "video_low_light",
                 "audio_silent", "audio_clipped", "audio_dc_offset", "audio_low_snr",
                 "sensor_stuck", "sensor_spike", "sensor_gap", "sensor_time_backwards")

_table("quality", "segment_id", "per segment, the share of it each media defect covers: slices", [
    _f("segment_id", _str, False),
    _f("entity_id", _str, False),
    _f("segmenter", _str),
    _f("t0_ns", _i64),
    _f("t1_ns", _i64),
    _f("run_id", _str),                # the audit run that measured it
    *[_f(k, _f64) for k in QUALITY_KINDS],
    *_PROVENANCE,
])

_table("splits", "split_id", "train / validation / test assignments of labelled targets, by split set", [
    _f("split_id", _str, False),
    _f("split_set", _str, False),
    _f("field", _str),
    _f("target_id", _str, False),
    _f("entity_id", _str),
    _f("split", _str, False),          # train | validation | test
    *_PROVENANCE,
])

_table("quarantine", "quarantine_id", "files ingest refused, with a one-line reason", [
    _f("quarantine_id", _str, False),
    _f("path", _str, False),
    _f("sha256", _str),
    _f("kind", _str, False),
    _f("reason", _str, False),
])

_table("withdrawn", "hash", "tombstones of withdrawn consent: keyed hashes only, never an identity", [
    _f("hash", _str, False),           # keyed BLAKE2b under the project key (govern.keys)
    _f("kind", _str, False),           # subject | content (a sha256, asset ID or managed copy's sha256)
    _f("subject_hash", _str, False),   # the withdrawn subject's keyed hash (or the retention run's)
    _f("at_utc_ns", _i64, False),
    _f("action", _str),                # consent.withdraw | retention.apply
])

_table("audit_log", "log_id", "who did what to the catalog, when", [
    _f("log_id", _str, False),
    _f("at_utc_ns", _i64, False),
    _f("actor", _str),
    _f("action", _str, False),
    _f("details_json", _str),
])


def spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown catalog table {name!r}; tables: {', '.join(TABLES)}") from None
