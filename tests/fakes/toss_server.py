"""A loopback fake of the Toss Payments core API v1 (https://docs.tosspayments.com/reference).

Endpoints (all need ``Authorization: Basic base64("<secret_key>:")``, else 401 ``UNAUTHORIZED_KEY``):

- ``POST /v1/payments/confirm`` ``{paymentKey, orderId, amount}`` → Payment (``status: DONE``)
- ``GET  /v1/payments/{paymentKey}`` → Payment, or 404 ``NOT_FOUND_PAYMENT``
- ``GET  /v1/payments/orders/{orderId}`` → Payment, or 404 ``NOT_FOUND_PAYMENT``
- ``POST /v1/payments/{paymentKey}/cancel`` ``{cancelReason, cancelAmount?}`` → Payment

Errors are ``{"code", "message"}`` with Toss's documented codes and statuses. ``Idempotency-Key``
(≤ 300 chars) works as Toss documents it: the first answer to key + method + path is stored and a
repeat gets it back (same status and body) whatever its body says. Temporary failures
(``PROVIDER_ERROR``, ``COMMON_ERROR``, 5xx) and 401s are not stored, so a retry with the same key
really is retried. Requests carrying the same key are processed one after another (state is
guarded by one lock), so concurrent duplicates also get the stored answer.

Test helpers: :meth:`FakeToss.create_checkout` (what the browser checkout would do),
:meth:`FakeToss.fail_next`, :meth:`FakeToss.delay_next`, :meth:`FakeToss.set_amount_override`,
:meth:`FakeToss.set_status`, :meth:`FakeToss.post_webhook` / :meth:`FakeToss.webhook_event`,
``calls`` (a ``Counter`` per endpoint) and ``requests`` (a log).
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
import string
import threading
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

import requests as http

from tests.fakes._http import LoopbackServer, Request, Response

KST = timezone(timedelta(hours=9))

#: Endpoint names used by ``calls``, ``fail_next(endpoint=…)`` and ``delay_next(endpoint=…)``.
ENDPOINTS = ("confirm", "get_payment", "get_payment_by_order", "cancel")

#: Documented HTTP status of each error code this fake knows (``fail_next`` uses it by default).
ERROR_STATUS = {
    "ALREADY_PROCESSED_PAYMENT": 400,
    "PROVIDER_ERROR": 400,
    "INVALID_REQUEST": 400,
    "INVALID_API_KEY": 400,
    "INVALID_REJECT_CARD": 400,
    "INVALID_CARD_EXPIRATION": 400,
    "INVALID_STOPPED_CARD": 400,
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": 400,
    "BELOW_MINIMUM_AMOUNT": 400,
    "ALREADY_CANCELED_PAYMENT": 400,
    "NOT_CANCELABLE_AMOUNT": 403,
    "NOT_CANCELABLE_PAYMENT": 403,
    "COMMON_ERROR": 400,
    "UNAUTHORIZED_KEY": 401,
    "REJECT_CARD_PAYMENT": 403,
    "REJECT_CARD_COMPANY": 403,
    "FORBIDDEN_REQUEST": 403,
    "NOT_FOUND_PAYMENT": 404,
    "NOT_FOUND_PAYMENT_SESSION": 404,
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": 500,
    "FAILED_INTERNAL_SYSTEM_PROCESSING": 500,
    "UNKNOWN_PAYMENT_ERROR": 500,
}

ERROR_MESSAGES = {
    "ALREADY_PROCESSED_PAYMENT": "이미 처리된 결제 입니다.",
    "PROVIDER_ERROR": "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
    "COMMON_ERROR": "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
    "INVALID_REQUEST": "잘못된 요청입니다.",
    "UNAUTHORIZED_KEY": "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
    "REJECT_CARD_COMPANY": "결제 승인이 거절되었습니다.",
    "NOT_FOUND_PAYMENT": "존재하지 않는 결제 정보 입니다.",
    "NOT_FOUND_PAYMENT_SESSION": "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
    "ALREADY_CANCELED_PAYMENT": "이미 취소된 결제 입니다.",
    "NOT_CANCELABLE_AMOUNT": "취소 할 수 없는 금액 입니다.",
    "NOT_CANCELABLE_PAYMENT": "취소 할 수 없는 결제 입니다.",
}

#: Codes Toss documents as temporary ("try again"); their answers are never stored for replay.
RETRYABLE_CODES = frozenset({"PROVIDER_ERROR", "COMMON_ERROR"})

STATUSES = (
    "READY",
    "IN_PROGRESS",
    "WAITING_FOR_DEPOSIT",
    "DONE",
    "CANCELED",
    "PARTIAL_CANCELED",
    "ABORTED",
    "EXPIRED",
)

ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
_ALNUM = string.ascii_letters + string.digits


def _now() -> str:
    """Toss formats times as ISO 8601 with the +09:00 offset."""
    return datetime.now(KST).isoformat(timespec="seconds")


def _random_key(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def error(code: str, message: str | None = None, status: int | None = None) -> Response:
    """An error answer in Toss's shape."""
    return Response(
        status or ERROR_STATUS.get(code, 400),
        {"code": code, "message": message or ERROR_MESSAGES.get(code, code)},
    )


@dataclass
class _Injected:
    code: str
    status: int
    message: str


class FakeToss(LoopbackServer):
    """Fake Toss Payments API on ``http://127.0.0.1:<port>``; use ``base_url`` as ``TOSS_API_BASE``.

    Thread-safe (a ``ThreadingHTTPServer``; all state changes under one lock).
    """

    def __init__(
        self,
        secret_key: str = "test_sk_fake0000000000000000",
        client_key: str = "test_ck_fake0000000000000000",
    ):
        super().__init__()
        self.secret_key = secret_key
        self.client_key = client_key
        self._lock = threading.RLock()
        self.reset()

    # ------------------------------------------------------------ helpers for tests

    def reset(self) -> None:
        """Forget every payment, stored idempotent answer, injected fault and counter."""
        with self._lock:
            self._payments: dict[str, dict[str, Any]] = {}
            self._by_order: dict[str, str] = {}
            self._idempotent: dict[tuple[str, str, str], Response] = {}
            self._faults: dict[str, deque[_Injected]] = {name: deque() for name in ENDPOINTS}
            self._delays: dict[str, deque[float]] = {name: deque() for name in ENDPOINTS}
            self._amount_override: dict[str, int] = {}
            self.calls: Counter[str] = Counter()
            self.requests: list[dict[str, Any]] = []

    @property
    def auth_header(self) -> str:
        """The ``Authorization`` value this fake accepts."""
        return "Basic " + base64.b64encode(f"{self.secret_key}:".encode()).decode()

    def create_checkout(
        self,
        order_id: str,
        amount: int,
        order_name: str = "Style License tokens",
        method: str = "카드",
        customer_key: str | None = None,
    ) -> str:
        """Simulate the browser checkout (the customer authenticated the payment): create an
        ``IN_PROGRESS`` payment awaiting confirm and return its ``paymentKey`` — what Toss would put in
        ``successUrl?paymentKey=…&orderId=…&amount=…``.

        A second checkout for the same order is allowed (a new ``paymentKey``) unless the order is
        already paid, as Toss refuses a duplicate ``orderId`` then.
        """
        if not isinstance(order_id, str) or not ORDER_ID_RE.match(order_id):
            raise ValueError("orderId must be 6-64 characters of [A-Za-z0-9_-]")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValueError("amount must be a positive int")
        with self._lock:
            previous = self._by_order.get(order_id)
            if previous and self._payments[previous]["status"] not in (
                "READY",
                "IN_PROGRESS",
                "ABORTED",
                "EXPIRED",
            ):
                raise ValueError(f"DUPLICATED_ORDER_ID: order {order_id} is already paid")
            payment_key = _random_key("tgen_", 45)
            vat = round(amount / 11)
            self._payments[payment_key] = {
                "mId": "tosspayments",
                "version": "2022-11-16",
                "lastTransactionKey": None,
                "paymentKey": payment_key,
                "orderId": order_id,
                "orderName": order_name,
                "taxExemptionAmount": 0,
                "status": "IN_PROGRESS",
                "requestedAt": _now(),
                "approvedAt": None,
                "useEscrow": False,
                "cultureExpense": False,
                "card": None,
                "virtualAccount": None,
                "transfer": None,
                "mobilePhone": None,
                "giftCertificate": None,
                "cashReceipt": None,
                "cashReceipts": None,
                "discount": None,
                "cancels": None,
                "secret": None,
                "type": "NORMAL",
                "easyPay": None,
                "country": "KR",
                "failure": None,
                "isPartialCancelable": True,
                "receipt": None,
                "checkout": {"url": f"https://api.tosspayments.com/v1/payments/{payment_key}/checkout"},
                "currency": "KRW",
                "totalAmount": amount,
                "balanceAmount": amount,
                "suppliedAmount": amount - vat,
                "vat": vat,
                "taxFreeAmount": 0,
                "method": method,
                "_customerKey": customer_key,
            }
            self._by_order[order_id] = payment_key
            return payment_key

    def payment(self, payment_key: str) -> dict[str, Any]:
        """A copy of the payment as the API would report it (``KeyError`` if unknown)."""
        with self._lock:
            return self._render(self._payments[payment_key])

    def payment_for_order(self, order_id: str) -> dict[str, Any]:
        """A copy of the latest payment of ``order_id`` (``KeyError`` if unknown)."""
        with self._lock:
            return self._render(self._payments[self._by_order[order_id]])

    def set_status(self, payment_key: str, status: str) -> None:
        """Force a payment's status (e.g. ``EXPIRED``, ``ABORTED``, or ``DONE`` as if confirmed elsewhere)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._lock:
            payment = self._payments[payment_key]
            payment["status"] = status
            if status == "DONE" and not payment["approvedAt"]:
                self._approve(payment)

    def fail_next(
        self,
        code: str,
        times: int = 1,
        status: int | None = None,
        message: str | None = None,
        endpoint: str = "confirm",
    ) -> None:
        """Make the next ``times`` requests to ``endpoint`` (default ``confirm``) fail with ``code``.

        The status defaults to the code's documented one (``ERROR_STATUS``, else 400). Retryable codes
        (``PROVIDER_ERROR``, ``COMMON_ERROR``, 5xx) change nothing. Any other injected confirm failure
        (e.g. ``REJECT_CARD_COMPANY``) aborts the payment (``status: ABORTED``, ``failure`` set), as a
        real refusal does. Faults are consumed after authentication and idempotent replay, i.e. only
        by requests that would really be processed.
        """
        self._check_endpoint(endpoint)
        injected = _Injected(code, status or ERROR_STATUS.get(code, 400), message or ERROR_MESSAGES.get(code, code))
        with self._lock:
            self._faults[endpoint].extend([injected] * times)

    def delay_next(self, seconds: float, times: int = 1, endpoint: str = "confirm") -> None:
        """Answer the next ``times`` requests to ``endpoint`` (default ``confirm``) ``seconds`` late.

        The request is processed at once and only the answer is late — the "approved, but the
        response was lost to a client timeout" case: a retry with the same ``Idempotency-Key`` gets
        the stored answer. ``stop()`` cuts pending delays short.
        """
        self._check_endpoint(endpoint)
        with self._lock:
            self._delays[endpoint].extend([float(seconds)] * times)

    def set_amount_override(self, payment_key: str, amount: int | None) -> None:
        """Report ``amount`` as the payment's ``totalAmount``/``balanceAmount`` from now on (``None``
        removes the override) — a DONE payment that does not match the merchant's order."""
        with self._lock:
            if payment_key not in self._payments:
                raise KeyError(payment_key)
            if amount is None:
                self._amount_override.pop(payment_key, None)
            else:
                self._amount_override[payment_key] = amount

    def webhook_event(self, payment_key: str, event_type: str = "PAYMENT_STATUS_CHANGED") -> dict[str, Any]:
        """The body Toss POSTs to the merchant's webhook for ``payment_key`` (``{eventType, createdAt,
        data: <Payment>}``) — post it with the Flask test client, or use :meth:`post_webhook`."""
        return {
            "eventType": event_type,
            "createdAt": datetime.now(KST).replace(tzinfo=None).isoformat(timespec="microseconds"),
            "data": self.payment(payment_key),
        }

    def post_webhook(
        self, url: str, payment_key: str, event_type: str = "PAYMENT_STATUS_CHANGED", timeout: float = 10.0
    ) -> http.Response:
        """POST :meth:`webhook_event` to ``url`` (the app's ``/api/webhooks/toss/payment`` on a live
        server) as Toss does: JSON, unsigned. Returns the ``requests.Response``."""
        return http.post(url, json=self.webhook_event(payment_key, event_type), timeout=timeout)

    # ------------------------------------------------------------------- server

    def handle(self, request: Request) -> Response:
        endpoint, key = self._route(request)
        with self._lock:
            if endpoint:
                self.calls[endpoint] += 1
            self.requests.append(
                {
                    "endpoint": endpoint,
                    "method": request.method,
                    "path": request.path,
                    "idempotency_key": request.headers.get("idempotency-key"),
                    "body": request.body.decode("utf-8", "replace"),
                }
            )
        if endpoint is None:
            return error("NOT_FOUND", "요청한 리소스를 찾을 수 없습니다.", 404)
        if request.headers.get("authorization") != self.auth_header:
            return error("UNAUTHORIZED_KEY")

        idem_key = request.headers.get("idempotency-key")
        if idem_key is not None and not 0 < len(idem_key) <= 300:
            return error("INVALID_REQUEST", "Idempotency-Key는 300자 이하여야 합니다.")

        with self._lock:
            store_key = (idem_key, request.method, request.path) if idem_key else None
            if store_key and store_key in self._idempotent:
                response = copy.deepcopy(self._idempotent[store_key])
            else:
                response = self._process(endpoint, key, request)
                if store_key and _storable(response):
                    self._idempotent[store_key] = copy.deepcopy(response)
            delays = self._delays[endpoint]
            response.delay = delays.popleft() if delays else 0.0
        return response

    @staticmethod
    def _route(request: Request) -> tuple[str | None, str | None]:
        parts = [unquote(p) for p in request.path.strip("/").split("/")]
        if parts[:2] != ["v1", "payments"]:
            return None, None
        rest = parts[2:]
        if request.method == "POST" and rest == ["confirm"]:
            return "confirm", None
        if request.method == "GET" and len(rest) == 2 and rest[0] == "orders":
            return "get_payment_by_order", rest[1]
        if request.method == "GET" and len(rest) == 1:
            return "get_payment", rest[0]
        if request.method == "POST" and len(rest) == 2 and rest[1] == "cancel":
            return "cancel", rest[0]
        return None, None

    def _process(self, endpoint: str, key: str | None, request: Request) -> Response:
        """Handle an authenticated, non-replayed request (called under the lock)."""
        body: Any = None
        if request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                return error("INVALID_REQUEST", "요청 본문이 올바른 JSON이 아닙니다.")
            if not isinstance(body, dict):
                return error("INVALID_REQUEST")

        faults = self._faults[endpoint]
        if faults:
            fault = faults.popleft()
            if endpoint == "confirm" and fault.code not in RETRYABLE_CODES and fault.status < 500:
                payment = self._payments.get(str(body.get("paymentKey")))
                if payment is not None and payment["status"] in ("READY", "IN_PROGRESS"):
                    payment["status"] = "ABORTED"
                    payment["failure"] = {"code": fault.code, "message": fault.message}
            return Response(fault.status, {"code": fault.code, "message": fault.message})

        if endpoint == "confirm":
            return self._confirm(body)
        if endpoint == "cancel":
            return self._cancel(key, body)
        if endpoint == "get_payment":
            payment = self._payments.get(key or "")
        else:
            payment = self._payments.get(self._by_order.get(key or "", ""))
        if payment is None:
            return error("NOT_FOUND_PAYMENT")
        return Response(200, self._render(payment))

    def _confirm(self, body: dict[str, Any]) -> Response:
        payment_key, order_id, amount = body.get("paymentKey"), body.get("orderId"), body.get("amount")
        if not isinstance(payment_key, str) or not payment_key:
            return error("INVALID_REQUEST", "paymentKey는 필수 파라미터입니다.")
        if not isinstance(order_id, str) or not ORDER_ID_RE.match(order_id):
            return error("INVALID_REQUEST", "orderId는 6자 이상 64자 이하의 영문 대소문자, 숫자, -, _ 여야 합니다.")
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount != int(amount):
            return error("INVALID_REQUEST", "amount는 정수여야 합니다.")
        payment = self._payments.get(payment_key)
        if payment is None or payment["orderId"] != order_id:
            return error("NOT_FOUND_PAYMENT_SESSION")
        if payment["status"] in ("DONE", "CANCELED", "PARTIAL_CANCELED", "WAITING_FOR_DEPOSIT"):
            return error("ALREADY_PROCESSED_PAYMENT")
        if payment["status"] in ("ABORTED", "EXPIRED"):
            return error("NOT_FOUND_PAYMENT_SESSION")
        if int(amount) != payment["totalAmount"]:
            return error("INVALID_REQUEST", "결제 금액이 일치하지 않습니다.")
        self._approve(payment)
        return Response(200, self._render(payment))

    def _approve(self, payment: dict[str, Any]) -> None:
        payment["status"] = "DONE"
        payment["approvedAt"] = _now()
        payment["lastTransactionKey"] = secrets.token_hex(16).upper()
        payment["receipt"] = {
            "url": f"https://dashboard.tosspayments.com/receipt/redirection?transactionId={payment['paymentKey']}"
        }
        if payment["method"] == "카드":
            payment["card"] = {
                "issuerCode": "61",
                "acquirerCode": "31",
                "number": "43301234****123*",
                "installmentPlanMonths": 0,
                "isInterestFree": False,
                "interestPayer": None,
                "approveNo": f"{secrets.randbelow(10**8):08d}",
                "useCardPoint": False,
                "cardType": "신용",
                "ownerType": "개인",
                "acquireStatus": "READY",
                "amount": payment["totalAmount"],
            }

    def _cancel(self, payment_key: str | None, body: dict[str, Any]) -> Response:
        payment = self._payments.get(payment_key or "")
        if payment is None:
            return error("NOT_FOUND_PAYMENT")
        reason = body.get("cancelReason")
        if not isinstance(reason, str) or not reason.strip():
            return error("INVALID_REQUEST", "cancelReason은 필수 파라미터입니다.")
        if payment["status"] == "CANCELED":
            return error("ALREADY_CANCELED_PAYMENT")
        if payment["status"] not in ("DONE", "PARTIAL_CANCELED"):
            return error("NOT_CANCELABLE_PAYMENT")
        cancel_amount = body.get("cancelAmount", payment["balanceAmount"])
        if not isinstance(cancel_amount, int) or isinstance(cancel_amount, bool) or cancel_amount <= 0:
            return error("INVALID_REQUEST", "cancelAmount는 양의 정수여야 합니다.")
        if cancel_amount > payment["balanceAmount"]:
            return error("NOT_CANCELABLE_AMOUNT")
        payment["balanceAmount"] -= cancel_amount
        payment["status"] = "CANCELED" if payment["balanceAmount"] == 0 else "PARTIAL_CANCELED"
        transaction_key = secrets.token_hex(16).upper()
        payment["lastTransactionKey"] = transaction_key
        payment["cancels"] = (payment["cancels"] or []) + [
            {
                "transactionKey": transaction_key,
                "cancelReason": reason,
                "taxExemptionAmount": 0,
                "canceledAt": _now(),
                "transferDiscountAmount": 0,
                "easyPayDiscountAmount": 0,
                "receiptKey": None,
                "cancelAmount": cancel_amount,
                "taxFreeAmount": 0,
                "refundableAmount": payment["balanceAmount"],
                "cancelStatus": "DONE",
                "cancelRequestId": None,
            }
        ]
        return Response(200, self._render(payment))

    def _render(self, payment: dict[str, Any]) -> dict[str, Any]:
        out = {k: copy.deepcopy(v) for k, v in payment.items() if not k.startswith("_")}
        override = self._amount_override.get(payment["paymentKey"])
        if override is not None:
            out["totalAmount"] = override
            out["balanceAmount"] = override
        return out

    @staticmethod
    def _check_endpoint(endpoint: str) -> None:
        if endpoint not in ENDPOINTS:
            raise ValueError(f"endpoint must be one of {ENDPOINTS}")


def _storable(response: Response) -> bool:
    """Whether an answer is kept for Idempotency-Key replay (temporary failures are not)."""
    if response.status >= 500 or response.status == 401:
        return False
    code = response.body.get("code") if isinstance(response.body, dict) else None
    return code not in RETRYABLE_CODES
