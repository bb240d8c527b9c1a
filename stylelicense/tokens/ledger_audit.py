"""Checking the ledger (``flask --app wsgi ledger verify``): every balance equals the sum of its account's
rows, every row's ``balance_after`` follows the running sum, every generation and purchase moved its tokens
exactly as its state says (charge/credit/refund, purchase credit, reversals). Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select

from ..extensions import db
from ..users.models import Artist, User
from .ledger import EARNED_TYPES, IN_TYPES, OUT_TYPES, _existing, describe, tokens_for
from .models import Purchase, Transaction


@dataclass
class Drift:
    """One inconsistency found by :func:`verify_ledger` (``row`` describes the offending row)."""

    kind: str
    subject: str
    expected: int | str
    actual: int | str
    row: str = ""

    def __str__(self) -> str:
        text = f"{self.kind}: {self.subject} expected {self.expected}, found {self.actual}"
        return f"{text}\n    {self.row}" if self.row else text


def _signed():
    return case(
        (Transaction.transaction_type.in_(IN_TYPES), Transaction.amount),
        (Transaction.transaction_type.in_(OUT_TYPES), -Transaction.amount),
        else_=0,
    )


def _broken_chains(types: tuple[str, ...], signed) -> list[tuple[Transaction, int]]:
    """Rows whose ``balance_after`` differs from the running sum of the account's rows up to them.

    Valid because a row is inserted while its balance update holds the account's row lock, so ids
    follow the order in which the balance moved."""
    running = func.sum(signed).over(partition_by=Transaction.user_id, order_by=Transaction.id).label("running")
    inner = (
        select(Transaction.id.label("id"), Transaction.balance_after.label("after"), running)
        .where(Transaction.transaction_type.in_(types))
        .subquery()
    )
    found = db.session.execute(
        select(inner.c.id, inner.c.running).where(inner.c.after != inner.c.running).order_by(inner.c.id)
    ).all()
    rows = (
        {
            row.id: row
            for row in db.session.scalars(
                select(Transaction).where(Transaction.id.in_([row_id for row_id, _ in found]))
            )
        }
        if found
        else {}
    )
    return [(rows[row_id], int(total)) for row_id, total in found]


def _last_row(user_id: int, types: tuple[str, ...]) -> str:
    row = db.session.scalar(
        select(Transaction)
        .where(Transaction.user_id == user_id, Transaction.transaction_type.in_(types))
        .order_by(Transaction.id.desc())
        .limit(1)
    )
    return f"last row: {describe(row)}" if row is not None else "no transactions"


def _account_drifts(kind: str, types: tuple[str, ...], signed, accounts, subject, row_note: str) -> list[Drift]:
    """One account kind: each balance against the sum of its rows (``accounts`` yields ``(user_id, label,
    balance)``), then every row's ``balance_after`` against the running sum."""
    drifts = []
    sums = dict(
        db.session.execute(
            select(Transaction.user_id, func.sum(signed))
            .where(Transaction.transaction_type.in_(types))
            .group_by(Transaction.user_id)
        ).all()
    )
    for user_id, label, balance in db.session.execute(accounts).all():
        expected = int(sums.get(user_id) or 0)
        if expected != balance:
            drifts.append(Drift(kind, subject(user_id, label), expected, balance, _last_row(user_id, types)))
    for row, total in _broken_chains(types, signed):
        drifts.append(
            Drift("row", f"transaction #{row.id} balance_after{row_note}", total, row.balance_after, describe(row))
        )
    return drifts


def verify_ledger() -> list[Drift]:
    """Check the whole ledger; an empty list means it is consistent.

    - every spendable balance equals the signed sum of its rows, and every row's ``balance_after``
      equals the running sum up to it (same for artists' earned balances and their credits);
    - every paid purchase is credited exactly once, to its buyer, with its tokens, and nothing that
      is not a paid purchase is credited as one;
    - a generation's refund or artist credit has a charge of the same amount, and never both.
    """

    spendable = IN_TYPES + OUT_TYPES
    users = select(User.id, User.username, User.token_balance).order_by(User.id)
    artists = select(Artist.user_id, Artist.id, Artist.earned_token_balance).order_by(Artist.id)
    drifts = _account_drifts(
        "balance", spendable, _signed(), users, lambda user_id, name: f"user {user_id} ({name}) token_balance", ""
    )
    drifts += _account_drifts(
        "earned",
        EARNED_TYPES,
        Transaction.amount,
        artists,
        lambda user_id, artist_id: f"artist {artist_id} (user {user_id}) earned_token_balance",
        " (earned)",
    )

    credited = {
        row.idempotency_key: row
        for row in db.session.scalars(select(Transaction).where(Transaction.transaction_type == "purchase"))
    }
    for purchase in db.session.scalars(select(Purchase).order_by(Purchase.id)):
        row = credited.pop(f"purchase:{purchase.order_id}", None)
        subject = f"purchase {purchase.order_id} (#{purchase.id}, user {purchase.user_id})"
        if purchase.status == "paid" and row is None and purchase.user_id is not None:  # NULL: account deleted
            drifts.append(Drift("purchase", subject, "credited", "not credited"))
        elif purchase.status != "paid" and row is not None and not purchase.canceled_amount:
            drifts.append(
                Drift("purchase", subject, "not credited", f"credited while {purchase.status}", describe(row))
            )
        elif row is not None and row.amount != purchase.tokens:
            drifts.append(Drift("purchase", subject, purchase.tokens, row.amount, describe(row)))
        elif row is not None and purchase.user_id is not None and row.user_id != purchase.user_id:
            drifts.append(
                Drift(
                    "purchase",
                    subject,
                    f"credited to user {purchase.user_id}",
                    f"credited to user {row.user_id}",
                    describe(row),
                )
            )
    for row in credited.values():
        drifts.append(
            Drift("purchase", row.idempotency_key, "a purchase row", "credit without purchase", describe(row))
        )
    drifts += _reversal_drifts()

    # Refunds and artist credits follow a charge of the same amount, and a generation gets one or the other.
    # Keyed by the idempotency key's generation id: related_generation_id is NULLed if a generation is
    # deleted (with its buyer's account, whose charge rows go too), so a missing charge only counts while
    # the generation still exists.
    charges = {
        row.idempotency_key.split(":", 1)[1]: row
        for row in db.session.scalars(select(Transaction).where(Transaction.transaction_type == "generation_charge"))
    }
    settled: set[str] = set()
    for row in db.session.scalars(
        select(Transaction)
        .where(Transaction.transaction_type.in_(("refund", "artist_credit")))
        .order_by(Transaction.id)
    ):
        generation = row.idempotency_key.split(":", 1)[1]
        charge = charges.get(generation)
        subject = f"generation {generation} {row.transaction_type}"
        if charge is None and row.related_generation_id is not None:
            drifts.append(Drift("generation", subject, "a charge", "no charge", describe(row)))
        elif charge is not None and charge.amount != row.amount:
            drifts.append(Drift("generation", subject, charge.amount, row.amount, describe(row)))
        if generation in settled:
            drifts.append(Drift("generation", f"generation {generation}", "refund or credit", "both", describe(row)))
        settled.add(generation)
    return drifts


def _reversal_drifts() -> list[Drift]:
    """A canceled payment's tokens are taken back from a credited purchase only, and what was taken back
    plus the recorded shortfall is what the canceled share of the payment bought."""

    drifts: list[Drift] = []
    taken = dict(
        db.session.execute(
            select(Transaction.related_purchase_id, func.sum(Transaction.amount))
            .where(Transaction.transaction_type == "purchase_reversal")
            .group_by(Transaction.related_purchase_id)
        ).all()
    )
    stmt = (
        select(Purchase)
        .where((Purchase.canceled_amount > 0) | Purchase.id.in_([key for key in taken if key is not None]))
        .order_by(Purchase.id)
    )
    for purchase in db.session.scalars(stmt):
        subject = f"purchase {purchase.order_id} (#{purchase.id}) reversal"
        if int(taken.get(purchase.id) or 0) != purchase.reversed_tokens:
            drifts.append(
                Drift("reversal", f"{subject} rows", purchase.reversed_tokens, int(taken.get(purchase.id) or 0))
            )
        owed = tokens_for(purchase, purchase.canceled_amount)
        if purchase.reversed_tokens + purchase.reversal_shortfall != owed:
            drifts.append(
                Drift(
                    "reversal",
                    f"{subject} taken back + shortfall",
                    owed,
                    purchase.reversed_tokens + purchase.reversal_shortfall,
                )
            )
        if _existing(f"purchase:{purchase.order_id}") is None and purchase.reversed_tokens:
            drifts.append(Drift("reversal", subject, "a credited purchase", "never credited"))
    return drifts
