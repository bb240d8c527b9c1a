"""The ledger: the only code allowed to move tokens.

Every movement is one ``transactions`` row with a unique idempotency key, written in the same
database transaction as the balance change. Spending uses a guarded ``UPDATE … WHERE balance >= cost``
so a balance can never go negative (the CHECK constraint is the last line of defence). Operations
flush, never commit: the request or task boundary commits.

Accounts: ``users.token_balance`` (spendable) and ``artists.earned_token_balance`` (what an artist
earned from their style; shown, not spendable, cash-out is out of scope).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import InsufficientTokens
from ..extensions import db
from ..models import utcnow
from ..users.models import Artist, User
from .models import Transaction

WELCOME_BONUS = 100
IN_TYPES = ("welcome_bonus", "grant", "purchase", "refund")
OUT_TYPES = ("generation_charge",)
EARNED_TYPES = ("artist_credit",)


def _existing(key: str) -> Transaction | None:
    return db.session.scalar(select(Transaction).where(Transaction.idempotency_key == key))


def _sync(model, pk: int, attribute: str, value: int) -> None:
    """Keep an already-loaded ORM object in step with the guarded UPDATE we just ran."""
    obj = db.session.identity_map.get(db.session.identity_key(model, pk))
    if obj is not None:
        set_committed_value(obj, attribute, value)


def _move_balance(user_id: int, delta: int) -> int:
    """Add ``delta`` to a user's spendable balance atomically; refuse to go below zero."""
    stmt = update(User).where(User.id == user_id)
    if delta < 0:
        stmt = stmt.where(User.token_balance >= -delta)
    row = db.session.execute(
        stmt.values(token_balance=User.token_balance + delta).returning(User.token_balance),
        execution_options={"synchronize_session": False},
    ).first()
    if row is None:
        raise InsufficientTokens(details={"required": -delta})
    _sync(User, user_id, "token_balance", row[0])
    return row[0]


def _record(*, user_id: int, amount: int, kind: str, key: str, memo: str, balance_after: int,
            sender_id: int | None, receiver_id: int | None, generation_id: int | None = None,
            purchase_id: int | None = None) -> Transaction:
    row = Transaction(
        user_id=user_id, sender_id=sender_id, receiver_id=receiver_id, amount=amount, transaction_type=kind,
        status="completed", memo=memo, balance_after=balance_after, related_generation_id=generation_id,
        related_purchase_id=purchase_id, idempotency_key=key, created_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row


def _credit(user_id: int, amount: int, *, kind: str, key: str, memo: str, **links) -> Transaction:
    """Platform → user. A repeated key returns the first row and changes nothing."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    done = _existing(key)
    if done is not None:
        return done
    balance = _move_balance(user_id, amount)
    return _record(user_id=user_id, amount=amount, kind=kind, key=key, memo=memo, balance_after=balance,
                   sender_id=None, receiver_id=user_id, **links)


def credit_welcome_bonus(user: User) -> Transaction:
    """The 100-token welcome bonus, once per user."""
    return _credit(user.id, WELCOME_BONUS, kind="welcome_bonus", key=f"welcome:{user.id}", memo="Welcome Bonus")


def grant_tokens(user: User, amount: int, *, memo: str, key: str) -> Transaction:
    """An operator's grant (``key`` makes a retried command harmless)."""
    return _credit(user.id, amount, kind="grant", key=f"grant:{key}", memo=memo or "Operator grant")


def credit_purchase(purchase) -> Transaction:
    """Credit a paid Toss purchase exactly once (``purchase:<orderId>``)."""
    return _credit(purchase.user_id, purchase.tokens, kind="purchase", key=f"purchase:{purchase.order_id}",
                   memo=f"Purchase {purchase.package_id} ({purchase.amount:,} {purchase.currency})",
                   purchase_id=purchase.id)


def charge_for_generation(generation, style_title: str) -> Transaction:
    """Charge the style price when a generation is created; raises INSUFFICIENT_TOKENS (402)."""
    key = f"charge:{generation.id}"
    done = _existing(key)
    if done is not None:
        return done
    balance = _move_balance(generation.user_id, -generation.cost_tokens)
    return _record(user_id=generation.user_id, amount=generation.cost_tokens, kind="generation_charge", key=key,
                   memo=f"Image in “{style_title}”", balance_after=balance, sender_id=generation.user_id,
                   receiver_id=None, generation_id=generation.id)


def refund_generation(generation, reason: str = "") -> Transaction | None:
    """Give back the full charge of a generation that finally failed (once; never without a charge)."""
    charge = _existing(f"charge:{generation.id}")
    if charge is None:
        return None
    return _credit(generation.user_id, charge.amount, kind="refund", key=f"refund:{generation.id}",
                   memo=f"Refund: {reason}"[:255] if reason else "Refund for a failed image",
                   generation_id=generation.id)


def credit_artist_for_generation(generation, artist: Artist) -> Transaction | None:
    """On delivery, the artist earns 100 % of what was charged (once; never without a charge)."""
    key = f"credit:{generation.id}"
    done = _existing(key)
    if done is not None:
        return done
    charge = _existing(f"charge:{generation.id}")
    if charge is None:
        return None
    row = db.session.execute(
        update(Artist).where(Artist.id == artist.id)
        .values(earned_token_balance=Artist.earned_token_balance + charge.amount)
        .returning(Artist.earned_token_balance),
        execution_options={"synchronize_session": False},
    ).first()
    _sync(Artist, artist.id, "earned_token_balance", row[0])
    return _record(user_id=artist.user_id, amount=charge.amount, kind="artist_credit", key=key,
                   memo=f"Earned from image #{generation.id}", balance_after=row[0], sender_id=None,
                   receiver_id=artist.user_id, generation_id=generation.id)


def direction(row: Transaction) -> str:
    return "out" if row.transaction_type in OUT_TYPES else "in"


@dataclass
class Drift:
    kind: str
    subject: str
    expected: int | str
    actual: int | str

    def __str__(self) -> str:
        return f"{self.kind}: {self.subject} expected {self.expected}, found {self.actual}"


def verify_ledger() -> list[Drift]:
    """Every balance equals the sum of its rows; earned balances equal credits; every paid purchase
    is credited exactly once with its tokens and nothing else is credited as a purchase."""
    from .models import Purchase

    drifts: list[Drift] = []
    signed = func.sum(
        case((Transaction.transaction_type.in_(IN_TYPES), Transaction.amount),
                (Transaction.transaction_type.in_(OUT_TYPES), -Transaction.amount), else_=0)
    )
    sums = dict(db.session.execute(select(Transaction.user_id, signed).group_by(Transaction.user_id)).all())
    for user_id, balance in db.session.execute(select(User.id, User.token_balance)).all():
        if int(sums.get(user_id) or 0) != balance:
            drifts.append(Drift("balance", f"user {user_id}", int(sums.get(user_id) or 0), balance))
    earned = dict(db.session.execute(
        select(Transaction.user_id, func.sum(Transaction.amount))
        .where(Transaction.transaction_type.in_(EARNED_TYPES)).group_by(Transaction.user_id)).all())
    for user_id, balance in db.session.execute(select(Artist.user_id, Artist.earned_token_balance)).all():
        if int(earned.get(user_id) or 0) != balance:
            drifts.append(Drift("earned", f"artist user {user_id}", int(earned.get(user_id) or 0), balance))
    credited = {row.idempotency_key: row for row in db.session.scalars(
        select(Transaction).where(Transaction.transaction_type == "purchase"))}
    for purchase in db.session.scalars(select(Purchase)):
        row = credited.pop(f"purchase:{purchase.order_id}", None)
        if purchase.status == "paid" and row is None:
            drifts.append(Drift("purchase", purchase.order_id, "credited", "not credited"))
        elif purchase.status != "paid" and row is not None:
            drifts.append(Drift("purchase", purchase.order_id, "not credited", f"credited while {purchase.status}"))
        elif row is not None and row.amount != purchase.tokens:
            drifts.append(Drift("purchase", purchase.order_id, purchase.tokens, row.amount))
    for key in credited:
        drifts.append(Drift("purchase", key, "a purchase row", "credit without purchase"))
    # A charge and a credit/refund must belong together: never both refunded and credited.
    both = db.session.execute(
        select(Transaction.related_generation_id).where(Transaction.transaction_type.in_(("refund", "artist_credit")))
        .group_by(Transaction.related_generation_id).having(func.count() > 1)).scalars().all()
    for generation_id in both:
        drifts.append(Drift("generation", f"generation {generation_id}", "refund or credit", "both"))
    return drifts
