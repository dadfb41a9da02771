"""Group commit: labels and grades from many people at once become few catalog commits.

Every write is one Lance commit and one new table version; twenty annotators saving a label a
second each would make thousands of versions an hour and queue behind each other. Requests
are put on a queue; one writer thread takes everything waiting, of one kind, and writes it with
one call of the capability function (``write_labels`` / ``grade_labels``, which check every
row), then hands each request its own part of the result. A single user still waits for one
commit; under load, a commit carries many requests. The catalog is written from this thread
only, so no two commits race for a version.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from syncline.annotate.labels import LabelWrite, Refused

WriteFn = Callable[[list[dict[str, Any]]], LabelWrite]
KeyFn = Callable[[dict[str, Any]], Any]
MAX_BATCH = 5000  # rows per commit


@dataclass
class _Request:
    kind: str
    rows: list[dict[str, Any]]
    done: Future[LabelWrite] = field(default_factory=Future)


class WriterClosed(RuntimeError):
    """The server is stopping: the request was not written."""


class GroupWriter:
    """``submit(kind, rows)`` blocks until the rows are committed (or refused) and returns their
    ``LabelWrite`` (indices relative to ``rows``). ``kinds`` maps a kind to its write function
    and to the key of what a row overwrites (the same annotator relabelling the same target):
    two requests that touch the same key go into successive commits, in the order they came,
    so the later one wins as it would have one at a time."""

    def __init__(self, kinds: dict[str, tuple[WriteFn, KeyFn]]) -> None:
        self.kinds = kinds
        self.closed = False
        self.lock = threading.Lock()
        self.queue: queue.Queue[_Request | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="syncline-writer", daemon=True)
        self.thread.start()

    def submit(self, kind: str, rows: list[dict[str, Any]], timeout: float = 120.0) -> LabelWrite:
        if kind not in self.kinds:
            raise ValueError(f"unknown write kind {kind!r}")
        req = _Request(kind, rows)
        with self.lock:  # never queued behind the stop marker
            if self.closed:
                raise WriterClosed("the server is shutting down; nothing was written")
            self.queue.put(req)
        return req.done.result(timeout=timeout)

    def close(self) -> None:
        """Stop after what is queued; a request that arrives later is refused, never left waiting."""
        with self.lock:
            self.closed = True
            self.queue.put(None)
        self.thread.join(timeout=30)
        while True:
            try:
                late = self.queue.get_nowait()
            except queue.Empty:
                return
            if late is not None and not late.done.done():
                late.done.set_exception(WriterClosed("the server is shutting down; nothing was written"))

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch, stop = [first], False
            size = len(first.rows)
            while size < MAX_BATCH:  # everything already waiting rides along
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                size += len(nxt.rows)
            try:
                for run in _runs_of_one_kind(batch):  # labels and grades in the order they came
                    for part in self._rounds(run):
                        self._commit(part)
            except Exception as e:  # never leave a request waiting, whatever went wrong
                for r in batch:
                    if not r.done.done():
                        r.done.set_exception(e)
            if stop:
                return

    def _rounds(self, reqs: list[_Request]) -> list[list[_Request]]:
        """Requests in commits where no key repeats across requests, order kept per key."""
        key = self.kinds[reqs[0].kind][1]
        rounds: list[tuple[list[_Request], set[Any]]] = []
        for r in reqs:
            keys = {key(row) for row in r.rows}
            last = max((i for i, (_, seen) in enumerate(rounds) if seen & keys), default=-1)
            if last + 1 == len(rounds):
                rounds.append(([], set()))
            rounds[last + 1][0].append(r)
            rounds[last + 1][1].update(keys)
        return [members for members, _ in rounds]

    def _commit(self, reqs: list[_Request]) -> None:
        """One call for all; when it raises, each request again on its own, so that one bad
        request fails alone and the others are written."""
        rows = [row for r in reqs for row in r.rows]
        try:
            res = self.kinds[reqs[0].kind][0](rows)
        except Exception as e:
            if len(reqs) == 1:
                reqs[0].done.set_exception(e)
            else:
                for r in reqs:
                    self._commit([r])
            return
        refused: dict[int, str] = {x.index: x.reason for x in res.refused}
        start = 0
        for r in reqs:
            mine = [Refused(i - start, refused[i]) for i in range(start, start + len(r.rows)) if i in refused]
            out = LabelWrite()
            out.written, out.refused = len(r.rows) - len(mine), mine
            r.done.set_result(out)
            start += len(r.rows)


def _runs_of_one_kind(batch: list[_Request]) -> list[list[_Request]]:
    runs: list[list[_Request]] = []
    for r in batch:
        if runs and runs[-1][0].kind == r.kind:
            runs[-1].append(r)
        else:
            runs.append([r])
    return runs
