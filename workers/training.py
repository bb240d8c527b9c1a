"""Training task (model_training queue): a style's LoRA from its 512-px training copies.

Flow of one attempt:
1. announce the attempt (``PATCH /api/webhooks/training/progress`` with ``starting: true``). The API
   answers 409 TRAINING_FINISHED for a completed/failed style (and fails a style past its attempt
   limit): a redelivered or duplicated message then returns here without doing anything;
2. load the training copies from private storage (``storage_from_env()``) and run
   :func:`workers.pipelines.training.train_lora` on ``STYLELICENSE_BASE_MODEL`` (``tiny`` by default),
   reporting progress at every epoch and at least every ``TRAINING_PROGRESS_INTERVAL`` seconds (20 s;
   a heartbeat thread keeps reporting while the model loads and latents are cached). A 409 answer to a
   report (style finished or a newer run took over) stops the training;
3. upload the LoRA safetensors to the payload's private ``lora_key``;
4. ``POST /api/webhooks/training/complete`` (style completed, artist notified).

Failures: GPU out-of-memory, connection errors/timeouts and a diverged loss are retried (countdowns
0 s, 30 s, 120 s; ``TRAINING_RETRY_DELAYS`` overrides them); bad input (missing or unreadable images)
and the soft time limit fail at once; the final failure goes to ``POST /api/webhooks/training/failed``
(style failed, artist notified).

A worker killed mid-training (SIGKILL, OOM killer, lost host): the task is acknowledged late
(``acks_late``), so RabbitMQ gives the unacknowledged message to another worker as soon as the dead
worker's connection closes; when only the pool child dies, ``reject_on_worker_lost`` requeues it. The
new run announces itself (``training_attempts + 1``, capped by the API) and trains again. If no worker
ever comes back, ``flask --app wsgi styles sweep-stale`` fails the silent style and notifies the artist.
RabbitMQ's ``consumer_timeout`` must exceed the longest training (deploy/rabbitmq/rabbitmq.conf).

Fault injection for tests — ``TRAINING_FAULTS`` (same syntax as ``STYLELICENSE_FAULTS`` of the
generation worker; ignored in production): ``transient:N`` (the first N attempts raise a simulated CUDA
out-of-memory error at the first epoch report), ``fatal`` (a non-retryable input error before training),
``sleep:S`` (sleep S seconds after the first epoch report: room to kill the worker mid-training).
``TRAINING_RESOLUTION`` (default 512) shrinks the training size for tests and benchmarks.
``TRAINING_STALL_SECONDS`` (1800): a run whose trainer reported nothing for that long stops its heartbeat,
so a hung job is failed by the sweeper instead of looking alive until the hard time limit.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import threading
import time
import uuid
from typing import Any

from . import app
from .api_client import WebhookClient
from .generation import Faults, load_faults

log = logging.getLogger(__name__)

SOURCE = "training-server"
DEFAULT_RETRY_DELAYS = (0, 30, 120)
DEFAULT_PROGRESS_INTERVAL = 20.0

_STORAGE = None


class TransientError(RuntimeError):
    """An infrastructure hiccup worth another attempt."""


class BadInput(ValueError):
    """The job cannot succeed as given (missing or unreadable training image): fail at once."""


class Finished(Exception):  # noqa: N818 — a signal, not an error
    """The API says there is nothing (more) to do: the style is finished or a newer run took over."""


def retry_delays(env: dict[str, str] | None = None) -> tuple[float, ...]:
    """Countdown before each retry; its length is the number of retries (3 by default)."""
    env = os.environ if env is None else env
    raw = (env.get("TRAINING_RETRY_DELAYS") or "").strip()
    if not raw:
        return DEFAULT_RETRY_DELAYS
    return tuple(float(part) for part in raw.split(",") if part.strip())


def classify(error: BaseException) -> tuple[bool, str]:
    """``(retryable, reason_code)`` for an exception raised while training."""
    import requests
    from celery.exceptions import SoftTimeLimitExceeded

    from stylelicense.storage import ObjectNotFound, StorageError

    if isinstance(error, BadInput | ObjectNotFound):
        return False, "INVALID_INPUT"
    if getattr(error, "retryable", None) is False:  # TrainingInputError, TrainingCancelled
        return False, "INVALID_INPUT"
    if getattr(error, "retryable", None) is True:  # TrainingDivergedError: another run may converge
        return True, "DIVERGED"
    if isinstance(error, SoftTimeLimitExceeded):
        return False, "TIME_LIMIT"
    if _is_out_of_memory(error):
        return True, "GPU_OUT_OF_MEMORY"
    if isinstance(error, TimeoutError | requests.Timeout):
        return True, "TIMEOUT"
    if isinstance(error, requests.ConnectionError | ConnectionError | StorageError | TransientError):
        return True, "CONNECTION_ERROR"
    if type(error).__module__.startswith(("botocore", "urllib3")) and "Connect" in type(error).__name__:
        return True, "CONNECTION_ERROR"
    return False, "TRAINING_FAILED"


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def get_storage():
    global _STORAGE
    if _STORAGE is None:
        from stylelicense.storage import storage_from_env

        _STORAGE = storage_from_env()
    return _STORAGE


class ProgressReporter:
    """Start report, epoch reports and a heartbeat, so the API hears from the run at least every
    ``interval`` seconds whatever phase it is in (loading, caching latents, long epochs)."""

    def __init__(self, client: WebhookClient, style_id: int, *, run_id: str, attempt: int,
                 interval: float = DEFAULT_PROGRESS_INTERVAL, faults: Faults = Faults()):
        self.client, self.style_id, self.run_id = client, style_id, run_id
        self.attempt, self.interval, self.faults = attempt, interval, faults
        self.state = {"current_epoch": 0, "total_epochs": 0, "progress_percent": 0, "estimated_seconds": None}
        self.stopped: str | None = None  # why the API wants this run to stop
        self.last_sent = time.monotonic()
        self.last_update = time.monotonic()  # the last report from the training itself (not a heartbeat)
        # A hung run must not be kept alive by its heartbeat: after this much silence from the trainer the
        # heartbeat stops, and the API's sweeper fails the style once it has heard nothing for its own limit.
        self.stall_limit = float(os.environ.get("TRAINING_STALL_SECONDS") or 1800)
        self.reports = 0
        self._faulted = False
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Announce the attempt; raises :class:`Finished` when there is nothing to do."""
        body = self._send(starting=True, retries=None)
        if self.stopped:
            raise Finished(self.stopped)
        if body.get("_status") != 200:
            raise TransientError(f"the API refused the start report: {body}")

    def update(self, *, current_epoch: int, total_epochs: int, progress_percent: int,
               estimated_seconds: int | None) -> None:
        """Report now (epoch ends, the trainer's periodic reports). A failed report is logged, not raised:
        a blip must not cost the training; a 409 stops it (raised back into the training loop)."""
        self.state = {"current_epoch": current_epoch, "total_epochs": total_epochs,
                      "progress_percent": progress_percent, "estimated_seconds": estimated_seconds}
        self.last_update = time.monotonic()
        try:
            self._send(retries=1)
        except Exception as error:
            log.warning("progress report for style %s failed: %r", self.style_id, error)
        if self.stopped:
            raise Finished(self.stopped)

    def on_progress(self, progress) -> None:
        """``train_lora``'s callback (a TrainingProgress)."""
        self.update(current_epoch=progress.current_epoch, total_epochs=progress.total_epochs,
                    progress_percent=progress.progress_percent, estimated_seconds=progress.estimated_seconds)
        if not self._faulted:  # injected faults hit at the first epoch report
            self._faulted = True
            if self.attempt <= self.faults.transient:
                import torch

                raise torch.OutOfMemoryError("CUDA out of memory (injected by TRAINING_FAULTS)")
            if self.faults.sleep:
                time.sleep(self.faults.sleep)

    def should_stop(self) -> bool:
        return self.stopped is not None

    def _send(self, *, starting: bool = False, retries: int | None) -> dict:
        with self._lock:
            body = self.client.call("PATCH", "training/progress", {
                "style_id": self.style_id, **self.state, "starting": starting, "run_id": self.run_id,
            }, retries=retries)
            self.last_sent = time.monotonic()
            self.reports += 1
        if body.get("_status") == 409:
            error = body.get("error", {})
            self.stopped = f"{error.get('code')}: {error.get('details', {}).get('training_status', '')}".strip()
        elif body.get("_status") == 404:
            self.stopped = "NOT_FOUND"
        return body

    # --- heartbeat ------------------------------------------------------------------------------

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"training-heartbeat-{self.style_id}", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._quit.set()
        if self._thread is not None:
            self._thread.join(timeout=self.client.timeout + 5)

    def _beat(self) -> None:
        while not self._quit.wait(min(1.0, self.interval / 4)):
            silent = time.monotonic() - self.last_sent
            if silent < self.interval or self.stopped:
                continue
            if time.monotonic() - self.last_update > self.stall_limit:
                log.error("style %s: no training progress for %.0f s; heartbeat stopped", self.style_id,
                          time.monotonic() - self.last_update)
                return
            estimate = self.state.get("estimated_seconds")
            if estimate is not None:
                self.state = {**self.state, "estimated_seconds": max(0, int(estimate - silent))}
            try:
                self._send(retries=1)
            except Exception as error:  # the API is down for a moment: try again next beat
                log.warning("heartbeat for style %s failed: %r", self.style_id, error)
                self.last_sent = time.monotonic()


def _load_images(storage, images: list[dict[str, Any]]) -> list[tuple[Any, list[str]]]:
    from PIL import Image, UnidentifiedImageError

    from stylelicense.storage import ObjectNotFound

    loaded = []
    for item in images:
        try:
            image = Image.open(io.BytesIO(storage.get(item["key"])), formats=["JPEG", "PNG"])
            image.load()
        except ObjectNotFound:
            raise BadInput(f"training image {item['key']!r} is missing from storage") from None
        except (UnidentifiedImageError, OSError) as error:
            raise BadInput(f"training image {item['key']!r} cannot be read: {error}") from None
        loaded.append((image, list(item.get("tags") or [])))
    return loaded


def run_training(job, *, attempt: int, client: WebhookClient, run_id: str, faults: Faults) -> dict[str, Any]:
    """One attempt: announce, load, train, upload, report complete. Returns what was done."""
    interval = float(os.environ.get("TRAINING_PROGRESS_INTERVAL") or DEFAULT_PROGRESS_INTERVAL)
    reporter = ProgressReporter(client, job.style_id, run_id=run_id, attempt=attempt, interval=interval,
                                faults=faults)
    reporter.start()
    reporter.start_heartbeat()
    try:
        if faults.fatal:
            raise BadInput("injected non-retryable error (TRAINING_FAULTS=fatal)")
        storage = get_storage()
        images = _load_images(storage, job.images)

        from .pipelines.training import TrainingCancelled, TrainingConfig, train_lora

        # TRAINING_RESOLUTION: a smaller training size for tests and benchmarks (the product trains at 512).
        resolution = os.environ.get("TRAINING_RESOLUTION")
        config = TrainingConfig(max_steps=job.max_steps, **({"resolution": int(resolution)} if resolution else {}))
        epochs, _, total_steps = config.plan(len(images))
        reporter.update(current_epoch=0, total_epochs=epochs, progress_percent=0, estimated_seconds=None)
        base_model = os.environ.get("STYLELICENSE_BASE_MODEL") or "tiny"
        with tempfile.TemporaryDirectory(prefix=f"lora-{job.style_id}-") as output:
            try:
                result = train_lora(base_model, images, job.trigger, output, config=config,
                                    on_progress=reporter.on_progress, progress_interval_s=interval,
                                    seed=job.style_id, should_stop=reporter.should_stop)
            except TrainingCancelled:
                raise Finished(reporter.stopped or "cancelled") from None
            lora = result.lora_path.read_bytes()
    finally:
        reporter.stop_heartbeat()

    storage.put(job.lora_key, lora, public=False, content_type="application/octet-stream")
    body = client.call("POST", "training/complete", {
        "style_id": job.style_id, "lora_key": job.lora_key, "steps": result.steps,
        "seconds": round(result.seconds, 2), "run_id": run_id}, retries=8)
    if body.get("_status") == 409:
        raise Finished(body.get("error", {}).get("code", "finished"))
    if body.get("_status") != 200:
        raise RuntimeError(f"the API refused the completion: {body}")
    log.info("style %s trained: %s steps in %.1f s (%.2f steps/s, %d bytes)", job.style_id, result.steps,
             result.seconds, result.steps_per_second, len(lora))
    return {"status": body["data"]["training_status"], "steps": result.steps, "seconds": result.seconds,
            "total_steps": total_steps}


def _report_failure(client: WebhookClient, payload: dict[str, Any]) -> None:
    try:
        client.call("POST", "training/failed", payload)
    except Exception as error:  # the API is unreachable: the stale sweeper will settle the style
        log.error("could not report the failure of style %s: %r", payload.get("style_id"), error)


@app.task(name="workers.tasks.train_style", bind=True, acks_late=True, reject_on_worker_lost=True)
def train_style(self, payload: dict) -> str:
    """Train, store and report one style's LoRA (see the module docstring). Idempotent per style."""
    from stylelicense.jobs import TrainStylePayload

    job = TrainStylePayload(**payload)
    attempt = self.request.retries + 1
    delays = retry_delays()
    client = WebhookClient(SOURCE)
    run_id = uuid.uuid4().hex
    faults = load_faults({"STYLELICENSE_FAULTS": os.environ.get("TRAINING_FAULTS", ""),
                          "STYLELICENSE_ENV": os.environ.get("STYLELICENSE_ENV", "")})
    try:
        result = run_training(job, attempt=attempt, client=client, run_id=run_id, faults=faults)
        return result["status"]
    except Finished as finished:
        log.info("style %s: nothing (more) to do (%s)", job.style_id, finished)
        return "skipped"
    except Exception as error:
        retryable, code = classify(error)
        if retryable and self.request.retries < len(delays):
            countdown = delays[self.request.retries]
            log.warning("style %s attempt %s failed (%s: %r); retrying in %ss", job.style_id, attempt, code,
                        error, countdown)
            raise self.retry(exc=error, countdown=countdown, max_retries=len(delays)) from error
        log.error("style %s training failed for good (%s: %r)", job.style_id, code, error)
        _report_failure(client, {"style_id": job.style_id, "reason": f"{code}: {error}"[:500], "run_id": run_id})
        return "failed"
