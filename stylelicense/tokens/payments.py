"""A purchase's payment with Toss Payments: confirming it, a failure the customer returns with, the
local sandbox checkout, and Toss's webhook. The order itself is created in ``operations.py``.

A purchase goes ``pending`` → ``confirming`` → ``paid`` (or ``failed`` / ``canceled``). Toss is the
authority on a payment: we act on the Payment object Toss returns (confirm answer or a fresh lookup),
never on what a browser or an unsigned webhook claims. Every decision about one purchase is taken
while holding its row lock, and the credit's unique idempotency key ``purchase:<orderId>`` makes a
second credit impossible even so. Tokens only ever move in ``ledger.py``.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from ..errors import APIError, NotFound, PaymentFailed, ServiceUnavailable
from ..extensions import db
from ..models import utcnow
from . import ledger
from .models import Purchase
from .reversal import reverse_canceled
from .toss import AlreadyProcessed, TossClient, TossError, TossRetryableError

#: Toss codes that mean the customer's payment method refused the payment: the order is over.
CARD_REFUSALS = frozenset(
    {
        "REJECT_CARD_COMPANY",
        "REJECT_CARD_PAYMENT",
        "INVALID_REJECT_CARD",
        "INVALID_CARD_EXPIRATION",
        "INVALID_STOPPED_CARD",
        "EXCEED_MAX_DAILY_PAYMENT_COUNT",
        "EXCEED_MAX_PAYMENT_AMOUNT",
        "INVALID_CARD_LOST_OR_STOLEN",
        "RESTRICTED_TRANSFER_ACCOUNT",
        "INVALID_CARD_NUMBER",
        "INVALID_ACCOUNT_INFO_RE_REGISTER",
        "NOT_AVAILABLE_BANK",
        "INVALID_PASSWORD",
        "EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT",
        "EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT",
        "REJECT_ACCOUNT_PAYMENT",
        "REJECT_TOSSPAY_INVALID_ACCOUNT",
        "FDS_ERROR",
    }
)

SANDBOX_PREFIX = "sandbox_"
SANDBOX_FAIL_PREFIX = "sandbox_fail"
SANDBOX_NOTE = "LOCAL SANDBOX CHECKOUT - no real payment was made"


# --- configuration -------------------------------------------------------------------------------


def sandbox_enabled() -> bool:
    """The labelled local checkout: only without Toss keys and never in production."""
    config = current_app.config
    return (
        bool(config.get("SANDBOX_CHECKOUT"))
        and config.get("ENV_NAME") != "production"
        and not config.get("TOSS_SECRET_KEY")
    )


def toss_client(*, quick: bool = False) -> TossClient:
    """A Toss client from the configuration (``TOSS_TIMEOUT``/``TOSS_RETRIES``/``TOSS_BACKOFF`` tune it).

    ``quick`` (webhooks): one attempt with a short timeout, since Toss wants its 200 fast."""
    config = current_app.config
    secret = config.get("TOSS_SECRET_KEY")
    if not secret:
        raise ServiceUnavailable("Payments are not configured on this server.", code="PAYMENTS_UNAVAILABLE")
    timeout = float(config.get("TOSS_TIMEOUT", 10.0))
    return TossClient(
        config["TOSS_API_BASE"],
        secret,
        timeout=min(timeout, 5.0) if quick else timeout,
        retries=0 if quick else int(config.get("TOSS_RETRIES", 2)),
        backoff=float(config.get("TOSS_BACKOFF", 0.2)),
    )


# --- confirming ----------------------------------------------------------------------------------


def _lock_purchase(order_id: str) -> Purchase | None:
    """The purchase row, locked until the transaction ends, with fresh values."""
    return db.session.scalar(
        select(Purchase)
        .where(Purchase.order_id == order_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _refuse(purchase: Purchase | None, message: str, *, reason: str, status: int = 400, **details: Any) -> APIError:
    info: dict[str, Any] = {"reason": reason, **details}
    if purchase is not None:
        info.update(order_id=purchase.order_id, status=purchase.status)
    return PaymentFailed(message, details=info, status=status)


def _close(purchase: Purchase, status: str, code: str, message: str, payment: dict[str, Any] | None) -> None:
    purchase.status = status
    purchase.failure_code = code[:64]
    purchase.failure_message = (message or code)[:255]
    if payment is not None:
        purchase.provider_response = payment
    current_app.logger.info("purchase closed", extra={"order_id": purchase.order_id, "status": status, "code": code})


def _matches(purchase: Purchase, payment: dict[str, Any]) -> bool:
    return (
        payment.get("orderId") == purchase.order_id
        and payment.get("totalAmount") == purchase.amount
        and payment.get("currency", "KRW") == purchase.currency
    )


def apply_payment(purchase: Purchase, payment: dict[str, Any]) -> str:
    """Bring a (locked) purchase in line with Toss's Payment object; returns what was done.

    ``DONE`` and matching our order, currency and amount: paid and credited once (even a purchase we
    had closed: the money was taken, so the tokens are owed). ``DONE`` but not matching: never
    credited, closed as ``failed`` for an operator to refund. ``CANCELED``/``ABORTED``/``EXPIRED``:
    closed unless already paid; once paid, the canceled share of the tokens is taken back
    (``reversal.py``). Anything else is still in progress: nothing changes."""
    if payment.get("orderId") != purchase.order_id:
        return "other_order"
    status = payment.get("status")
    if status == "DONE":
        if purchase.status == "paid" or purchase.canceled_amount:  # Toss never goes from canceled to DONE
            return "already_paid"
        if not _matches(purchase, payment):
            if purchase.failure_code != "AMOUNT_MISMATCH":
                current_app.logger.error(
                    "Toss payment does not match its order: refund it at Toss",
                    extra={
                        "order_id": purchase.order_id,
                        "expected": purchase.amount,
                        "reported": payment.get("totalAmount"),
                        "currency": payment.get("currency"),
                    },
                )
            _close(
                purchase,
                "failed",
                "AMOUNT_MISMATCH",
                f"Toss reported {payment.get('totalAmount')} {payment.get('currency')}, "
                f"the order is {purchase.amount} {purchase.currency}",
                payment,
            )
            return "mismatch"
        purchase.status = "paid"
        purchase.payment_key = payment.get("paymentKey")
        purchase.paid_at = utcnow()
        purchase.failure_code = purchase.failure_message = None
        purchase.provider_response = payment
        sandbox = bool(payment.get("sandbox"))
        ledger.credit_purchase(
            purchase, memo=(f"SANDBOX: {purchase.tokens:,} tokens, no real payment" if sandbox else None)
        )
        current_app.logger.info(
            "purchase paid",
            extra={
                "order_id": purchase.order_id,
                "user_id": purchase.user_id,
                "tokens": purchase.tokens,
                "sandbox": sandbox,
            },
        )
        return "credited"
    if purchase.status == "paid" or purchase.canceled_amount:
        if status in ("CANCELED", "PARTIAL_CANCELED"):
            return reverse_canceled(purchase, payment)  # the credited tokens are taken back (reversal.py)
        return "already_paid"
    if status in ("CANCELED", "PARTIAL_CANCELED"):
        _close(purchase, "canceled", status, "The payment was canceled.", payment)
        return "canceled"
    if status in ("ABORTED", "EXPIRED"):
        failure = payment.get("failure") or {}
        _close(
            purchase,
            "failed",
            failure.get("code") or status,
            failure.get("message") or f"The payment is {status.lower()}.",
            payment,
        )
        return "failed"
    return "in_progress"


def _lookup(order_id: str) -> tuple[dict[str, Any] | None, bool]:
    """Ask Toss for the order's payment: ``(payment or None, whether Toss answered)``."""
    try:
        return toss_client().get_payment_by_order(order_id), True
    except TossRetryableError:
        return None, False
    except TossError as error:
        return None, error.code == "NOT_FOUND_PAYMENT"


def confirm_purchase(user_id: int, payment_key: str, order_id: str, amount: int) -> Purchase:
    """Confirm a payment the browser came back with, and credit it exactly once.

    Checked before Toss is called: the order exists and is the caller's, it is still open, the amount
    is the order's, and the payment key is not another order's. No database lock is held while Toss
    is called (this function commits twice; see below). Toss's answer (or, when the answer is
    ``ALREADY_PROCESSED_PAYMENT``, an error or a timeout, a fresh lookup of the order's payment) then
    decides, under the purchase's row lock, as ``apply_payment`` describes.
    Raises PAYMENT_FAILED (400; 503 with ``retryable`` when Toss could not be reached) or NOT_FOUND."""
    purchase = _lock_purchase(order_id)
    if purchase is None or purchase.user_id != user_id:
        raise NotFound("There is no such order of yours.", details={"order_id": order_id})
    if purchase.status == "paid":
        if payment_key != purchase.payment_key:
            raise _refuse(purchase, "This order was already paid with another payment.", reason="ALREADY_PAID")
        return purchase  # a repeat (double click, reloaded success page): no second credit
    if purchase.status in ("failed", "canceled"):
        raise _refuse(
            purchase,
            "This order is closed; please start a new purchase.",
            reason="ORDER_CLOSED",
            provider_code=purchase.failure_code,
        )
    if amount != purchase.amount:
        raise _refuse(
            purchase,
            "The amount does not match the order.",
            reason="AMOUNT_MISMATCH",
            expected=purchase.amount,
            received=amount,
        )
    used = db.session.scalar(
        select(Purchase.order_id).where(Purchase.payment_key == payment_key, Purchase.id != purchase.id)
    )
    if used is not None:
        raise _refuse(purchase, "This payment belongs to another order.", reason="PAYMENT_KEY_REUSED")

    if sandbox_enabled():
        return _confirm_sandbox(purchase, payment_key)

    client = toss_client()
    purchase.status = "confirming"
    # Commit point 1 of 2: record "confirming" and release the row lock *before* the network call, so a
    # slow Toss never holds a database lock (webhooks and repeats of this request can proceed and are
    # serialized again by the lock below).
    db.session.commit()

    error: TossError | None = None
    try:
        payment: dict[str, Any] | None = client.confirm(payment_key, order_id, amount)
        reachable = True
    except AlreadyProcessed as exc:  # confirmed before (by a repeat of this request?): look and reconcile
        error = exc
        payment, reachable = _lookup(order_id)
    except TossError as exc:  # refused, or unknown outcome after retries/timeouts: look and reconcile
        error = exc
        payment, reachable = _lookup(order_id)

    purchase = _lock_purchase(order_id)
    action = apply_payment(purchase, payment) if payment is not None else "unknown"
    if purchase.status == "paid":
        return purchase  # the request boundary commits the credit
    problem = _settle_refusal(purchase, action, error, payment, reachable)
    # Commit point 2 of 2: the order's new state is a fact to keep even though the answer is an error.
    db.session.commit()
    raise problem


def _settle_refusal(
    purchase: Purchase, action: str, error: TossError | None, payment: dict[str, Any] | None, reachable: bool
) -> APIError:
    """Decide the state of an order that did not get paid, and the error to answer with."""
    code = error.code if error else None
    details = {
        "provider_code": code,
        "provider_message": error.message if error else None,
        "provider_status": payment.get("status") if payment else None,
    }
    if action == "mismatch":
        return _refuse(
            purchase,
            "The payment does not match the order; no tokens were credited. It will be refunded.",
            reason="PAYMENT_MISMATCH",
            **details,
        )
    if action in ("failed", "canceled"):
        return _refuse(
            purchase,
            "The payment was declined." if purchase.status == "failed" else "The payment was canceled.",
            reason="PAYMENT_" + purchase.status.upper(),
            **details,
        )
    if code in CARD_REFUSALS:
        _close(purchase, "failed", code, error.message, payment)
        return _refuse(purchase, "The card company declined the payment.", reason="PAYMENT_DECLINED", **details)
    if isinstance(error, TossRetryableError | AlreadyProcessed) and not reachable:
        # Outcome unknown (Toss may have approved it): stay "confirming"; a repeat of this request or
        # Toss's webhook settles it.
        return _refuse(
            purchase,
            "The payment provider did not answer; your payment will be checked again. Please retry in a moment.",
            reason="PROVIDER_UNAVAILABLE",
            status=503,
            retryable=True,
            **details,
        )
    if isinstance(error, TossRetryableError):
        # Toss does not keep temporary failures for the Idempotency-Key, so trying again really retries.
        purchase.status = "pending"
        return _refuse(
            purchase,
            "The payment provider is temporarily unavailable; please try again.",
            reason="PROVIDER_UNAVAILABLE",
            status=503,
            retryable=True,
            **details,
        )
    if error is None:  # Toss answered, but the payment is not complete yet (e.g. awaiting a deposit)
        purchase.status = "pending"
        return _refuse(purchase, "The payment is not complete yet.", reason="NOT_COMPLETED", **details)
    # Any other refusal is final for this order: Toss keeps its answer to `confirm:<orderId>` for 15 days
    # and replays it to every retry, so the order could never be confirmed now. Close it; the customer
    # starts a new purchase (and a payment Toss later reports DONE is still credited by the webhook).
    _close(purchase, "failed", code, error.message, payment)
    if payment is not None and payment.get("orderId") != purchase.order_id:
        return _refuse(purchase, "This payment belongs to another order.", reason="PAYMENT_MISMATCH", **details)
    return _refuse(
        purchase,
        f"The payment could not be confirmed ({code}); please start a new purchase.",
        reason="NOT_CONFIRMED",
        **details,
    )


def _confirm_sandbox(purchase: Purchase, payment_key: str) -> Purchase:
    """The local sandbox (no Toss keys, never production): no money moves, and it says so everywhere."""
    if not payment_key.startswith(SANDBOX_PREFIX):
        raise _refuse(purchase, "The local sandbox checkout only accepts sandbox_ payment keys.", reason="SANDBOX_ONLY")
    payment = {
        "sandbox": True,
        "note": SANDBOX_NOTE,
        "paymentKey": payment_key,
        "orderId": purchase.order_id,
        "totalAmount": purchase.amount,
        "currency": purchase.currency,
    }
    if payment_key.startswith(SANDBOX_FAIL_PREFIX):
        _close(
            purchase,
            "failed",
            "SANDBOX_DECLINED",
            "Declined by the local sandbox checkout (no real payment).",
            {**payment, "status": "ABORTED"},
        )
        problem = _refuse(
            purchase,
            "The sandbox checkout declined the payment.",
            reason="PAYMENT_DECLINED",
            provider_code="SANDBOX_DECLINED",
        )
        db.session.commit()  # keep the failed state although the answer is an error
        raise problem
    apply_payment(purchase, {**payment, "status": "DONE"})
    return purchase


def fail_purchase(user_id: int, order_id: str, code: str | None, message: str | None) -> Purchase:
    """The browser came back on ``fail_url``: close the caller's pending order as failed.

    Only ``pending`` orders: one being confirmed or already settled is left alone. Should Toss
    nevertheless report the payment DONE later (webhook), ``apply_payment`` still credits it."""
    purchase = _lock_purchase(order_id)
    if purchase is None or purchase.user_id != user_id:
        raise NotFound("There is no such order of yours.", details={"order_id": order_id})
    if purchase.status == "pending":
        _close(purchase, "failed", code or "PAY_PROCESS_ABORTED", message or "The checkout did not complete.", None)
    return purchase


# --- Toss webhook --------------------------------------------------------------------------------


def handle_toss_event(event_type: str | None, payment_key: str | None, order_id: str | None) -> str:
    """A Toss payment webhook: unsigned, so only a hint. Fetch the payment from Toss and act on what
    Toss says (``apply_payment``); repeats and out-of-order events are harmless because the current
    state is re-read every time. Returns what was done (never raises for Toss or unknown orders)."""
    if sandbox_enabled() or not current_app.config.get("TOSS_SECRET_KEY"):
        return "ignored_no_toss"
    if not payment_key and not order_id:
        return "ignored_no_payment"
    client = toss_client(quick=True)
    try:
        payment = client.get_payment(payment_key) if payment_key else client.get_payment_by_order(order_id)
    except TossError as error:
        current_app.logger.warning(
            "Toss webhook: payment lookup failed",
            extra={"event_type": event_type, "payment_key": payment_key, "order_id": order_id, "code": error.code},
        )
        return "lookup_failed"
    purchase = _lock_purchase(str(payment.get("orderId") or ""))
    if purchase is None:
        return "unknown_order"
    action = apply_payment(purchase, payment)
    current_app.logger.info(
        "Toss webhook handled", extra={"event_type": event_type, "order_id": purchase.order_id, "action": action}
    )
    return action
