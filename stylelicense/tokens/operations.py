"""Token purchases (creating the order; its payment with Toss is ``payments.py``), the balance and the token
history.

Tokens only ever move in ``ledger.py``; this module decides *when* a purchase is paid.

A purchase goes ``pending`` → ``confirming`` → ``paid`` (or ``failed`` / ``canceled``). Toss is the
authority on a payment: we act on the Payment object Toss returns (confirm answer or a fresh lookup),
never on what a browser or an unsigned webhook claims. Every decision about one purchase is taken
while holding its row lock, and the credit's unique idempotency key ``purchase:<orderId>`` makes a
second credit impossible even so.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..api import iso, paginate
from ..errors import ServiceUnavailable, ValidationError
from ..extensions import db
from ..users.models import User
from . import ledger
from .models import Purchase, Transaction
from .packages import PACKAGES, Package, get_package
from .payments import sandbox_enabled
from .schemas import TransactionsQuery

#: Which transaction types each history tab shows (``all`` shows every row of the account).
HISTORY_TYPES: dict[str, tuple[str, ...] | None] = {
    "purchase": ("purchase", "welcome_bonus", "grant", "purchase_reversal"),
    "usage": ("generation_charge", "refund"),
    "all": None,
}

# --- reading -------------------------------------------------------------------------------------


def list_packages() -> list[dict[str, Any]]:
    """The server-defined packages, cheapest first."""
    return [
        {"id": p.id, "tokens": p.tokens, "price": p.price, "currency": p.currency}
        for p in sorted(PACKAGES.values(), key=lambda p: p.price)
    ]


def balance_of(user: User) -> dict[str, Any]:
    """Spendable balance, plus the earned balance for artists (shown, not spendable)."""
    return {
        "token_balance": user.token_balance,
        "earned_token_balance": user.artist.earned_token_balance if user.artist else None,
    }


def serialize_transaction(row: Transaction) -> dict[str, Any]:
    return {
        "id": row.id,
        "transaction_type": row.transaction_type,
        "amount": row.amount,
        "direction": ledger.direction(row),
        "status": row.status,
        "memo": row.memo,
        "balance_after": row.balance_after,
        "account": "earned" if row.transaction_type in ledger.EARNED_TYPES else "tokens",
        "related_generation_id": row.related_generation_id,
        "created_at": iso(row.created_at),
    }


def list_transactions(user_id: int, query: TransactionsQuery) -> dict[str, Any]:
    """The account's history, newest first, filtered by tab (see ``HISTORY_TYPES``)."""
    stmt = select(Transaction).where(Transaction.user_id == user_id)
    types = HISTORY_TYPES[query.type]
    if types is not None:
        stmt = stmt.where(Transaction.transaction_type.in_(types))
    return paginate(stmt, [Transaction.created_at, Transaction.id], serialize_transaction, query)


def serialize_purchase(purchase: Purchase, token_balance: int) -> dict[str, Any]:
    return {
        "order_id": purchase.order_id,
        "package_id": purchase.package_id,
        "tokens": purchase.tokens,
        "amount": purchase.amount,
        "currency": purchase.currency,
        "status": purchase.status,
        "failure_code": purchase.failure_code,
        "failure_message": purchase.failure_message,
        "sandbox": bool((purchase.provider_response or {}).get("sandbox")),
        "paid_at": iso(purchase.paid_at),
        "created_at": iso(purchase.created_at),
        "token_balance": token_balance,
    }


def purchase_result(purchase: Purchase) -> dict[str, Any]:
    """The purchase with its owner's current balance (what confirm returns)."""
    user = db.session.get(User, purchase.user_id, populate_existing=True)
    return serialize_purchase(purchase, user.token_balance if user else 0)


# --- creating an order ---------------------------------------------------------------------------


def new_order_id() -> str:
    """Unguessable (192 random bits) and within Toss's rule: 6–64 characters of [A-Za-z0-9_-]."""
    return "sl_" + secrets.token_urlsafe(24)


def create_purchase(user: User, package_id: str) -> dict[str, Any]:
    """Open a pending purchase of a server-defined package and return what the checkout needs.

    The price comes from the server's package, never from the client; ``customerKey`` is a random
    UUID (Toss asks for one that is not an e-mail or a database id)."""
    package = get_package(package_id)
    if package is None:
        raise ValidationError(
            f"There is no token package {package_id!r}.",
            details={"fields": [{"field": "package_id", "message": f"must be one of {', '.join(PACKAGES)}"}]},
        )
    purchase = Purchase(
        user_id=user.id,
        order_id=new_order_id(),
        package_id=package.id,
        tokens=package.tokens,
        amount=package.price,
        currency=package.currency,
        customer_key=str(uuid.uuid4()),
        status="pending",
    )
    db.session.add(purchase)
    db.session.flush()
    current_app.logger.info(
        "purchase created", extra={"order_id": purchase.order_id, "user_id": user.id, "package_id": package.id}
    )
    return checkout_for(purchase, package)


def checkout_for(purchase: Purchase, package: Package) -> dict[str, Any]:
    config = current_app.config
    if not sandbox_enabled() and not (config.get("TOSS_CLIENT_KEY") and config.get("TOSS_SECRET_KEY")):
        raise ServiceUnavailable("Payments are not configured on this server.", code="PAYMENTS_UNAVAILABLE")
    base = config["PUBLIC_BASE_URL"].rstrip("/")
    return {
        "order_id": purchase.order_id,
        "amount": purchase.amount,
        "currency": purchase.currency,
        "order_name": package.order_name,
        # null tells the SPA to open its labelled sandbox page (/payment/sandbox) instead of Toss.
        "client_key": None if sandbox_enabled() else config["TOSS_CLIENT_KEY"],
        "customer_key": purchase.customer_key,
        "success_url": f"{base}/payment/success",
        "fail_url": f"{base}/payment/fail",
    }
