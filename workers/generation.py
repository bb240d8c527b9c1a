"""Generation task (image_generation queue): one image in a style, signed before it leaves the worker.

Flow of one attempt:
1. announce the attempt (``PATCH /api/webhooks/inference/progress`` with step 0). The API answers 409
   GENERATION_FINISHED for a completed/failed generation — a redelivered or duplicated message then
   returns here without doing any work;
2. generate with the process's warm :class:`InferenceEngine` (created on the first task, never in
   the parent before fork; the style's LoRA comes from private storage into the engine's LRU),
   reporting steps at most once a second (plus the first and the last);
3. the output stage, in memory: the artist's signature is stamped (their signature image from
   private storage, or their name as text), then — when the job carries a licence serial — the
   invisible watermark, the licence metadata and the C2PA manifest (``workers/provenance``), else
   :func:`sign_output` (signature + metadata); only then the signed PNG and its thumbnail are uploaded
   to the public location — the unsigned image is never stored or sent;
4. ``POST /api/webhooks/inference/complete`` (with the delivered file's hashes for the licence).

Failures: GPU out-of-memory, timeouts and connection errors are retried (countdowns 0 s, 30 s, 120 s;
``GENERATION_RETRY_DELAYS`` overrides them, e.g. ``"0,1,1"`` in tests), each retry first reported as
status ``retrying``; a bad prompt, bad input or a missing LoRA fail at once; the final failure goes to
``POST /api/webhooks/inference/failed`` (the API refunds and notifies).

Settings (environment): ``STYLELICENSE_BASE_MODEL`` (``tiny`` default), ``STORAGE_URL`` & co,
``API_BASE_URL``, ``INTERNAL_API_TOKEN``, ``GENERATION_STEPS`` (30), ``GENERATION_GUIDANCE`` (7.5),
``GENERATION_RETRY_DELAYS`` (``0,30,120``), ``GENERATION_PROGRESS_INTERVAL`` (1.0 s),
``GENERATION_SOFT_TIME_LIMIT`` (600 s per attempt; exceeding it counts as a retryable timeout).

Fault injection for tests — ``STYLELICENSE_FAULTS``, comma-separated, ignored (with an error in the
log) when ``STYLELICENSE_ENV=production``:
- ``transient:N`` — the first N attempts raise a (simulated) CUDA out-of-memory error after step 1;
- ``fatal`` — every attempt raises a non-retryable input error before generating;
- ``sleep:S`` — sleep S seconds after reporting step 1 (room to kill the worker mid-generation).
"""

from __future__ import annotations

import io
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from . import app
from .api_client import WebhookClient

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (0, 30, 120)
SOURCE = "inference-server"

# Per worker process, built by the first task (never at import, never in the parent before fork).
_ENGINE = None
_STORAGE = None


class TransientError(RuntimeError):
    """An infrastructure hiccup worth another attempt."""


class Finished(Exception):  # noqa: N818 — a signal, not an error
    """The API says the generation is already completed or failed: stop, do nothing more."""


@dataclass(frozen=True)
class Faults:
    """Injected failures (tests only; see the module docstring)."""

    transient: int = 0
    fatal: bool = False
    sleep: float = 0.0


def load_faults(env: dict[str, str] | None = None) -> Faults:
    """Parse ``STYLELICENSE_FAULTS``; production never injects anything."""
    env = os.environ if env is None else env
    raw = (env.get("STYLELICENSE_FAULTS") or "").strip()
    if not raw:
        return Faults()
    if env.get("STYLELICENSE_ENV") == "production":
        log.error("STYLELICENSE_FAULTS is set in production; ignored")
        return Faults()
    transient, fatal, sleep = 0, False, 0.0
    for item in (part.strip() for part in raw.split(",")):
        name, _, value = item.partition(":")
        if name == "transient":
            transient = int(value or 1)
        elif name == "fatal":
            fatal = True
        elif name == "sleep":
            sleep = float(value or 5)
        elif item:
            raise ValueError(f"unknown fault {item!r} in STYLELICENSE_FAULTS")
    return Faults(transient=transient, fatal=fatal, sleep=sleep)


def retry_delays(env: dict[str, str] | None = None) -> tuple[float, ...]:
    """Countdown before each retry; its length is the number of retries."""
    env = os.environ if env is None else env
    raw = (env.get("GENERATION_RETRY_DELAYS") or "").strip()
    if not raw:
        return DEFAULT_RETRY_DELAYS
    return tuple(float(part) for part in raw.split(",") if part.strip())


def classify(error: BaseException) -> tuple[bool, str]:
    """``(retryable, error_code)`` for an exception raised while generating."""
    import requests
    from celery.exceptions import SoftTimeLimitExceeded

    from stylelicense.storage import StorageError

    from .pipelines.inference import InferenceInputError, LoraMissingError, PromptError

    if isinstance(error, LoraMissingError):
        return False, "MODEL_MISSING"
    if isinstance(error, PromptError):
        return False, "INVALID_PROMPT"
    if isinstance(error, InferenceInputError):
        return False, "INVALID_INPUT"
    if _is_out_of_memory(error):
        return True, "GPU_OUT_OF_MEMORY"
    if isinstance(error, SoftTimeLimitExceeded | TimeoutError | requests.Timeout):
        return True, "TIMEOUT"
    if isinstance(error, requests.ConnectionError | ConnectionError | StorageError | TransientError):
        return True, "CONNECTION_ERROR"
    if type(error).__module__.startswith(("botocore", "urllib3")) and "Connect" in type(error).__name__:
        return True, "CONNECTION_ERROR"
    return False, "GENERATION_FAILED"


def _is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def get_engine():
    """This process's warm engine (pipeline loaded on the first generation)."""
    global _ENGINE
    if _ENGINE is None:
        from .pipelines.inference import InferenceEngine

        _ENGINE = InferenceEngine(os.environ.get("STYLELICENSE_BASE_MODEL") or "tiny",
                                  lora_cache_size=int(os.environ.get("GENERATION_LORA_CACHE") or 8))
    return _ENGINE


def get_storage():
    """This process's storage client, rebuilt only if ``STORAGE_URL`` changes."""
    global _STORAGE
    url = os.environ.get("STORAGE_URL")
    if _STORAGE is None or _STORAGE[0] != url:
        from stylelicense.storage import storage_from_env

        _STORAGE = (url, storage_from_env())
    return _STORAGE[1]


class ProgressReporter:
    """Step reports, at most one per ``interval`` seconds plus always the first and the last step."""

    def __init__(self, client: WebhookClient, generation_id: int, *, attempt: int, run_id: str,
                 interval: float = 1.0, faults: Faults = Faults()):
        self.client, self.generation_id = client, generation_id
        self.attempt, self.run_id, self.interval, self.faults = attempt, run_id, interval, faults
        self.started = time.monotonic()
        self.last_sent = 0.0
        self.sent: list[int] = []

    def start(self, total_steps: int) -> None:
        """Announce the attempt; raises :class:`Finished` when there is nothing to do."""
        body = self._send(0, total_steps, retries=None)
        if body.get("_status") not in (200, 409):
            raise TransientError(f"the API refused the start report: {body}")

    def __call__(self, step: int, total: int) -> None:
        now = time.monotonic()
        if step in (1, total) or now - self.last_sent >= self.interval:
            self.last_sent = now
            try:
                self._send(step, total, retries=1)
            except Finished:
                raise
            except Exception as error:  # progress is best effort: a blip must not cost the image
                log.warning("progress report failed: %r", error)
        if step == 1:
            if self.attempt <= self.faults.transient:
                import torch

                raise torch.OutOfMemoryError("CUDA out of memory (injected by STYLELICENSE_FAULTS)")
            if self.faults.sleep:
                time.sleep(self.faults.sleep)

    def _send(self, step: int, total: int, *, retries: int | None) -> dict:
        elapsed = time.monotonic() - self.started
        estimate = round(elapsed / step * (total - step)) if step else None
        body = self.client.call("PATCH", "inference/progress", {
            "generation_id": self.generation_id, "current_step": step, "total_steps": total,
            "progress_percent": min(100, step * 100 // total) if total else 0, "estimated_seconds": estimate,
            "attempt": self.attempt, "run_id": self.run_id,
        }, retries=retries)
        if body.get("_status") == 409 and body.get("error", {}).get("code") == "GENERATION_FINISHED":
            raise Finished(body["error"].get("details", {}).get("status", "finished"))
        self.sent.append(step)
        return body


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

    steps = int(os.environ.get("GENERATION_STEPS") or 30)
    reporter = ProgressReporter(client, job.generation_id, attempt=attempt, run_id=run_id, faults=faults,
                                interval=float(os.environ.get("GENERATION_PROGRESS_INTERVAL") or 1.0))
    clock = time.perf_counter()
    reporter.start(steps)
    if faults.fatal:
        raise InferenceInputError("injected non-retryable error (STYLELICENSE_FAULTS=fatal)")
    storage = get_storage()
    engine = get_engine()
    image = engine.generate(
        lora_key=job.lora_key, lora_loader=lambda: storage.get(job.lora_key),
        prompt=build_prompt(job.trigger, job.prompt_tags), width=job.width, height=job.height, seed=job.seed,
        steps=steps, guidance_scale=float(os.environ.get("GENERATION_GUIDANCE") or 7.5), on_step=reporter,
    )
    generated = time.perf_counter()
    licence = ImageLicense(
        artist_name=job.artist_name, style_title=job.style_title, style_id=str(job.style_id),
        generation_id=str(job.generation_id), licence_url=job.licence_url, buyer=job.extra.get("buyer"),
        created_at=job.extra.get("created_at"),
    )
    signature = _signature_image(storage, job.signature_key)
    provenance = None
    if job.licence_serial:  # signature → invisible watermark → metadata → C2PA (workers/provenance)
        from .provenance.output_stage import finish_output

        signed_png, thumbnail, provenance = finish_output(
            image, signature=signature, lic=licence, seed=job.seed, serial=job.licence_serial,
            terms_version=job.terms_version or "sl-1.0", certificate_url=job.certificate_url)
    else:
        signed_png, thumbnail = sign_output(image, signature=signature, lic=licence, seed=job.seed)
    del image  # only the signed bytes go on from here
    signed = time.perf_counter()
    storage.put(job.result_key, signed_png, public=True, content_type="image/png")
    storage.put(job.thumbnail_key, thumbnail, public=True, content_type="image/webp")
    body = client.call("POST", "inference/complete", {
        "generation_id": job.generation_id, "result_key": job.result_key, "thumbnail_key": job.thumbnail_key,
        "attempt": attempt, **({"provenance": provenance} if provenance else {})})
    if body.get("_status") == 409 and body.get("error", {}).get("code") == "RESULT_MISSING":
        raise TransientError("the API could not see the uploaded result")
    if body.get("_status") != 200:
        raise RuntimeError(f"the API refused the result: {body}")
    done = time.perf_counter()
    log.info("generation %s timings: start+generate %.2fs, sign %.2fs, upload+complete %.2fs (%dx%d, %d steps)",
             job.generation_id, generated - clock, signed - generated, done - signed, job.width, job.height, steps)
    return body["data"]["status"]


def _report(client: WebhookClient, path: str, method: str, payload: dict[str, Any]) -> None:
    try:
        client.call(method, path, payload)
    except Exception as error:  # the API is unreachable: the stale sweeper will settle the row
        log.error("could not report %s for generation %s: %r", path, payload.get("generation_id"), error)


_SOFT_LIMIT = int(os.environ.get("GENERATION_SOFT_TIME_LIMIT") or 600)


@app.task(name="workers.tasks.generate_image", bind=True, soft_time_limit=_SOFT_LIMIT, time_limit=_SOFT_LIMIT + 60)
def generate_image(self, payload: dict) -> str:
    """Generate, sign, store and report one image (see the module docstring). Idempotent per generation."""
    from stylelicense.jobs import GenerateImagePayload

    job = GenerateImagePayload(**payload)
    attempt = self.request.retries + 1
    delays = retry_delays()
    client = WebhookClient(SOURCE)
    run_id = uuid.uuid4().hex
    try:
        status = run_attempt(job, attempt=attempt, client=client, faults=load_faults(), run_id=run_id)
        log.info("generation %s: %s (attempt %s)", job.generation_id, status, attempt)
        return status
    except Finished as finished:
        log.info("generation %s is already %s; nothing to do", job.generation_id, finished)
        return str(finished)
    except Exception as error:
        retryable, code = classify(error)
        if retryable and self.request.retries < len(delays):
            countdown = delays[self.request.retries]
            log.warning("generation %s attempt %s failed (%s: %r); retrying in %ss", job.generation_id, attempt,
                        code, error, countdown)
            _report(client, "inference/progress", "PATCH", {
                "generation_id": job.generation_id, "current_step": 0, "total_steps": 0, "attempt": attempt,
                "run_id": run_id, "retrying": True, "error_code": code, "reason": repr(error)[:500]})
            raise self.retry(exc=error, countdown=countdown, max_retries=len(delays)) from error
        log.error("generation %s failed for good (%s: %r)", job.generation_id, code, error)
        _report(client, "inference/failed", "POST", {"generation_id": job.generation_id, "error_code": code,
                                                     "reason": repr(error)[:500]})
        return "failed"
