"""The workers' side of the internal webhooks (SPEC §6): Bearer token + X-Request-Source."""

from __future__ import annotations

import logging
import os
import time

import requests

log = logging.getLogger(__name__)

# How long a final report (complete/failed) keeps trying while the API is down (restart, deploy): well
# under the API's stale-job sweep (30 min), so a finished result is delivered rather than swept and refunded.
FINAL_DEADLINE_ENV = "WEBHOOK_FINAL_DEADLINE"
DEFAULT_FINAL_DEADLINE = 600.0
MAX_DELAY = 10.0


class WebhookClient:
    """Calls ``{API_BASE_URL}/api/webhooks/...`` with the internal token, retrying transient errors."""

    def __init__(
        self,
        source: str,
        base_url: str | None = None,
        token: str | None = None,
        timeout: float = 15.0,
        retries: int = 5,
    ):
        self.source = source
        self.base_url = (base_url or os.environ.get("API_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
        self.token = token or os.environ.get("INTERNAL_API_TOKEN") or _instance_token()
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()

    def call(self, method: str, path: str, payload: dict, *, retries: int | None = None, final: bool = False) -> dict:
        """Send one webhook. Connection errors and 5xx are retried with backoff (0.5 s doubling, at most
        10 s apart); 4xx are returned to the caller as data (an idempotent "already done" answer is not
        an error). ``retries`` bounds the attempts; a ``final`` report (the job's result) is instead
        retried until ``WEBHOOK_FINAL_DEADLINE`` seconds (600) have passed: the work is done, and
        re-doing it because the API restarted would waste it."""
        attempts = (self.retries if retries is None else retries) + 1
        deadline = time.monotonic() + float(os.environ.get(FINAL_DEADLINE_ENV) or DEFAULT_FINAL_DEADLINE)
        delay = 0.5
        attempt = 0
        while True:
            attempt += 1
            problem: str
            try:
                response = self.session.request(
                    method,
                    f"{self.base_url}/api/webhooks/{path}",
                    json=payload,
                    timeout=self.timeout,
                    headers={"Authorization": f"Bearer {self.token}", "X-Request-Source": self.source},
                )
                if response.status_code < 500:
                    body = response.json() if response.content else {}
                    body["_status"] = response.status_code
                    return body
                problem = f"HTTP {response.status_code}"
                error: Exception | None = None
            except requests.RequestException as caught:
                problem, error = repr(caught)[:200], caught
            more = time.monotonic() + delay < deadline if final else attempt < attempts
            if not more:
                if error is not None:
                    raise error
                raise RuntimeError(f"webhook {path} kept failing with server errors ({problem})")
            log.warning("webhook %s failed (%s); retrying in %.1f s", path, problem, delay)
            time.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)


def _instance_token() -> str:
    """`make run` shares the generated token through the instance folder."""
    from pathlib import Path

    path = Path(os.environ.get("STYLELICENSE_INSTANCE") or Path(__file__).resolve().parent.parent / "instance")
    token_file = path / "internal_api_token"
    return token_file.read_text().strip() if token_file.exists() else ""
