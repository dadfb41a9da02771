"""The local executor: a pipeline over a project's segments, batch by batch, with a trace of what
every stage did to every segment, and a run pinned to the versions it used.

* **Sources** are per-segment vectors of the stored representations (``represent.search``),
  formed once for all segments through the current clocks; a segment without a modality's
  vectors *lacks* that modality.
* **Stages** run in the graph's order, once per batch, on the rows that have every input. A
  row lacking a modality the stage needs follows the stage's ``on_missing``; a row whose
  upstream failed, was skipped or abstained is skipped, and the reason travels with it.
* **Failures are per segment.** A stage that raises on a batch is re-run row by row, so the
  segment that broke it is marked failed with the error, and the others go on.
* **Resumable.** Finished batches are committed together once ``commit_seconds`` (wall time on
  this process) have passed since the last commit or ``commit_rows`` segments (whole batches) are
  waiting, whichever comes first (traces, then predictions: ``pipeline.trace``); a segment is
  done when its prediction row exists, so ``run_pipeline(..., run_id=<the killed run>)`` does
  only the rest, and stable row IDs mean nothing is written twice. A kill loses the work since
  the last commit: about ``commit_seconds`` of wall time (with Ray's workers, that much of each)
  and at most ``max(commit_rows, batch_size)`` segments. Fast stages are not slowed by a commit
  (a Lance version, ~20 ms per table) every few thousand segments.
* **Pinned.** The run row names the catalog's table versions at the start, the pipeline's
  config hash, the representations and heads, and the task spec's hash; the run reads through
  those versions, and a resumed run must be the same pipeline with the same settings (it reads
  the versions it was pinned to, and its counts cover the whole run).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from syncline.catalog import query as Q
from syncline.ids import stable_id
from syncline.media.types import Modality
from syncline.pipeline.graph import Pipeline
from syncline.pipeline.trace import prediction_table, trace_table
from syncline.project import Project
from syncline.represent.search import segment_assets, segment_vectors, split_keys, windows

OK, FAILED, SKIPPED, ABSTAINED, FALLBACK = "ok", "failed", "skipped", "abstained", "fallback"
ABSTAIN_KEY, WHY_KEY = "_abstain", "_why"  # optional extra outputs of a stage: rows it abstains on, and why


@dataclass
class RunResult:
    run_id: str
    segments: int
    done_before: int
    routes: dict[str, int] = field(default_factory=dict)
    stage_status: dict[str, dict[str, int]] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class _Batch:
    """The state of one batch while its stages run: outputs, status and reason per stage."""

    n: int
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    status: dict[str, np.ndarray] = field(default_factory=dict)
    reason: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    nbytes: dict[str, int] = field(default_factory=dict)
    failed_at: np.ndarray = field(init=False)  # per row, the first stage that failed on it ("" if none)

    def __post_init__(self) -> None:
        self.failed_at = np.full(self.n, "", object)


def run_pipeline(project: Project, pipeline: Pipeline, *, representations: dict[str, str], segmenter: str,
                 field_name: str, run_id: str | None = None, batch_size: int = 1024, commit_rows: int = 65536,
                 commit_seconds: float = 10.0,
                 model_versions: dict[str, str] | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 map_batches: BatchMapper | None = None, form_sources: SourceFormer | None = None,
                 kind: str = "pipeline", note: dict[str, Any] | None = None,
                 pin: dict[str, int] | None = None) -> RunResult:
    """Run ``pipeline`` over every segment of ``segmenter``; ``representations`` maps each source
    (a modality) to its representation ID; the decision stage's ``decision`` output becomes the
    prediction of ``field_name``. ``map_batches`` runs the stages on the stream of batches and yields
    their states in order (default: here, one after another; ``pipeline.ray.ray_batches``: on a
    Ray cluster) — everything else,
    reading, provenance, traces, commits and the run row, is the same whoever runs the stages.
    ``form_sources`` replaces how segment vectors are formed from the stored windows (a red-team
    run shifts, drops or swaps a modality there: ``evaluate.redteam``); such a run is recorded
    with its ``kind`` and ``note``, and ``pin`` makes a fresh run read the table versions another
    run was pinned to."""
    map_batches = map_batches or local_batches
    missing = sorted(set(pipeline.sources) - set(representations))
    if missing:
        raise ValueError(f"pipeline {pipeline.name}: no representation given for source(s) {', '.join(missing)}")
    decisions = [s for s in pipeline.stages if s.role == "decision" and s.name not in pipeline.fallbacks]
    if len(decisions) != 1 or "decision" not in decisions[0].outputs:
        raise ValueError(f"pipeline {pipeline.name}: needs exactly one decision stage with a 'decision' output")
    started = time.time_ns()
    cat = project.catalog()
    with cat.connect(tables=("representations", "runs", "predictions")) as con:  # only what it asks
        modality = Q.representation_modalities(con)
        existing = Q.run_row(con, run_id) if run_id else None
        done = Q.predicted_targets(con, run_id) if run_id else set()
    for src, rid in representations.items():
        if rid not in modality:
            raise ValueError(f"source {src}: representation {rid} has no stored vectors; run `syncline embed -r {rid}`")
        if src in set(Modality) and modality[rid] != src:
            raise ValueError(f"source {src}: {rid} holds {modality[rid]} vectors, not {src}")
    config = {"segmenter": segmenter, "field": field_name, "batch_size": batch_size, "sources": representations,
              "models": model_versions or {}}
    if existing is not None:  # a resumed run: the same pipeline on the same data, or nothing
        snapshot = _check_resume(existing, pipeline, config)
        started = int(existing["started_utc_ns"] or started)
    else:
        snapshot = dict(pin) if pin else cat.snapshot()  # a red-team run reads what its clean run read
    wins, empty = {}, None
    try:
        with cat.connect(versions=snapshot, tables=("segments", "embeddings", "assets")) as con:  # what it is pinned to
            for src, rid in representations.items():
                wins[src] = windows(con, rid)
                if not len(wins[src].t0_ns):
                    empty = src
                    break
            else:
                spans = Q.segment_spans(con, segmenter)
                subjects = Q.asset_subjects(con)
    except (OSError, ValueError) as e:
        raise ValueError(f"run {run_id}: its pinned table versions cannot be read any more ({str(e).splitlines()[0]}); "
                         "old versions were cleaned up (a withdrawal or retention run): start a new run") from e
    if empty is not None:
        rid = representations[empty]
        raise ValueError(f"source {empty}: representation {rid} has no stored vectors (none in the table versions "
                         f"this run reads, or none whose file is still in the catalog); run `syncline embed -r {rid}`")
    if spans.num_rows == 0:
        raise ValueError(f"no segments of {segmenter!r}: run `syncline segment` first")
    run_id = run_id or stable_id("run", pipeline.name, pipeline.config_hash(), segmenter, started,
                                 json.dumps(note, sort_keys=True) if note else "")
    fresh = existing is None
    ids = np.asarray(spans.column("segment_id").to_pylist(), object)
    ents = np.asarray(spans.column("entity_id").to_pylist(), object)
    t0 = np.asarray(spans.column("t0_ns").to_numpy(), np.int64)
    t1 = np.asarray(spans.column("t1_ns").to_numpy(), np.int64)
    todo = np.flatnonzero(~np.isin(ids, list(done)))
    former = form_sources or (lambda ws, e, a, b: {s: segment_vectors(w, e, a, b) for s, w in ws.items()})
    sources = former(wins, ents[todo], t0[todo], t1[todo])
    keys = np.full(len(todo), "", object)
    for w in wins.values():  # provenance: each distinct set of files is listed once, rows point at it
        keys = keys + segment_assets(w, ents[todo], t0[todo], t1[todo])
    combos, which = split_keys(keys)
    take = pa.array(which.astype(np.int64))
    prov_assets = pa.array(combos, pa.list_(pa.string())).take(take)
    prov_subjects = pa.array([sorted({x for a in c for x in subjects.get(a, [])}) for c in combos],
                             pa.list_(pa.string())).take(take)
    result = RunResult(run_id, len(ids), len(ids) - len(todo))
    stages_info = [{"name": st.name, "role": st.role, "classes": st.params.get("classes")} for st in pipeline.stages]
    if note:
        config["note"] = note
    run_row = {"run_id": run_id, "kind": kind, "started_utc_ns": started, "status": "running",
               "task_hash": _task_hash(project), "model_name": pipeline.name,
               "model_version": pipeline.config_hash(),
               "representation_ids": sorted(set(representations.values())),
               "table_versions_json": json.dumps(snapshot, sort_keys=True),
               "config_json": json.dumps(config | {"stages": stages_info}, sort_keys=True)}
    if fresh:
        cat.upsert("runs", [run_row])
    t_run = time.perf_counter()
    batches = [np.arange(a, min(a + batch_size, len(todo))) for a in range(0, len(todo), batch_size)]
    states = map_batches(pipeline, ({s: v[rows] for s, v in sources.items()} for rows in batches))
    pending: list[tuple[pa.Table, pa.Table]] = []
    per_chunk, last_commit = max(1, commit_rows // batch_size), time.perf_counter()
    for b, (rows, state) in enumerate(zip(batches, states, strict=True)):  # streamed, committed per chunk
        take = pa.array(rows)
        pending.append(_tables(pipeline, state, run_id, b, ids[todo[rows]], prov_assets.take(take),
                               prov_subjects.take(take), field_name, decisions[0].name, result))
        if (len(pending) >= per_chunk or time.perf_counter() - last_commit >= commit_seconds
                or b == len(batches) - 1):
            _commit(cat, pending, fresh)
            pending, last_commit = [], time.perf_counter()
            if progress:
                progress(int(rows[-1]) + 1, len(todo))
    result.seconds = round(time.perf_counter() - t_run, 3)
    result.routes = dict(sorted(result.routes.items()))
    if fresh:  # this call wrote every row of the run: its own counts are the run's
        routes, stage_status = dict(result.routes), {k: dict(v) for k, v in result.stage_status.items()}
    else:
        with cat.connect() as con:  # the whole run's counts, resumed parts included
            routes, stage_status = Q.run_counts(con, run_id)
    cat.upsert("runs", [run_row | {"status": "finished", "finished_utc_ns": time.time_ns(),
                                   "config_json": json.dumps(config | {"segments": result.segments, "routes": routes,
                                                                       "stage_status": stage_status,
                                                                       "stages": stages_info}, sort_keys=True)}])
    return result


def _check_resume(existing: dict[str, Any], pipeline: Pipeline, config: dict[str, Any]) -> dict[str, int]:
    """The pinned table versions of a run to resume; refuses another pipeline or other settings."""
    was = json.loads(existing.get("config_json") or "{}")
    diffs = [f"{k}: {was.get(k)!r} then, {config[k]!r} now" for k in ("segmenter", "field", "sources", "models")
             if was.get(k) != config[k]]
    if existing.get("kind") != "pipeline":
        diffs.insert(0, f"it is a {existing.get('kind')} run")
    if existing.get("model_version") != pipeline.config_hash():
        diffs.append(f"pipeline {existing.get('model_name')} {existing.get('model_version')} then, "
                     f"{pipeline.name} {pipeline.config_hash()} now")
    if diffs:
        raise ValueError(f"run {existing['run_id']} cannot be resumed with this call — " + "; ".join(diffs)
                         + ": resume it as it was started, or start a new run")
    return {str(k): int(v) for k, v in json.loads(existing["table_versions_json"]).items()}


BatchMapper = Callable[[Pipeline, Iterable[dict[str, np.ndarray]]], Iterator["_Batch"]]
SourceFormer = Callable[[dict[str, Any], np.ndarray, np.ndarray, np.ndarray], dict[str, np.ndarray]]


def local_batches(pipeline: Pipeline, batches: Iterable[dict[str, np.ndarray]]) -> Iterator[_Batch]:
    """The stages on each batch, in this process, one batch at a time."""
    return (run_batch(pipeline, b) for b in batches)


def run_batch(pipeline: Pipeline, sources: dict[str, np.ndarray]) -> _Batch:
    n = len(next(iter(sources.values()))) if sources else 0
    return _run_batch(pipeline, sources, n)


def _run_batch(pipeline: Pipeline, sources: dict[str, np.ndarray], n: int) -> _Batch:
    """Each stage in order on the rows it can run on. A row lacking a modality the stage needs
    (its ``modalities`` or a source input) follows ``on_missing`` first — a fallback stands in
    wherever its own inputs are there; other rows run when every upstream input is ok."""
    state = _Batch(n)
    present = {s: ~np.isnan(v).any(axis=1) if v.ndim == 2 and v.shape[1] else np.zeros(n, bool)
               for s, v in sources.items()}
    for name in pipeline.order:
        if name in pipeline.fallbacks:
            continue
        st = pipeline.stage(name)
        status = np.full(n, OK, object)
        reason = np.full(n, "", object)
        lacking, lack_text = _lacking(st, present, n)
        blocked, up_status, up_reason = _blocked(st, state, n)
        blocked &= ~lacking
        status[blocked], reason[blocked] = up_status[blocked], up_reason[blocked]
        outputs: dict[str, np.ndarray] = {}
        t = time.perf_counter()
        _call(st, ~lacking & ~blocked, sources, state, outputs, status, reason)
        if lacking.any():
            reason[lacking] = lack_text[lacking]
            status[lacking] = SKIPPED if st.on_missing == "skip" else ABSTAINED
            if st.fallback:
                fb = pipeline.stage(st.fallback)
                fb_lacking, _ = _lacking(fb, present, n)
                fb_blocked, _, fb_why = _blocked(fb, state, n)
                usable = lacking & ~fb_lacking & ~fb_blocked
                fb_status = np.full(n, OK, object)
                fb_reason = np.full(n, "", object)
                _call(fb, usable, sources, state, outputs, fb_status, fb_reason)
                status[usable] = np.where(fb_status[usable] == OK, FALLBACK, fb_status[usable])
                reason[usable] = [f"{why}: fallback {fb.name}" + (f" ({r})" if r else "")
                                  for why, r in zip(lack_text[usable], fb_reason[usable], strict=True)]
                no_fb = lacking & ~usable
                reason[no_fb] = [f"{why}; fallback {fb.name} cannot run either" for why in lack_text[no_fb]]
        state.failed_at[(status == FAILED) & (state.failed_at == "")] = name
        state.seconds[name] = time.perf_counter() - t
        state.nbytes[name] = int(sum(v.nbytes for v in outputs.values()))
        state.outputs[name], state.status[name], state.reason[name] = outputs, status, reason
    return state


def _lacking(st: Any, present: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows without a modality the stage needs, and which ("no audio, no video")."""
    lacking = np.zeros(n, bool)
    text = np.full(n, "", object)
    needs = list(st.modalities) + [v.split(".", 1)[1].partition(":")[0] for v in st.inputs.values()
                                   if v.startswith("source.")]
    for m in dict.fromkeys(needs):
        gone = ~present[m]
        text[gone & lacking] = text[gone & lacking] + f", no {m}"
        text[gone & ~lacking] = f"no {m}"
        lacking |= gone
    return lacking, text


def _blocked(st: Any, state: _Batch, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows an upstream stage did not give an output for: abstained upstream stays an
    abstention, failed or skipped upstream is a skip; the reason names the stage."""
    blocked = np.zeros(n, bool)
    status = np.full(n, OK, object)
    reason = np.full(n, "", object)
    for value in st.inputs.values():
        owner = value.partition(":")[0].partition(".")[0]
        if owner == "source":
            continue
        up = state.status[owner]
        new = ~blocked & ~np.isin(up, [OK, FALLBACK])
        status[new] = np.where(up[new] == ABSTAINED, ABSTAINED, SKIPPED)
        reason[new] = [f"{owner}: {r}" if r else f"{owner} {s}" for r, s in
                       zip(state.reason[owner][new], up[new], strict=True)]
        blocked |= new
    return blocked, status, reason


def _call(st: Any, rows: np.ndarray, sources: dict[str, np.ndarray], state: _Batch, outputs: dict[str, np.ndarray],
          status: np.ndarray, reason: np.ndarray) -> None:
    """The stage on ``rows``; a raise re-runs row by row, so only the rows that break it fail."""
    idx = np.flatnonzero(rows)
    if not len(idx):
        return

    def args(where: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for arg, value in st.inputs.items():
            owner, _, port = value.partition(":")[0].partition(".")
            out[arg] = sources[port][where] if owner == "source" else state.outputs[owner][port][where]
        return out

    def put(where: np.ndarray, got: Any) -> None:
        for port in st.outputs:
            value = np.asarray(got[port])
            if len(value) != len(where):
                raise ValueError(f"stage {st.name} returned {len(value)} rows of {port!r} for {len(where)} segments")
            if port not in outputs:  # text is kept as objects: a later row must not be cut to the first's width
                kind = value.dtype if value.dtype.kind in "fiub" else np.dtype(object)
                outputs[port] = np.empty((len(status),) + value.shape[1:], kind)
                if outputs[port].dtype.kind == "f":
                    outputs[port][:] = np.nan
            outputs[port][where] = value
        flags = got.get(ABSTAIN_KEY) if hasattr(got, "get") else None
        if flags is not None:  # the stage says it cannot tell for these rows: an abstention, with its reason
            flags = np.asarray(flags, bool).reshape(-1)
            if len(flags) != len(where):
                raise ValueError(f"stage {st.name} returned {len(flags)} abstain flags for {len(where)} segments")
            why = got.get(WHY_KEY)
            status[where[flags]] = ABSTAINED
            reason[where[flags]] = (np.asarray(why, object).reshape(-1)[flags] if why is not None
                                    else f"{st.name} abstained")

    try:
        put(idx, st.fn(**args(idx)))
        return
    except Exception:  # isolate the segment(s) that break it: a stage's author decides what raises
        pass
    for i in idx:
        one = np.array([i])
        try:
            put(one, st.fn(**args(one)))
        except Exception as e:
            status[i] = FAILED
            reason[i] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:500]


def _tables(pipeline: Pipeline, state: _Batch, run_id: str, batch: int, seg_ids: np.ndarray,
            assets: pa.ListArray, subjects: pa.ListArray, field_name: str, decision: str,
            result: RunResult) -> tuple[pa.Table, pa.Table]:
    """A batch's traces and predictions, and its counts into ``result``."""
    order = [s for s in pipeline.order if s in state.status]
    for name in order:
        counts = result.stage_status.setdefault(name, {})
        result.stage_seconds[name] = round(result.stage_seconds.get(name, 0.0) + state.seconds[name], 4)
        for st, c in zip(*np.unique(state.status[name].astype(str), return_counts=True), strict=True):
            counts[str(st)] = counts.get(str(st), 0) + int(c)
    latency = round(1000 * sum(state.seconds.values()) / state.n, 4)
    preds = prediction_table(run_id, field_name, decision, state, seg_ids, assets, subjects, latency)
    for vc in pc.value_counts(preds.column("route")).to_pylist():
        result.routes[str(vc["values"])] = result.routes.get(str(vc["values"]), 0) + int(vc["counts"])
    return trace_table(run_id, batch, order, state, seg_ids, assets, subjects), preds


def _commit(cat: Any, pending: list[tuple[pa.Table, pa.Table]], fresh: bool) -> None:
    """Traces, then predictions, of the pending batches: a segment with a prediction is done. A
    fresh run's rows are new by construction, so they are appended without scanning the keys; a
    resumed run may meet the traces of the batches it was killed in, so it merges."""
    write = cat.append if fresh else cat.upsert
    write("traces", pa.concat_tables([cat.conform("traces", t) for t, _ in pending]))
    write("predictions", pa.concat_tables([cat.conform("predictions", p) for _, p in pending]))


def _task_hash(project: Project) -> str | None:
    from syncline.task.spec import load_task

    try:
        return load_task(project.task_path).content_hash()
    except Exception:  # no task spec, or an invalid one: the run records that it had none
        return None


def resolve_run(project: Project, run_id: str) -> str:
    """The full ID of an existing pipeline run from its ID or a unique prefix (as lists show them)."""
    with project.catalog().connect() as con:
        found = Q.runs_with_prefix(con, run_id)
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValueError(f"no run {run_id!r} to resume; leave out --run-id to start a new run")
    raise ValueError(f"{run_id!r} names {len(found)} runs ({', '.join(f[:16] for f in found[:4])}…): give more of it")
