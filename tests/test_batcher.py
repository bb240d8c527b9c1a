"""RequestBatcher: requests from many threads are gathered into batches for one rendering thread; each
caller gets its own outcome; a failing batch reaches every waiting caller; warm-up runs first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from workers.batcher import RequestBatcher


def test_concurrent_requests_are_batched_and_each_gets_its_own_outcome():
    seen: list[list[int]] = []
    thread_names: set[str] = set()

    def render(batch):
        thread_names.add(threading.current_thread().name)
        seen.append(list(batch))
        return [n * n for n in batch]

    batcher = RequestBatcher(render, max_batch=4, window_s=2.0)
    barrier = threading.Barrier(10)

    def call(n: int) -> int:
        barrier.wait()
        return batcher.render(n, timeout=60)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(call, range(10)))
    assert results == [n * n for n in range(10)]
    assert sorted(n for batch in seen for n in batch) == list(range(10))  # every request once
    assert all(len(batch) <= 4 for batch in seen) and max(len(b) for b in seen) >= 2
    assert thread_names == {"gpu-batcher"}  # one rendering thread
    assert batcher.batch_sizes == [len(b) for b in seen]


def test_a_lone_request_is_not_held_longer_than_the_window():
    batcher = RequestBatcher(lambda batch: [x + 1 for x in batch], max_batch=8, window_s=0.0)
    assert batcher.render(1, timeout=30) == 2
    assert batcher.batch_sizes == [1]


def test_an_engine_bug_reaches_every_waiting_caller_and_the_thread_goes_on():
    calls = []

    def render(batch):
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("engine bug")
        return batch

    batcher = RequestBatcher(render, max_batch=1, window_s=0.0)
    with pytest.raises(RuntimeError, match="engine bug"):
        batcher.render("a", timeout=30)
    assert batcher.render("b", timeout=30) == "b"


def test_warm_up_runs_on_the_rendering_thread_before_the_first_request():
    order = []
    batcher = RequestBatcher(
        lambda batch: order.append(("render", threading.current_thread().name)) or batch,
        warm_up=lambda: order.append(("warm", threading.current_thread().name)),
    )
    batcher.render(1, timeout=30)
    assert order == [("warm", "gpu-batcher"), ("render", "gpu-batcher")]


def test_a_timed_out_caller_raises_timeout():
    release = threading.Event()
    batcher = RequestBatcher(lambda batch: release.wait(30) and batch, max_batch=1, window_s=0.0)
    with pytest.raises(TimeoutError):
        batcher.render(1, timeout=0.2)
    release.set()
