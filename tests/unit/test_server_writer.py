"""The group writer: requests that arrive together share a commit, each gets its own part of the
result, one request that breaks the write fails alone, the same key is written in order, and
nothing waits forever after the writer closes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from syncline.annotate.labels import LabelWrite, Refused
from syncline.server.writer import GroupWriter, WriterClosed


class Store:
    """A write function with the contract of ``write_labels``: refuses ``bad`` rows, raises on
    ``boom`` rows, records each commit. With ``hold``, the first commit waits until released,
    so that a test can queue requests behind it deterministically."""

    def __init__(self, delay: float = 0.0, hold: bool = False) -> None:
        self.commits: list[list[dict[str, Any]]] = []
        self.delay = delay
        self.entered, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()

    def write(self, rows: list[dict[str, Any]]) -> LabelWrite:
        self.entered.set()
        self.release.wait(10)
        time.sleep(self.delay)
        if any(r["v"] == "boom" for r in rows):
            raise ValueError("boom")
        out = LabelWrite()
        out.refused = [Refused(i, "bad row") for i, r in enumerate(rows) if r["v"] == "bad"]
        good = [r for r in rows if r["v"] != "bad"]
        self.commits.append(good)
        out.written = len(good)
        return out


def _writer(store: Store) -> GroupWriter:
    return GroupWriter({"labels": (store.write, lambda r: r["k"])})


def _queue_in_order(w: GroupWriter, store: Store, requests: list[tuple[str, threading.Thread]]) -> None:
    """Start each thread only once the previous request is on the queue (behind the held commit)."""
    assert store.entered.wait(10)
    for n, (_, t) in enumerate(requests, start=1):
        t.start()
        deadline = time.time() + 10
        while w.queue.qsize() < n and time.time() < deadline:
            time.sleep(0.001)
    store.release.set()


def test_concurrent_requests_share_commits_and_get_their_own_results() -> None:
    store = Store(delay=0.02)
    w = _writer(store)
    results: dict[int, LabelWrite] = {}

    def go(i: int) -> None:
        rows = [{"k": f"k{i}", "v": "ok"}, {"k": f"k{i}b", "v": "bad" if i % 3 == 0 else "ok"}]
        results[i] = w.submit("labels", rows)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    assert len(store.commits) < 30  # grouped
    assert sum(len(c) for c in store.commits) == sum(r.written for r in results.values()) == 60 - 10
    for i, r in results.items():
        assert [(x.index, x.reason) for x in r.refused] == ([(1, "bad row")] if i % 3 == 0 else [])


def test_a_request_that_breaks_the_write_fails_alone() -> None:
    store = Store(hold=True)
    w = _writer(store)
    out: dict[str, Any] = {}

    def go(name: str, v: str) -> None:
        try:
            out[name] = w.submit("labels", [{"k": name, "v": v}])
        except ValueError as e:
            out[name] = e

    first = threading.Thread(target=go, args=("first", "ok"))
    first.start()
    rest = [(n, threading.Thread(target=go, args=(n, v))) for n, v in (("a", "ok"), ("b", "boom"), ("c", "ok"))]
    _queue_in_order(w, store, rest)  # a, b and c go together, behind the first commit
    for t in [first, *(t for _, t in rest)]:
        t.join()
    w.close()
    assert isinstance(out["b"], ValueError)
    assert out["a"].written == out["c"].written == out["first"].written == 1
    assert sorted(r["k"] for c in store.commits for r in c) == ["a", "c", "first"]


def test_the_same_key_goes_into_successive_commits_in_order() -> None:
    store = Store(hold=True)
    w = _writer(store)
    blocker = threading.Thread(target=w.submit, args=("labels", [{"k": "x", "v": "ok"}]))
    blocker.start()
    def req(k: str, v: str) -> tuple[str, threading.Thread]:
        return v, threading.Thread(target=w.submit, args=("labels", [{"k": k, "v": v}]))

    order = [req("same", "v0"), req("same", "v1"), req("same", "v2"), req("o", "ok")]
    _queue_in_order(w, store, order)
    for t in [blocker, *(t for _, t in order)]:
        t.join()
    w.close()
    same = [r["v"] for c in store.commits for r in c if r["k"] == "same"]
    assert same == ["v0", "v1", "v2"]
    assert all(sum(r["k"] == "same" for r in c) <= 1 for c in store.commits)
    assert any({r["k"] for r in c} == {"same", "o"} for c in store.commits)  # the others still ride along


def test_after_close_a_request_is_refused_not_left_waiting() -> None:
    w = _writer(Store())
    w.close()
    with pytest.raises(WriterClosed):
        w.submit("labels", [{"k": "a", "v": "ok"}])
