"""One job lifecycle for both GPU tasks (training and generation), worker side.

- error classes: :class:`TransientError` (retry), :class:`Finished` (the API says stop: do nothing more);
- :func:`classify`: ``(retryable, code)`` for infrastructure failures (GPU out of memory, timeouts,
  connection errors), after the task's own rules for its input errors;
- :func:`retry_delays`: the countdowns before each retry (``<PREFIX>_RETRY_DELAYS``);
- :func:`get_storage`: this process's storage client (one caching rule: rebuilt when ``STORAGE_URL``
  changes);
- :class:`ProgressReporter`: the attempt's start report, its progress reports (throttled) and, when asked,
  a heartbeat thread; a 409/404 answer means the run must stop (:class:`Finished`);
- :func:`report`: a final webhook (failed) that must not raise: the API's sweeper settles the row if the
  API cannot be reached;
- fault injection (:class:`Faults`), for tests only: honoured only when ``STYLELICENSE_ENV=testing``.

Shared layer: imports nothing of Flask or the web app (``stylelicense.storage`` is Flask-free).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (0, 30, 120)

# Per worker process: (STORAGE_URL it was built for, client); never built at import or in the parent.
_STORAGE: tuple[str | None, Any] | None = None


class TransientError(RuntimeError):
    """An infrastructure hiccup worth another attempt."""


class Finished(Exception):  # noqa: N818 — a signal, not an error
    """The API says there is nothing (more) to do: the job is finished or a newer run took over."""


# --- fault injection (tests only) -----------------------------------------------------------------


@dataclass(frozen=True)
class Faults:
    """Injected failures for end-to-end tests: ``transient:N`` (the first N attempts raise a simulated CUDA
    out-of-memory error at the first progress report), ``fatal`` (a non-retryable input error before the
    work), ``sleep:S`` (sleep S seconds after the first report: room to kill the worker mid-job)."""

    transient: int = 0
    fatal: bool = False
    sleep: float = 0.0

    def at_first_report(self, attempt: int, source: str) -> None:
        """Called once per attempt, at its first progress report."""
        if attempt <= self.transient:
            import torch

            raise torch.OutOfMemoryError(f"CUDA out of memory (injected by {source})")
        if self.sleep:
            time.sleep(self.sleep)


def load_faults(variable: str = "STYLELICENSE_FAULTS", env: Mapping[str, str] | None = None) -> Faults:
    """Parse the fault variable. Only a test environment (``STYLELICENSE_ENV=testing``) injects anything:
    in development or production a set variable is logged and ignored."""
    env = os.environ if env is None else env
    raw = (env.get(variable) or "").strip()
    if not raw:
        return Faults()
    if env.get("STYLELICENSE_ENV") != "testing":
        log.error("%s is set outside STYLELICENSE_ENV=testing; ignored", variable)
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
            raise ValueError(f"unknown fault {item!r} in {variable}")
    return Faults(transient=transient, fatal=fatal, sleep=sleep)


# --- retries --------------------------------------------------------------------------------------


def retry_delays(variable: str, env: Mapping[str, str] | None = None) -> tuple[float, ...]:
    """Countdown before each retry (``variable``, e.g. ``"0,30,120"``); its length is the number of retries."""
    env = os.environ if env is None else env
    raw = (env.get(variable) or "").strip()
    if not raw:
        return DEFAULT_RETRY_DELAYS
    return tuple(float(part) for part in raw.split(",") if part.strip())


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def classify(error: BaseException, *, default: str) -> tuple[bool, str]:
    """``(retryable, code)`` for the failures both tasks share; ``(False, default)`` for anything else.
    Each task checks its own input errors first (they are never retried)."""
    import requests
    from celery.exceptions import SoftTimeLimitExceeded

    from stylelicense.storage import StorageError

    if is_out_of_memory(error):
        return True, "GPU_OUT_OF_MEMORY"
    if isinstance(error, SoftTimeLimitExceeded | TimeoutError | requests.Timeout):
        return True, "TIMEOUT"
    if isinstance(error, requests.ConnectionError | ConnectionError | StorageError | TransientError):
        return True, "CONNECTION_ERROR"
    if type(error).__module__.startswith(("botocore", "urllib3")) and "Connect" in type(error).__name__:
        return True, "CONNECTION_ERROR"
    return False, default


# --- storage --------------------------------------------------------------------------------------


def get_storage():
    """This process's storage client, built on first use and rebuilt only if ``STORAGE_URL`` changes."""
    global _STORAGE
    url = os.environ.get("STORAGE_URL")
    if _STORAGE is None or _STORAGE[0] != url:
        from stylelicense.storage import storage_from_env

        _STORAGE = (url, storage_from_env())
    return _STORAGE[1]


# --- reporting ------------------------------------------------------------------------------------


def report(client, method: str, path: str, payload: dict[str, Any], *, final: bool = False) -> None:
    """Send a report that must not raise: an API still unreachable (after retrying until the final-report
    deadline when ``final``) is logged, and the API's sweeper settles the row."""
    try:
        client.call(method, path, payload, final=final)
    except Exception as error:
        log.error("could not report %s (%s): %r", path, payload, error)


class ProgressReporter:
    """Start report, progress reports and (optionally) a heartbeat for one attempt.

    ``ids`` go into every report (``{"generation_id": 7, "attempt": 2}``), with ``run_id``; the fields
    of each report are merged into the last known state, so a heartbeat repeats the latest progress. Progress is best
    effort (a failed report is logged, not raised), but a 409 or 404 answer means the API wants this run
    to stop: :class:`Finished` is raised from the next report call. ``stop_reason`` turns a 409 body into
    the reason (None: the 409 is not a stop signal).

    With ``interval``, reports are throttled to one per ``interval`` seconds unless ``force`` is given.
    The heartbeat (``start_heartbeat``) re-sends the latest state whenever nothing was sent for
    ``interval`` seconds, and stops after ``stall_limit`` seconds without a real update (a hung run must
    not look alive).
    """

    def __init__(
        self,
        client,
        path: str,
        ids: Mapping[str, Any],
        *,
        attempt: int,
        run_id: str,
        interval: float = 1.0,
        faults: Faults = Faults(),
        fault_source: str = "STYLELICENSE_FAULTS",
        stop_reason: Callable[[dict], str | None] | None = None,
        stall_limit: float | None = None,
    ):
        self.client, self.path, self.ids = client, path, dict(ids)
        self.attempt, self.run_id, self.interval = attempt, run_id, interval
        self.faults, self.fault_source = faults, fault_source
        self.stop_reason = stop_reason or _error_code
        self.stall_limit = stall_limit
        self.state: dict[str, Any] = {}
        self.stopped: str | None = None  # why the API wants this run to stop
        self.started = time.monotonic()
        self.last_sent = 0.0
        self.last_update = time.monotonic()  # the last report from the work itself (not a heartbeat)
        self.sent: list[dict[str, Any]] = []
        self._faulted = False
        self._lock = threading.Lock()
        self._quit = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, **fields) -> dict:
        """Announce the attempt; raises :class:`Finished` when there is nothing to do and
        :class:`TransientError` when the API refuses it."""
        body = self._send(fields, retries=None)
        if self.stopped:
            raise Finished(self.stopped)
        if body.get("_status") != 200:
            raise TransientError(f"the API refused the start report: {body}")
        return body

    def progress(self, *, force: bool = False, **fields) -> None:
        """Report progress (throttled to ``interval`` unless ``force``); raises :class:`Finished` once the
        API said stop."""
        self.state.update(fields)
        self.last_update = time.monotonic()
        if force or time.monotonic() - self.last_sent >= self.interval:
            try:
                self._send({}, retries=1)
            except Exception as error:  # a blip must not cost the job
                log.warning("progress report %s %s failed: %r", self.path, self.ids, error)
        if self.stopped:
            raise Finished(self.stopped)

    def fault_point(self) -> None:
        """Where injected faults fire: the first call of the attempt (tests only; see :class:`Faults`)."""
        if not self._faulted:
            self._faulted = True
            self.faults.at_first_report(self.attempt, self.fault_source)

    def should_stop(self) -> bool:
        return self.stopped is not None

    def _send(self, fields: dict[str, Any], *, retries: int | None) -> dict:
        with self._lock:
            payload = {**self.ids, **self.state, **fields, "run_id": self.run_id}
            body = self.client.call("PATCH", self.path, payload, retries=retries)
            self.last_sent = time.monotonic()
            self.sent.append(payload)
        if body.get("_status") == 409:
            self.stopped = self.stopped or self.stop_reason(body)
        elif body.get("_status") == 404:
            self.stopped = "NOT_FOUND"
        return body

    # --- heartbeat ------------------------------------------------------------------------------

    def start_heartbeat(self) -> None:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{self.ids}", daemon=True)
        self._thread.start()

    def stop_heartbeat(self) -> None:
        self._quit.set()
        if self._thread is not None:
            self._thread.join(timeout=getattr(self.client, "timeout", 15.0) + 5)

    def _beat(self) -> None:
        while not self._quit.wait(min(1.0, self.interval / 4)):
            silent = time.monotonic() - self.last_sent
            if silent < self.interval or self.stopped:
                continue
            if self.stall_limit is not None and time.monotonic() - self.last_update > self.stall_limit:
                log.error(
                    "%s: no progress for %.0f s; heartbeat stopped", self.ids, time.monotonic() - self.last_update
                )
                return
            estimate = self.state.get("estimated_seconds")
            if estimate is not None:
                self.state["estimated_seconds"] = max(0, int(estimate - silent))
            try:
                self._send({}, retries=1)
            except Exception as error:  # the API is down for a moment: try again next beat
                log.warning("heartbeat %s failed: %r", self.ids, error)
                self.last_sent = time.monotonic()


def _error_code(body: dict) -> str:
    error = body.get("error", {})
    return f"{error.get('code')}: {error.get('details', {})}"


def retry_or_fail(
    task,
    error: BaseException,
    *,
    code: tuple[bool, str],
    delays: tuple[float, ...],
    what: str,
    on_retry: Callable[[str], None] | None = None,
    on_failure: Callable[[str], None],
    logger: logging.Logger = log,
) -> str:
    """After a failed attempt of a bound Celery ``task``: retry it (``code`` retryable and retries left;
    ``on_retry(code)`` first) — this raises Celery's Retry — or report the final failure
    (``on_failure(code)``) and return ``"failed"``."""
    retryable, error_code = code
    attempt = task.request.retries + 1
    if retryable and task.request.retries < len(delays):
        countdown = delays[task.request.retries]
        logger.warning("%s attempt %s failed (%s: %r); retrying in %ss", what, attempt, error_code, error, countdown)
        if on_retry is not None:
            on_retry(error_code)
        raise task.retry(exc=error, countdown=countdown, max_retries=len(delays)) from error
    logger.error("%s failed for good (%s: %r)", what, error_code, error)
    on_failure(error_code)
    return "failed"
