"""Generation task (image_generation queue): one image in a style, signed before it leaves the worker.

Flow of one attempt:
1. announce the attempt (``PATCH /api/webhooks/inference/progress`` with step 0). The API answers 409
   GENERATION_FINISHED for a completed/failed generation — a redelivered or duplicated message then
   returns here without doing any work;
2. render on the process's GPU thread (``workers/serving.py``): the request joins whatever other jobs
   wait in this worker (``-P threads -c N``) and is rendered in one batch with them by the warm
   :class:`~workers.pipelines.batching.BatchEngine` (created on the first task, never in the parent
   before fork; the style's LoRA comes from private storage into the engine's LRU and stays active
   while the style does not change); steps are reported at most once a second (plus the first and the
   last) from the task's own thread;
3. the output stage, in memory: the artist's signature is stamped (their signature image from
   private storage, or their name as text), then — when the job carries a licence serial — the
   invisible watermark, the licence metadata and the C2PA manifest (``workers/provenance``), else
   :func:`sign_output` (signature + metadata); only then the signed PNG and its thumbnail are uploaded
   to the public location — the unsigned image is never stored or sent;
4. ``POST /api/webhooks/inference/complete`` (with the delivered file's hashes for the licence, and the
   measured service times the API's queue ETAs come from).

The task thread runs the output stage while the GPU thread renders the next batch. Each message is
acknowledged late, alone, after its own image is delivered: a worker killed mid-batch loses nothing.

Failures: GPU out-of-memory, timeouts and connection errors are retried (countdowns 0 s, 30 s, 120 s;
``GENERATION_RETRY_DELAYS`` overrides them, e.g. ``"0,1,1"`` in tests), each retry first reported as
status ``retrying``; a bad prompt, bad input or a missing LoRA fail at once; the final failure goes to
``POST /api/webhooks/inference/failed`` (the API refunds and notifies).

Settings (environment): ``STYLELICENSE_BASE_MODEL`` (``tiny`` default), ``STORAGE_URL`` & co,
``API_BASE_URL``, ``INTERNAL_API_TOKEN``, ``GENERATION_STEPS`` (30), ``GENERATION_GUIDANCE`` (7.5),
``GENERATION_RETRY_DELAYS`` (``0,30,120``), ``GENERATION_PROGRESS_INTERVAL`` (1.0 s),
``GENERATION_SOFT_TIME_LIMIT`` (600 s per attempt; exceeding it counts as a retryable timeout).

Fault injection for tests — ``STYLELICENSE_FAULTS``, comma-separated, honoured only when
``STYLELICENSE_ENV=testing`` (:class:`workers.lifecycle.Faults`):
- ``transient:N`` — the first N attempts raise a (simulated) CUDA out-of-memory error after step 1;
- ``fatal`` — every attempt raises a non-retryable input error before generating;
- ``sleep:S`` — sleep S seconds after reporting step 1 (room to kill the worker mid-generation).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import time
import uuid

from . import app, lifecycle
from .api_client import WebhookClient
from .lifecycle import Faults, Finished, ProgressReporter, TransientError

log = logging.getLogger(__name__)

SOURCE = "inference-server"
RETRY_DELAYS_ENV = "GENERATION_RETRY_DELAYS"


def classify(error: BaseException) -> tuple[bool, str]:
    """``(retryable, error_code)`` for an exception raised while generating."""
    from .pipelines.inference import InferenceInputError, LoraMissingError, PromptError

    if isinstance(error, LoraMissingError):
        return False, "MODEL_MISSING"
    if isinstance(error, PromptError):
        return False, "INVALID_PROMPT"
    if isinstance(error, InferenceInputError):
        return False, "INVALID_INPUT"
    return lifecycle.classify(error, default="GENERATION_FAILED")


def _finished_status(body: dict) -> str | None:
    """A 409 GENERATION_FINISHED answer stops the worker with the generation's status."""
    error = body.get("error", {})
    return error.get("details", {}).get("status", "finished") if error.get("code") == "GENERATION_FINISHED" else None


def step_reporter(
    client, generation_id: int, *, attempt: int, run_id: str, interval: float = 1.0, faults: Faults = Faults()
) -> ProgressReporter:
    """Step reports, at most one per ``interval`` seconds plus always the first and the last step."""
    return ProgressReporter(
        client,
        "inference/progress",
        {"generation_id": generation_id, "attempt": attempt},
        attempt=attempt,
        run_id=run_id,
        interval=interval,
        faults=faults,
        fault_source="STYLELICENSE_FAULTS",
        stop_reason=_finished_status,
    )


def _step_fields(reporter: ProgressReporter, step: int, total: int) -> dict:
    elapsed = time.monotonic() - reporter.started
    return {
        "current_step": step,
        "total_steps": total,
        "progress_percent": min(100, step * 100 // total) if total else 0,
        "estimated_seconds": round(elapsed / step * (total - step)) if step else None,
    }


def announce(reporter: ProgressReporter, total_steps: int) -> None:
    """Announce the attempt (step 0); raises :class:`Finished` when there is nothing to do."""
    reporter.start(**_step_fields(reporter, 0, total_steps))


def report_step(reporter: ProgressReporter, step: int, total: int) -> None:
    """The engine's ``on_step`` callback."""
    reporter.progress(force=step in (1, total), **_step_fields(reporter, step, total))
    if step == 1:
        reporter.fault_point()


def _signature_image(storage, key: str | None):
    """The artist's uploaded signature, or None (then their name is stamped as text)."""
    from PIL import Image, UnidentifiedImageError

    from stylelicense.storage import ObjectNotFound

    if not key:
        return None
    try:
        data = storage.get(key)
    except ObjectNotFound:
        log.warning("signature %s is missing; stamping the artist name instead", key)
        return None
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
        image.load()
        return image
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        log.warning("signature %s cannot be read; stamping the artist name instead", key)
        return None


def run_attempt(job, *, attempt: int, client: WebhookClient, faults: Faults, run_id: str) -> str:
    """One attempt: announce, generate, sign, upload, report complete. Returns the final status."""
    from .pipelines.inference import InferenceInputError, build_prompt
    from .pipelines.signing import ImageLicense, sign_output
    from .serving import render_image, worker_name

    steps = int(os.environ.get("GENERATION_STEPS") or 30)
    reporter = step_reporter(
        client,
        job.generation_id,
        attempt=attempt,
        run_id=run_id,
        faults=faults,
        interval=float(os.environ.get("GENERATION_PROGRESS_INTERVAL") or 1.0),
    )
    clock = time.perf_counter()
    announce(reporter, steps)
    if faults.fatal:
        raise InferenceInputError("injected non-retryable error (STYLELICENSE_FAULTS=fatal)")
    storage = lifecycle.get_storage()
    # Rendered on the process's GPU thread together with whatever other jobs are waiting (workers/serving.py);
    # the step reports are sent from this thread.
    rendered = render_image(
        lora_key=job.lora_key,
        lora_loader=lambda: storage.get(job.lora_key),
        prompt=build_prompt(job.trigger, job.prompt_tags),
        width=job.width,
        height=job.height,
        seed=job.seed,
        steps=steps,
        guidance_scale=float(os.environ.get("GENERATION_GUIDANCE") or 7.5),
        on_step=functools.partial(report_step, reporter),
        timeout=_SOFT_LIMIT,
    )
    image = rendered.image
    generated = time.perf_counter()
    licence = ImageLicense(
        artist_name=job.artist_name,
        style_title=job.style_title,
        style_id=str(job.style_id),
        generation_id=str(job.generation_id),
        licence_url=job.licence_url,
        buyer=job.extra.get("buyer"),
        created_at=job.extra.get("created_at"),
    )
    signature = _signature_image(storage, job.signature_key)
    provenance = None
    if job.licence_serial:  # signature → invisible watermark → metadata → C2PA (workers/provenance)
        from .provenance.output_stage import finish_output

        signed_png, thumbnail, provenance = finish_output(
            image,
            signature=signature,
            lic=licence,
            seed=job.seed,
            serial=job.licence_serial,
            terms_version=job.terms_version or "sl-1.0",
            certificate_url=job.certificate_url,
        )
    else:
        signed_png, thumbnail = sign_output(image, signature=signature, lic=licence, seed=job.seed)
    del image  # only the signed bytes go on from here
    signed = time.perf_counter()
    _upload(
        storage,
        [
            (job.result_key, signed_png, "image/png"),
            (job.thumbnail_key, thumbnail, "image/webp"),
            (job.display_key, None, "image/webp"),
        ],
    )
    service = {
        "seconds": round(time.perf_counter() - clock, 3),
        "batch_size": rendered.batch_size,
        "batch_seconds": round(rendered.batch_seconds, 3),
        "worker": worker_name(),
    }
    body = client.call(
        "POST",
        "inference/complete",
        {
            "generation_id": job.generation_id,
            "result_key": job.result_key,
            "thumbnail_key": job.thumbnail_key,
            "attempt": attempt,
            "service": service,
            **({"provenance": provenance} if provenance else {}),
        },
        final=True,
    )
    if body.get("_status") == 409 and body.get("error", {}).get("code") == "RESULT_MISSING":
        raise TransientError("the API could not see the uploaded result")
    if body.get("_status") != 200:
        raise RuntimeError(f"the API refused the result: {body}")
    done = time.perf_counter()
    log.info(
        "generation %s timings: start+generate %.2fs (batch of %d), sign %.2fs, upload+complete %.2fs "
        "(%dx%d, %d steps)",
        job.generation_id,
        generated - clock,
        rendered.batch_size,
        signed - generated,
        done - signed,
        job.width,
        job.height,
        steps,
    )
    return body["data"]["status"]


def _upload(storage, files: list[tuple[str, bytes | None, str]]) -> None:
    """Upload the outputs (``None``: the display copy of the first file). If storage fails half-way, what
    was stored is removed (best effort) so a job that finally fails leaves no image behind; a retry
    writes the same keys again."""
    from .provenance.output_stage import display_copy

    done: list[str] = []
    try:
        for key, data, content_type in files:
            # The copy pages show; the signed PNG stays the download.
            storage.put(
                key, data if data is not None else display_copy(files[0][1]), public=True, content_type=content_type
            )
            done.append(key)
    except Exception:
        for key in done:
            try:
                storage.delete(key, public=True)
            except Exception as error:  # storage still down: the retry overwrites, the API cleans up
                log.warning("could not remove partial upload %s: %r", key, error)
        raise


_SOFT_LIMIT = int(os.environ.get("GENERATION_SOFT_TIME_LIMIT") or 600)

from .serving import connect_signals  # noqa: E402 — the GPU thread can warm up when the worker is ready

connect_signals()


@app.task(name="workers.tasks.generate_image", bind=True, soft_time_limit=_SOFT_LIMIT, time_limit=_SOFT_LIMIT + 60)
def generate_image(self, payload: dict) -> str:
    """Generate, sign, store and report one image (see the module docstring). Idempotent per generation."""
    from stylelicense.jobs.payloads import GenerateImagePayload

    job = GenerateImagePayload(**payload)
    attempt = self.request.retries + 1
    delays = lifecycle.retry_delays(RETRY_DELAYS_ENV)
    client = WebhookClient(SOURCE)
    run_id = uuid.uuid4().hex
    try:
        status = run_attempt(job, attempt=attempt, client=client, faults=lifecycle.load_faults(), run_id=run_id)
        log.info("generation %s: %s (attempt %s)", job.generation_id, status, attempt)
        return status
    except Finished as finished:
        log.info("generation %s is already %s; nothing to do", job.generation_id, finished)
        return str(finished)
    except Exception as error:
        failure = {"generation_id": job.generation_id, "reason": repr(error)[:500]}
        return lifecycle.retry_or_fail(
            self,
            error,
            code=classify(error),
            delays=delays,
            what=f"generation {job.generation_id}",
            logger=log,
            on_retry=lambda code: lifecycle.report(
                client,
                "PATCH",
                "inference/progress",
                {
                    **failure,
                    "current_step": 0,
                    "total_steps": 0,
                    "attempt": attempt,
                    "run_id": run_id,
                    "retrying": True,
                    "error_code": code,
                },
            ),
            on_failure=lambda code: lifecycle.report(
                client, "POST", "inference/failed", {**failure, "error_code": code}, final=True
            ),
        )
