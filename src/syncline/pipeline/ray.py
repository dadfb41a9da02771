"""The Ray executor: the same pipeline, its stages run on a Ray cluster by Ray Data.

``run_pipeline(..., map_batches=ray_batches)``: the driver reads the catalog, forms the sources
(through the clocks, pinned to the run's table versions), writes the traces, predictions and
run row exactly as the local executor does; only the stages run elsewhere. Each chunk of
batches becomes a Ray dataset of batch indices; ``map_batches`` runs every stage of a batch in
a Ray worker (one batch per task, as many at once as the cluster has CPUs) and sends back its
state. The sources travel through Ray's object store once per chunk. The predictions are the
local executor's, row for row (a test runs both on the same data).

``ray.init`` is the caller's: ``local_cluster(cpus)`` starts a private one on this machine
(127.0.0.1, no dashboard); on a real cluster, call ``ray.init(address=...)`` first.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from syncline.pipeline.graph import Pipeline
from syncline.pipeline.local import _Batch, run_batch


def ray_batches(pipeline: Pipeline, batches: list[dict[str, np.ndarray]]) -> list[_Batch]:
    """Every batch's stages in a Ray worker; states come back in the batches' order."""
    import ray
    import ray.data

    if not ray.is_initialized():
        raise RuntimeError("no Ray cluster: call ray.init(...) or use syncline.pipeline.ray.local_cluster() first")
    work = ray.put((pipeline, batches))

    def run(chunk: dict[str, np.ndarray]) -> dict[str, Any]:
        pipe, all_batches = ray.get(work)
        index = [int(i) for i in chunk["batch"]]
        return {"batch": np.asarray(index),
                "state": np.asarray([pickle.dumps(run_batch(pipe, all_batches[i])) for i in index], object)}

    ds = ray.data.from_items([{"batch": i} for i in range(len(batches))], override_num_blocks=len(batches))
    out = ds.map_batches(run, batch_size=1, batch_format="numpy").take_all()
    states = {int(r["batch"]): pickle.loads(r["state"]) for r in out}
    return [states[i] for i in range(len(batches))]


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
