"""Operator commands for tokens: ``flask --app wsgi tokens grant``, ``ledger verify``, ``purchases show``,
``purchases reconcile``, ``purchases sweep-confirming`` and ``purchases sweep-paid``."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, or_, select

from ..extensions import db
from ..users.models import User
from . import ledger as token_ledger
from . import reconcile
from .ledger_audit import verify_ledger
from .models import Purchase, Transaction

tokens = click.Group("tokens", help="Grant tokens to a user.")
ledger = click.Group("ledger", help="Check the token ledger.")
purchases = click.Group("purchases", help="Look up Toss purchases.")
groups = [tokens, ledger, purchases]


def _find_user(identifier: str) -> User:
    stmt = select(User)
    stmt = (
        stmt.where(User.id == int(identifier))
        if identifier.isdigit()
        else stmt.where(
            or_(func.lower(User.email) == identifier.lower(), func.lower(User.username) == identifier.lower())
        )
    )
    user = db.session.scalar(stmt)
    if user is None:
        raise click.ClickException(f"no user {identifier!r}")
    return user


@tokens.command("grant")
@click.argument("user")
@click.argument("amount", type=click.IntRange(min=1, max=1_000_000))
@click.option("--memo", required=True, help="Why (shown to the user in their history).")
@click.option(
    "--key",
    default=None,
    help="Idempotency key: re-running with the same key grants nothing more (default: a new UUID).",
)
@with_appcontext
def grant(user: str, amount: int, memo: str, key: str | None):
    """Give USER (id, username or e-mail) AMOUNT tokens from the platform, as a ledger row."""
    if not memo.strip() or len(memo) > 200:
        raise click.BadParameter("1–200 characters", param_hint="--memo")
    if key is not None and not 1 <= len(key) <= 100:
        raise click.BadParameter("1–100 characters", param_hint="--key")
    target = _find_user(user)
    key = key or str(uuid.uuid4())
    earlier = db.session.scalar(select(Transaction).where(Transaction.idempotency_key == f"grant:{key}"))
    if earlier is not None:
        if earlier.user_id != target.id or earlier.amount != amount:
            raise click.ClickException(f"key already used by another grant: {token_ledger.describe(earlier)}")
        click.echo(f"already granted, nothing changed: {token_ledger.describe(earlier)}")
        return
    row = token_ledger.grant_tokens(target, amount, memo=memo.strip(), key=key)
    db.session.commit()
    balance = db.session.get(User, target.id).token_balance
    click.echo(f"{token_ledger.describe(row)}\nbalance of {target.username}: {balance}")


@ledger.command("verify")
@with_appcontext
def verify():
    """Every balance equals the sum of its rows, earned balances equal credits, every paid purchase is
    credited once and nothing else is. Prints each offending row; exits 1 on any drift."""
    drifts = verify_ledger()
    users = db.session.scalar(select(func.count()).select_from(User))
    rows = db.session.scalar(select(func.count()).select_from(Transaction))
    if drifts:
        for drift in drifts:
            click.echo(str(drift))
        click.echo(f"LEDGER DRIFT: {len(drifts)} problem(s) in {users} accounts / {rows} transactions", err=True)
        raise SystemExit(1)
    click.echo(f"ledger OK: {users} accounts, {rows} transactions")


@purchases.command("show")
@click.argument("order_id")
@with_appcontext
def show(order_id: str):
    """Show one purchase by its Toss orderId, with its ledger credit."""
    purchase = db.session.scalar(select(Purchase).where(Purchase.order_id == order_id))
    if purchase is None:
        raise click.ClickException(f"no purchase with order id {order_id!r}")
    owner = db.session.get(User, purchase.user_id) if purchase.user_id else None
    credit = db.session.scalar(select(Transaction).where(Transaction.idempotency_key == f"purchase:{order_id}"))
    lines = [
        f"order_id:     {purchase.order_id}",
        f"user:         {f'{owner.id} {owner.username} <{owner.email}>' if owner else '(deleted)'}",
        f"package:      {purchase.package_id} ({purchase.tokens} tokens)",
        f"amount:       {purchase.amount:,} {purchase.currency}",
        f"status:       {purchase.status}",
        f"payment_key:  {purchase.payment_key or '-'}",
        f"failure:      {purchase.failure_code or '-'} {purchase.failure_message or ''}".rstrip(),
        f"created_at:   {purchase.created_at.isoformat()}",
        f"paid_at:      {purchase.paid_at.isoformat() if purchase.paid_at else '-'}",
        f"credit:       {token_ledger.describe(credit) if credit else '(none)'}",
        f"canceled:     {purchase.canceled_amount:,} {purchase.currency} at Toss; {purchase.reversed_tokens} tokens "
        f"taken back, shortfall {purchase.reversal_shortfall} (tokens already spent)",
        "provider_response: " + json.dumps(purchase.provider_response, ensure_ascii=False, default=str),
    ]
    click.echo("\n".join(lines))


@purchases.command("reconcile")
@click.argument("order_id")
@with_appcontext
def reconcile_one(order_id: str):
    """Ask Toss about ORDER_ID now and apply its answer (credit, close, or a cancellation's reversal)."""
    if not current_app.config.get("TOSS_SECRET_KEY"):
        raise click.ClickException("Toss is not configured (TOSS_SECRET_KEY)")
    action = reconcile.reconcile_order(order_id)
    db.session.commit()
    click.echo(f"{order_id}: {action}")


@purchases.command("sweep-confirming")
@click.option(
    "--minutes",
    default=reconcile.CONFIRMING_STALE_MINUTES,
    show_default=True,
    type=click.IntRange(min=1),
    help="Purchases confirming for longer than this are checked at Toss.",
)
@with_appcontext
def sweep_confirming(minutes: int):
    """Settle purchases stuck in "confirming" (the confirm call's outcome was never learnt) by asking
    Toss for each order's payment. Idempotent; deploy/sweeper.sh runs it every few minutes."""
    if not current_app.config.get("TOSS_SECRET_KEY"):
        click.echo("Toss is not configured: nothing to sweep")
        return
    results = reconcile.sweep_confirming(timedelta(minutes=minutes))
    for order_id, action in results:
        click.echo(f"{order_id}: {action}")
    click.echo(f"{len(results)} confirming purchase(s) checked")


@purchases.command("sweep-paid")
@click.option(
    "--days",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Purchases paid within this many days are checked at Toss.",
)
@with_appcontext
def sweep_paid(days: int):
    """Re-check recently paid purchases at Toss: a payment canceled there (dashboard refund, chargeback)
    whose webhook was lost is taken back from the ledger once. deploy/sweeper.sh runs it hourly."""
    if not current_app.config.get("TOSS_SECRET_KEY"):
        click.echo("Toss is not configured: nothing to sweep")
        return
    results = reconcile.sweep_paid(timedelta(days=days))
    for order_id, action in results:
        if action != "already_paid":
            click.echo(f"{order_id}: {action}")
    click.echo(
        f"{len(results)} paid purchase(s) checked, "
        f"{sum(action == 'reversed' for _, action in results)} cancellation(s) applied"
    )
