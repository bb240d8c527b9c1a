"""Toss Payments core API v1 client (confirm, look up, cancel).

Plain ``requests``; no Flask, no database. The caller (``tokens/payments.py``) decides what a
result means for the order; this module only speaks HTTP and turns Toss's error objects
(``{"code", "message"}``) into exceptions:

- :class:`AlreadyProcessed` — ``ALREADY_PROCESSED_PAYMENT``: the payment was confirmed (or otherwise
  finished) before; fetch it and reconcile.
- :class:`TossRetryableError` — ``PROVIDER_ERROR``, ``COMMON_ERROR``, HTTP 429/5xx, connection errors.
  Retried inside the client (``retries`` times, exponential backoff) and raised only when retries are
  exhausted. Retrying a POST is safe because every POST carries an ``Idempotency-Key``: Toss matches
  key + method + URL and answers a repeat with the first response.
- :class:`TossTimeout` — the request timed out on every attempt. The outcome is unknown: the
  payment may or may not be confirmed at Toss; reconcile with :meth:`TossClient.get_payment_by_order`.
- :class:`TossError` — anything else (card rejected, bad request, bad key, not found…); not retried.

See https://docs.tosspayments.com/reference and ``shared/NOTES.md`` §5.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import quote

import requests

__all__ = [
    "AlreadyProcessed",
    "RETRYABLE_CODES",
    "TossClient",
    "TossError",
    "TossRetryableError",
    "TossTimeout",
]

#: Toss error codes that mean "temporary, try again" (documented as such by Toss).
RETRYABLE_CODES = frozenset({"PROVIDER_ERROR", "COMMON_ERROR"})

#: Toss limits an Idempotency-Key to 300 characters.
MAX_IDEMPOTENCY_KEY_LENGTH = 300


class TossError(Exception):
    """An error answered by Toss (or met on the way to it).

    ``code`` is Toss's error code (``REJECT_CARD_COMPANY``, ``NOT_FOUND_PAYMENT``…) or, for failures
    without a Toss answer, one of ``NETWORK_ERROR``, ``TIMEOUT``, ``INVALID_RESPONSE``, ``HTTP_<status>``.
    ``status`` is the HTTP status, or ``None`` when no response arrived.
    """

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status is not None else ""))
        self.code = code
        self.message = message
        self.status = status

    def __reduce__(self):  # keep the three fields through pickling (e.g. Celery, multiprocessing)
        return (type(self), (self.code, self.message, self.status))


class TossRetryableError(TossError):
    """A temporary failure that persisted through all of the client's retries."""


class TossTimeout(TossRetryableError):
    """Toss did not answer in time on any attempt; the outcome of a POST is unknown."""


class AlreadyProcessed(TossError):
    """``ALREADY_PROCESSED_PAYMENT``: the payment was already confirmed or otherwise finished."""


class TossClient:
    """Client for the Toss Payments core API v1.

    :param base_url: API base, e.g. ``https://api.tosspayments.com`` (``TOSS_API_BASE``).
    :param secret_key: the merchant secret key (``test_sk_…`` / ``live_sk_…``), sent as HTTP Basic
        ``base64("<secret_key>:")``.
    :param timeout: seconds per attempt (connect and read).
    :param retries: how many times a retryable failure is retried (``retries + 1`` attempts in all).
    :param backoff: first pause between attempts in seconds; doubles after each attempt.
    :param session: optional ``requests.Session`` to send through (its owner closes it); by default
        every call uses a short-lived session, which keeps the client safe to share between threads.
    """

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        session: requests.Session | None = None,
    ) -> None:
        if not secret_key:
            raise ValueError("secret_key is required")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._session = session
        token = base64.b64encode(f"{secret_key}:".encode()).decode("ascii")
        self._auth_header = f"Basic {token}"

    def __repr__(self) -> str:  # never show the key
        return f"TossClient(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ API

    def confirm(self, payment_key: str, order_id: str, amount: int) -> dict[str, Any]:
        """Confirm (approve) an authenticated payment: ``POST /v1/payments/confirm``.

        Sent with ``Idempotency-Key: confirm:<order_id>``, so a retry (ours or the caller's) gets the
        first answer back instead of a second approval. Returns the Payment object; the caller must
        still check ``status == "DONE"`` and that ``orderId``, ``totalAmount`` and ``currency`` match
        its order.

        :raises AlreadyProcessed: the payment was already processed (fetch it and reconcile).
        :raises TossTimeout: no answer in time on any attempt (outcome unknown).
        :raises TossRetryableError: temporary failure on every attempt.
        :raises TossError: any other refusal (e.g. ``REJECT_CARD_COMPANY``), not retried.
        """
        body = {"paymentKey": payment_key, "orderId": order_id, "amount": amount}
        return self._request("POST", "/v1/payments/confirm", json=body, idempotency_key=f"confirm:{order_id}")

    def get_payment(self, payment_key: str) -> dict[str, Any]:
        """Fetch a payment by its key: ``GET /v1/payments/{paymentKey}``.

        :raises TossError: ``NOT_FOUND_PAYMENT`` (HTTP 404) and other refusals.
        """
        return self._request("GET", f"/v1/payments/{_segment(payment_key)}")

    def get_payment_by_order(self, order_id: str) -> dict[str, Any]:
        """Fetch a payment by the merchant's order id: ``GET /v1/payments/orders/{orderId}``.

        :raises TossError: ``NOT_FOUND_PAYMENT`` (HTTP 404) and other refusals.
        """
        return self._request("GET", f"/v1/payments/orders/{_segment(order_id)}")

    def cancel(
        self,
        payment_key: str,
        reason: str,
        idempotency_key: str,
        amount: int | None = None,
    ) -> dict[str, Any]:
        """Cancel a payment in full, or partly when ``amount`` is given:
        ``POST /v1/payments/{paymentKey}/cancel``.

        ``idempotency_key`` is required and must be unique per intended cancellation (e.g.
        ``cancel:<order_id>``): a repeat with the same key returns the first answer instead of
        cancelling twice. Returns the Payment object (``status`` ``CANCELED`` or ``PARTIAL_CANCELED``,
        ``cancels`` list).

        :raises TossError: e.g. ``ALREADY_CANCELED_PAYMENT``, ``NOT_CANCELABLE_AMOUNT``,
            ``NOT_FOUND_PAYMENT``.
        """
        if not idempotency_key:
            raise ValueError("cancel() needs an idempotency_key")
        body: dict[str, Any] = {"cancelReason": reason}
        if amount is not None:
            body["cancelAmount"] = amount
        return self._request(
            "POST", f"/v1/payments/{_segment(payment_key)}/cancel", json=body, idempotency_key=idempotency_key
        )

    # ------------------------------------------------------------ internals

    def _request(
        self,
        method: str,
        path: str,
        json: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Send one logical request, retrying retryable failures; return the decoded JSON object."""
        headers = {"Authorization": self._auth_header, "Accept": "application/json"}
        if idempotency_key is not None:
            if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
                raise ValueError(f"Idempotency-Key longer than {MAX_IDEMPOTENCY_KEY_LENGTH} characters")
            headers["Idempotency-Key"] = idempotency_key
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                return self._send_once(method, url, headers, json)
            except TossRetryableError:
                if attempt >= self.retries:
                    raise
            if self.backoff > 0:
                time.sleep(self.backoff * (2**attempt))
            attempt += 1

    def _send_once(self, method: str, url: str, headers: dict[str, str], json: dict[str, Any] | None) -> dict[str, Any]:
        """One HTTP exchange; raises the matching :class:`TossError` subclass on failure."""
        try:
            if self._session is not None:
                response = self._session.request(method, url, headers=headers, json=json, timeout=self.timeout)
            else:
                response = requests.request(method, url, headers=headers, json=json, timeout=self.timeout)
        except requests.Timeout as exc:
            raise TossTimeout("TIMEOUT", f"no answer from Toss within {self.timeout}s ({exc})") from exc
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            raise TossRetryableError("NETWORK_ERROR", f"could not reach Toss ({exc})") from exc

        try:
            data = response.json()
        except ValueError:
            data = None

        if response.ok:
            if not isinstance(data, dict):
                raise TossError("INVALID_RESPONSE", "Toss answered without a JSON object", response.status_code)
            return data

        code, message = _error_fields(data, response.status_code)
        status = response.status_code
        if code == "ALREADY_PROCESSED_PAYMENT":
            raise AlreadyProcessed(code, message, status)
        if code in RETRYABLE_CODES or status == 429 or status >= 500:
            raise TossRetryableError(code, message, status)
        raise TossError(code, message, status)


def _segment(value: str) -> str:
    """Quote one URL path segment (keys and order ids are URL-safe already; this guards ``/``)."""
    return quote(str(value), safe="")


def _error_fields(data: Any, status: int) -> tuple[str, str]:
    """Extract ``(code, message)`` from a Toss error body, tolerating non-Toss bodies (proxies…)."""
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return data["code"], str(data.get("message", ""))
    return f"HTTP_{status}", f"unexpected HTTP {status} from Toss"
