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
generation worker, :class:`workers.lifecycle.Faults`; honoured only when ``STYLELICENSE_ENV=testing``):
``transient:N`` (the first N attempts raise a simulated CUDA out-of-memory error at the first epoch
report), ``fatal`` (a non-retryable input error before training), ``sleep:S`` (sleep S seconds after
the first epoch report: room to kill the worker mid-training).
``TRAINING_RESOLUTION`` (default 512) shrinks the training size for tests and benchmarks.
``TRAINING_STALL_SECONDS`` (1800): a run whose trainer reported nothing for that long stops its heartbeat,
so a hung job is failed by the sweeper instead of looking alive until the hard time limit.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import tempfile
import uuid
from typing import Any

from . import app, lifecycle
from .api_client import WebhookClient
from .lifecycle import Faults, Finished, ProgressReporter, TransientError, retry_delays

log = logging.getLogger(__name__)

SOURCE = "training-server"
RETRY_DELAYS_ENV = "TRAINING_RETRY_DELAYS"
DEFAULT_PROGRESS_INTERVAL = 20.0

__all__ = ["BadInput", "Finished", "TransientError", "classify", "retry_delays", "train_style"]


class BadInput(ValueError):
    """The job cannot succeed as given (missing or unreadable training image): fail at once."""


def classify(error: BaseException) -> tuple[bool, str]:
    """``(retryable, reason_code)`` for an exception raised while training."""
    from celery.exceptions import SoftTimeLimitExceeded

    from stylelicense.storage import ObjectNotFound

    if isinstance(error, BadInput | ObjectNotFound):
        return False, "INVALID_INPUT"
    if getattr(error, "retryable", None) is False:  # TrainingInputError, TrainingCancelled
        return False, "INVALID_INPUT"
    if getattr(error, "retryable", None) is True:  # TrainingDivergedError: another run may converge
        return True, "DIVERGED"
    if isinstance(error, SoftTimeLimitExceeded):  # a retry would hit the same limit
        return False, "TIME_LIMIT"
    return lifecycle.classify(error, default="TRAINING_FAILED")


def _stop_reason(body: dict) -> str:
    error = body.get("error", {})
    return f"{error.get('code')}: {error.get('details', {}).get('training_status', '')}".strip()


def epoch_reporter(
    client,
    style_id: int,
    *,
    run_id: str,
    attempt: int,
    interval: float = DEFAULT_PROGRESS_INTERVAL,
    faults: Faults = Faults(),
) -> ProgressReporter:
    """Start report, epoch reports and a heartbeat, so the API hears from the run at least every
    ``interval`` seconds whatever phase it is in (loading, caching latents, long epochs). A hung run must
    not be kept alive by its heartbeat: after ``TRAINING_STALL_SECONDS`` of silence from the trainer the
    heartbeat stops, and the API's sweeper fails the style once it has heard nothing for its own limit."""
    reporter = ProgressReporter(
        client,
        "training/progress",
        {"style_id": style_id},
        attempt=attempt,
        run_id=run_id,
        interval=interval,
        faults=faults,
        fault_source="TRAINING_FAULTS",
        stop_reason=_stop_reason,
        stall_limit=float(os.environ.get("TRAINING_STALL_SECONDS") or 1800),
    )
    reporter.state.update(current_epoch=0, total_epochs=0, progress_percent=0, estimated_seconds=None, starting=False)
    return reporter


def on_progress(reporter: ProgressReporter, progress) -> None:
    """``train_lora``'s callback (a TrainingProgress): report now."""
    reporter.progress(
        force=True,
        current_epoch=progress.current_epoch,
        total_epochs=progress.total_epochs,
        progress_percent=progress.progress_percent,
        estimated_seconds=progress.estimated_seconds,
    )
    reporter.fault_point()  # injected faults hit at the first epoch report


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
    reporter = epoch_reporter(client, job.style_id, run_id=run_id, attempt=attempt, interval=interval, faults=faults)
    reporter.start(starting=True)
    reporter.start_heartbeat()
    try:
        if faults.fatal:
            raise BadInput("injected non-retryable error (TRAINING_FAULTS=fatal)")
        storage = lifecycle.get_storage()
        images = _load_images(storage, job.images)

        from .pipelines.training import TrainingCancelled, TrainingConfig, train_lora

        # TRAINING_RESOLUTION: a smaller training size for tests and benchmarks (the product trains at 512).
        resolution = os.environ.get("TRAINING_RESOLUTION")
        config = TrainingConfig(max_steps=job.max_steps, **({"resolution": int(resolution)} if resolution else {}))
        epochs, _, total_steps = config.plan(len(images))
        reporter.progress(force=True, total_epochs=epochs)
        base_model = os.environ.get("STYLELICENSE_BASE_MODEL") or "tiny"
        with tempfile.TemporaryDirectory(prefix=f"lora-{job.style_id}-") as output:
            try:
                result = train_lora(
                    base_model,
                    images,
                    job.trigger,
                    output,
                    config=config,
                    on_progress=functools.partial(on_progress, reporter),
                    progress_interval_s=interval,
                    seed=job.style_id,
                    should_stop=reporter.should_stop,
                )
            except TrainingCancelled:
                raise Finished(reporter.stopped or "cancelled") from None
            lora = result.lora_path.read_bytes()
    finally:
        reporter.stop_heartbeat()

    storage.put(job.lora_key, lora, public=False, content_type="application/octet-stream")
    # Previews of the new style, signed like any output: no samples, no completed style (a failure
    # here fails or retries the job like any other step).
    from .serving import worker_name  # counted by the API for queue ETAs (live training workers)
    from .style_samples import render_and_store_samples, training_report

    samples = render_and_store_samples(job, lora=lora, storage=storage, run_id=run_id)
    body = client.call(
        "POST",
        "training/complete",
        {
            "style_id": job.style_id,
            "lora_key": job.lora_key,
            "steps": result.steps,
            "seconds": round(result.seconds, 2),
            "run_id": run_id,
            "samples": samples,
            "worker": worker_name(),
            "report": training_report(result, images=len(images), resolution=config.resolution),
        },
        final=True,
    )
    if body.get("_status") == 409:
        raise Finished(body.get("error", {}).get("code", "finished"))
    if body.get("_status") != 200:
        raise RuntimeError(f"the API refused the completion: {body}")
    log.info(
        "style %s trained: %s steps in %.1f s (%.2f steps/s, %d bytes)",
        job.style_id,
        result.steps,
        result.seconds,
        result.steps_per_second,
        len(lora),
    )
    return {
        "status": body["data"]["training_status"],
        "steps": result.steps,
        "seconds": result.seconds,
        "total_steps": total_steps,
    }


@app.task(name="workers.tasks.train_style", bind=True, acks_late=True, reject_on_worker_lost=True)
def train_style(self, payload: dict) -> str:
    """Train, store and report one style's LoRA (see the module docstring). Idempotent per style."""
    from stylelicense.jobs.payloads import TrainStylePayload

    job = TrainStylePayload(**payload)
    attempt = self.request.retries + 1
    delays = retry_delays(RETRY_DELAYS_ENV)
    client = WebhookClient(SOURCE)
    run_id = uuid.uuid4().hex
    faults = lifecycle.load_faults("TRAINING_FAULTS")
    try:
        result = run_training(job, attempt=attempt, client=client, run_id=run_id, faults=faults)
        return result["status"]
    except Finished as finished:
        log.info("style %s: nothing (more) to do (%s)", job.style_id, finished)
        return "skipped"
    except Exception as error:
        message = str(error)
        return lifecycle.retry_or_fail(
            self,
            error,
            code=classify(error),
            delays=delays,
            what=f"style {job.style_id} training",
            logger=log,
            on_failure=lambda code: lifecycle.report(
                client,
                "POST",
                "training/failed",
                {"style_id": job.style_id, "reason": f"{code}: {message}"[:500], "run_id": run_id},
                final=True,
            ),
        )
