"""The generation task's bridge to the process's GPU thread (batched serving, NOTES §9).

``render_image`` is called by each generation task (one Celery thread per message, ``-P threads``):
it queues the request on this process's :class:`~workers.batcher.RequestBatcher` and waits. While it
waits it forwards the request's step reports to the API from its own thread, so the GPU thread never
waits on a webhook; when a report says stop (the generation finished elsewhere, or an injected fault),
the request is marked cancelled and drops out of its batch at the next step.

Settings: ``GENERATION_BATCH_SIZE`` (8), ``GENERATION_BATCH_WINDOW_MS`` (50: how long the GPU thread
waits for more requests after the first), ``GENERATION_WARMUP`` (``1``: render the three product sizes
when the worker starts; default on with CUDA), plus :meth:`BatchEngine.from_env`'s.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

_BATCHER = None
_LOCK = threading.Lock()


class RequestCancelled(Exception):  # noqa: N818 — a signal
    """The task gave up on this request; the GPU thread drops it from its batch."""


@dataclass
class Rendered:
    """An image and what the worker measured for it."""

    image: object
    batch_size: int
    batch_seconds: float


def worker_name() -> str:
    """This worker process, as reported with service times (host:pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def get_batcher():
    """This process's batcher (and engine), created on first use — never in a parent before fork."""
    global _BATCHER
    with _LOCK:
        if _BATCHER is None:
            from .batcher import RequestBatcher
            from .pipelines.batching import BatchEngine

            engine = BatchEngine.from_env()
            warm = os.environ.get("GENERATION_WARMUP")

            def warm_up() -> None:
                log.info(
                    "warm-up of the product sizes: %s", {size: round(s, 2) for size, s in engine.warm_up().items()}
                )

            if not (warm == "1" or (warm is None and engine.device == "cuda")):
                warm_up = None
            _BATCHER = RequestBatcher(
                engine.render,
                max_batch=engine.max_batch,
                warm_up=warm_up,
                window_s=float(os.environ.get("GENERATION_BATCH_WINDOW_MS") or 50) / 1000,
            )
            _BATCHER.engine = engine
        return _BATCHER


def render_image(
    *,
    lora_key: str | None,
    lora_loader: Callable[[], bytes] | None,
    prompt: str,
    width: int,
    height: int,
    seed: int,
    steps: int,
    guidance_scale: float,
    on_step: Callable[[int, int], None] | None,
    timeout: float,
) -> Rendered:
    """Render one image in a shared batch; raises what rendering it raised (per request), what
    ``on_step`` raised, or ``TimeoutError`` after ``timeout`` seconds (the threads pool enforces no
    Celery time limits)."""
    from .pipelines.batching import RenderRequest

    events: queue.Queue = queue.Queue()
    cancelled = threading.Event()

    def gpu_side_step(step: int, total: int) -> None:  # runs on the GPU thread: never blocks
        if cancelled.is_set():
            raise RequestCancelled("the task stopped waiting for this image")
        events.put((step, total))

    request = RenderRequest(
        prompt=prompt,
        seed=seed,
        width=width,
        height=height,
        steps=steps,
        guidance_scale=guidance_scale,
        lora_key=lora_key,
        lora_loader=lora_loader,
        on_step=gpu_side_step,
    )
    future = get_batcher().submit(request)
    future.add_done_callback(lambda _: events.put(None))
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no image after {timeout:.0f} s")
            try:
                event = events.get(timeout=remaining)
            except queue.Empty:
                continue
            if event is None:
                break
            if on_step is not None:
                on_step(*event)
    except BaseException:
        cancelled.set()
        raise
    outcome = future.result()
    if outcome.error is not None:
        raise outcome.error
    return Rendered(outcome.image, outcome.batch_size, outcome.batch_seconds)


def _start_at_worker_ready(sender=None, **_: object) -> None:
    """``GENERATION_WARMUP=1``: start the GPU thread (and its warm-up of the product sizes) as soon as a
    threads-pool worker is up, not at its first job. Never in a prefork parent (CUDA before fork)."""
    if os.environ.get("GENERATION_WARMUP") != "1":
        return
    pool = getattr(getattr(sender, "controller", None), "pool_cls", None)
    if "thread" not in getattr(pool, "__module__", "") and "solo" not in getattr(pool, "__module__", ""):
        log.warning("GENERATION_WARMUP needs the threads (or solo) pool; warming up at the first job instead")
        return
    get_batcher().start()


def connect_signals() -> None:
    """Hook the warm-up to Celery's worker_ready (called once when the task module is imported)."""
    from celery.signals import worker_ready

    worker_ready.connect(_start_at_worker_ready, weak=False)
