"""In-process request batcher for the image_generation worker (NOTES §9).

The worker runs Celery's ``threads`` pool (``-P threads -c N``): up to N ordinary tasks run at once in
one process, each acknowledged late and alone after its own delivery. A task hands its render request
to :class:`RequestBatcher` and blocks; one GPU thread takes whatever arrived within a short window (up to
``max_batch``), renders it with :class:`~workers.pipelines.batching.BatchEngine` as few batches as it
can, and hands each task its own outcome. The task thread then runs the output stage (signature,
watermark, metadata, C2PA, upload, webhook) while the GPU thread is already rendering the next batch —
the task threads are the output-stage pool, so the GPU never waits for PNG encoding or S3.

A worker killed mid-batch has acknowledged none of the batch's messages: RabbitMQ redelivers each one,
and the API's idempotent webhooks make sure nothing is charged, credited or stored twice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

log = logging.getLogger(__name__)


class RequestBatcher:
    """Gathers requests from many threads into batches for one rendering thread.

    ``render_batch(requests) -> outcomes`` runs on the batcher's own thread (the only one touching the
    GPU); ``warm_up()`` (optional) runs there first, before any request is taken.
    """

    def __init__(
        self,
        render_batch: Callable[[list], list],
        *,
        max_batch: int = 8,
        window_s: float = 0.05,
        warm_up: Callable[[], object] | None = None,
        name: str = "gpu-batcher",
    ) -> None:
        self.render_batch = render_batch
        self.max_batch = max(1, max_batch)
        self.window_s = max(0.0, window_s)
        self._warm_up = warm_up
        self._queue: queue.Queue[tuple[object, Future]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._name = name
        #: sizes of the batches handed to ``render_batch`` (tests, logs)
        self.batch_sizes: list[int] = []

    def start(self) -> None:
        """Start the rendering thread (idempotent; ``submit`` starts it too)."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def submit(self, request: object) -> Future:
        """Queue one request; the future resolves to its outcome."""
        self.start()
        future: Future = Future()
        self._queue.put((request, future))
        return future

    def render(self, request: object, timeout: float | None = None) -> object:
        """Queue one request and wait for its outcome (``TimeoutError`` after ``timeout`` seconds)."""
        return self.submit(request).result(timeout=timeout)

    def _take(self) -> list[tuple[object, Future]]:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.window_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _run(self) -> None:
        if self._warm_up is not None:
            try:
                self._warm_up()
            except Exception:  # a failed warm-up costs time on the first job, nothing else
                log.exception("warm-up failed")
        while True:
            batch = self._take()
            live = [(r, f) for r, f in batch if f.set_running_or_notify_cancel()]
            if not live:
                continue
            self.batch_sizes.append(len(live))
            try:
                outcomes = self.render_batch([r for r, _ in live])
                if len(outcomes) != len(live):
                    raise RuntimeError(f"{len(outcomes)} outcomes for {len(live)} requests")
            except BaseException as error:  # a bug in the engine: every waiting task gets the error
                log.exception("rendering a batch of %d failed", len(live))
                for _, future in live:
                    future.set_exception(error)
                continue
            for (_, future), outcome in zip(live, outcomes, strict=True):
                future.set_result(outcome)
