"""The workers' side of the internal webhooks (SPEC §6): Bearer token + X-Request-Source."""

from __future__ import annotations

import os
import time

import requests


class WebhookClient:
    """Calls ``{API_BASE_URL}/api/webhooks/...`` with the internal token, retrying transient errors."""

    def __init__(self, source: str, base_url: str | None = None, token: str | None = None,
                 timeout: float = 15.0, retries: int = 5):
        self.source = source
        self.base_url = (base_url or os.environ.get("API_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
        self.token = token or os.environ.get("INTERNAL_API_TOKEN") or _instance_token()
        self.timeout = timeout
        self.retries = retries
        self.session = requests.Session()

    def call(self, method: str, path: str, payload: dict, *, retries: int | None = None) -> dict:
        """Send one webhook. Connection errors and 5xx are retried with backoff; 4xx are returned
        to the caller as data (an idempotent "already done" answer is not an error)."""
        attempts = (self.retries if retries is None else retries) + 1
        delay = 0.5
        for attempt in range(attempts):
            try:
                response = self.session.request(
                    method, f"{self.base_url}/api/webhooks/{path}", json=payload, timeout=self.timeout,
                    headers={"Authorization": f"Bearer {self.token}", "X-Request-Source": self.source})
                if response.status_code < 500:
                    body = response.json() if response.content else {}
                    body["_status"] = response.status_code
                    return body
            except requests.RequestException:
                if attempt == attempts - 1:
                    raise
            if attempt < attempts - 1:
                time.sleep(delay)
                delay = min(delay * 2, 10)
        raise RuntimeError(f"webhook {path} kept failing with server errors")


def _instance_token() -> str:
    """`make run` shares the generated token through the instance folder."""
    from pathlib import Path

    path = Path(os.environ.get("STYLELICENSE_INSTANCE") or Path(__file__).resolve().parent.parent / "instance")
    token_file = path / "internal_api_token"
    return token_file.read_text().strip() if token_file.exists() else ""
