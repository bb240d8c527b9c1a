"""Settling purchases whose outcome we do not know: ``flask --app wsgi purchases sweep-confirming``.

A purchase stays ``confirming`` when the confirm call to Toss timed out or Toss could not be reached
and nobody came back (no repeat of the request, no webhook). The sweep asks Toss for the order's
payment and applies the answer through ``payments.apply_payment`` under the row lock, the same
idempotent path the confirm request and the webhook use, so running it twice (or next to a webhook)
credits nothing twice. ``deploy/sweeper.sh`` runs it on a schedule.

``purchases sweep-paid`` does the same for recently paid purchases, so a cancellation at Toss
(dashboard refund, chargeback) whose webhook was lost still takes the tokens back (``reversal``).
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import utcnow
from .models import Purchase
from .payments import _close, _lock_purchase, _lookup, apply_payment

#: A confirm call gives up after TOSS_TIMEOUT × (TOSS_RETRIES + 1) plus backoff (about 30 s by
#: default); ten minutes only catches purchases nobody is still working on.
CONFIRMING_STALE_MINUTES = 10


def reconcile_order(order_id: str) -> str:
    """Ask Toss about one order and bring the purchase in line with the answer; returns what was done.

    ``unreachable``: Toss did not answer (tried again next time). ``not_found``: Toss has no payment
    for the order, so no money was taken: a stuck ``confirming`` order is closed as failed.
    ``in_progress`` on a stuck ``confirming`` order means the confirm never reached Toss: it goes back
    to ``pending`` so the customer's retry can confirm it. Otherwise ``apply_payment``'s answer."""
    payment, reachable = _lookup(order_id)
    purchase = _lock_purchase(order_id)
    if purchase is None:
        return "unknown_order"
    if payment is None:
        if not reachable:
            return "unreachable"
        if purchase.status == "confirming":
            _close(purchase, "failed", "NOT_FOUND_PAYMENT", "Toss has no payment for this order.", None)
        return "not_found"
    action = apply_payment(purchase, payment)
    if action == "in_progress" and purchase.status == "confirming":
        purchase.status = "pending"
    return action


def sweep_confirming(older_than: timedelta) -> list[tuple[str, str]]:
    """Reconcile every purchase ``confirming`` for longer than ``older_than``, one commit each, so a
    failure on one order keeps what was settled before it. Returns ``(order_id, action)`` pairs."""
    cutoff = utcnow() - older_than
    return _reconcile_all(
        db.session.scalars(
            select(Purchase.order_id)
            .where(Purchase.status == "confirming", Purchase.updated_at < cutoff)
            .order_by(Purchase.id)
        ).all()
    )


def sweep_paid(within: timedelta) -> list[tuple[str, str]]:
    """Re-check every purchase paid within ``within`` (still ``paid``: a fully canceled one is done)
    against Toss, so a cancellation whose webhook never arrived is reflected in the ledger."""
    cutoff = utcnow() - within
    return _reconcile_all(
        db.session.scalars(
            select(Purchase.order_id).where(Purchase.status == "paid", Purchase.paid_at >= cutoff).order_by(Purchase.id)
        ).all()
    )


def _reconcile_all(order_ids: list[str]) -> list[tuple[str, str]]:
    db.session.rollback()  # no snapshot or lock held while Toss is called
    results = []
    for order_id in order_ids:
        action = reconcile_order(order_id)
        db.session.commit()
        current_app.logger.info("purchase swept", extra={"order_id": order_id, "action": action})
        results.append((order_id, action))
    return results
