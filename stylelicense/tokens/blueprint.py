"""Routes of the tokens feature (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..api import created, endpoint, ok
from . import operations, payments
from .schemas import (
    BalanceOut,
    CheckoutOut,
    ConfirmBody,
    FailBody,
    PackagesOut,
    PurchaseBody,
    PurchaseOut,
    TransactionOut,
    TransactionsQuery,
)

bp = Blueprint("tokens", __name__, url_prefix="/api/tokens")


@bp.get("/balance")
@endpoint(response=BalanceOut, auth="login", summary="The signed-in user's token balance")
def balance():
    return ok(operations.balance_of(current_user))


@bp.get("/packages")
@endpoint(response=PackagesOut, auth="login", summary="Token packages for sale (prices set by the server)")
def packages():
    return ok(operations.list_packages())


@bp.post("/purchase")
@endpoint(
    body=PurchaseBody,
    response=CheckoutOut,
    auth="login",
    status=201,
    summary="Open a pending purchase of a package; returns what the Toss checkout needs",
)
def purchase(body: PurchaseBody):
    return created(operations.create_purchase(current_user, body.package_id))


@bp.post("/purchase/confirm")
@endpoint(
    body=ConfirmBody,
    response=PurchaseOut,
    auth="login",
    summary="Confirm the payment Toss redirected back with; credits the tokens once",
)
def confirm(body: ConfirmBody):
    # The operation commits by itself (before and after calling Toss); capture the id first so the
    # expired user object is not reloaded while no transaction should be open.
    user_id = current_user.id
    purchase = payments.confirm_purchase(user_id, body.payment_key, body.order_id, body.amount)
    return ok(operations.purchase_result(purchase))


@bp.post("/purchase/fail")
@endpoint(
    body=FailBody,
    response=PurchaseOut,
    auth="login",
    summary="The checkout came back on fail_url: close the pending order as failed",
)
def fail(body: FailBody):
    purchase = payments.fail_purchase(current_user.id, body.order_id, body.code, body.message)
    return ok(operations.purchase_result(purchase))


@bp.get("/transactions")
@endpoint(
    query=TransactionsQuery,
    response=TransactionOut,
    auth="login",
    paginated=True,
    summary="Token history, newest first (type: purchase | usage | all)",
)
def transactions(query: TransactionsQuery):
    return ok(operations.list_transactions(current_user.id, query))
