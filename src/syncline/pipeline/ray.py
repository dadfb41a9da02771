"""The Ray executor: the same pipeline, its stages run on a Ray cluster by Ray Data.

``run_pipeline(..., map_batches=ray_batches)``: the driver reads the catalog, forms the sources
(through the clocks, pinned to the run's table versions), writes the traces, predictions and
run row exactly as the local executor does; only the stages run elsewhere. The run's batches
become one Ray dataset of batch indices, two batches per block; ``map_batches`` runs every
stage of a block's batches in a Ray worker (as many at once as the cluster has CPUs) and streams
their states back, and the driver commits each chunk while the workers go on. Each batch's sources travel
through Ray's object store once. The predictions are the
local executor's, row for row (a test runs both on the same data).

``ray.init`` is the caller's: ``local_cluster(cpus)`` starts a private one on this machine
(127.0.0.1, no dashboard); on a real cluster, call ``ray.init(address=...)`` first.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from syncline.pipeline.graph import Pipeline
from syncline.pipeline.local import _Batch, run_batch

BATCHES_PER_TASK = 2  # small against what the driver commits at once (commit_seconds of work)


def ray_batches(pipeline: Pipeline, batches: Iterable[dict[str, np.ndarray]]) -> Iterator[_Batch]:
    """Every batch's stages in a Ray worker, one Ray dataset for the whole run (Ray Data plans and
    launches once); states are yielded in the batches' order as they arrive, so the driver
    commits while the workers go on."""
    import ray

    if not ray.is_initialized():  # said at the call, not at the first batch
        raise RuntimeError("no Ray cluster: call ray.init(...) or use syncline.pipeline.ray.local_cluster() first")
    return _streamed(pipeline, batches)


def _streamed(pipeline: Pipeline, batches: Iterable[dict[str, np.ndarray]]) -> Iterator[_Batch]:
    import ray
    import ray.data

    refs = [ray.put(b) for b in batches]  # each batch's sources cross to the object store once
    if not refs:
        return
    pipe_ref = ray.put(pipeline)

    def run(chunk: dict[str, np.ndarray]) -> dict[str, Any]:
        pipe = ray.get(pipe_ref)
        index = [int(i) for i in chunk["batch"]]
        return {"batch": np.asarray(index),
                "state": np.asarray([pickle.dumps(run_batch(pipe, ray.get(refs[i]))) for i in index], object)}

    # a task takes BATCHES_PER_TASK batches: fewer tasks to schedule, yet each block's states come
    # back well within one committed chunk, so a kill loses no more than the local executor would
    blocks = -(-len(refs) // BATCHES_PER_TASK)
    ds = ray.data.from_items([{"batch": i} for i in range(len(refs))], override_num_blocks=blocks)
    waiting: dict[int, _Batch] = {}
    nxt = 0
    for row in ds.map_batches(run, batch_size=None, batch_format="numpy").iter_rows():
        waiting[int(row["batch"])] = pickle.loads(row["state"])
        while nxt in waiting:
            yield waiting.pop(nxt)
            nxt += 1
    if nxt != len(refs):
        raise RuntimeError(f"Ray returned {nxt} of {len(refs)} batches")


@contextmanager
def local_cluster(cpus: int = 2) -> Iterator[None]:
    """A private Ray cluster on this machine for the duration of the block (bound to 127.0.0.1)."""
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False,
             _node_ip_address="127.0.0.1", ignore_reinit_error=True)
    try:
        yield
    finally:
        ray.shutdown()
