"""The ledger: the only code allowed to move tokens.

Every movement is one ``transactions`` row with a unique idempotency key, written in the same
database transaction as the balance change. Spending uses a guarded ``UPDATE … WHERE balance >= cost``
so a balance can never go negative (the CHECK constraint is the last line of defence). Operations
flush, never commit: the request or task boundary commits.

Accounts: ``users.token_balance`` (spendable) and ``artists.earned_token_balance`` (what an artist
earned from their style; shown, not spendable, cash-out is out of scope).
"""

from __future__ import annotations

from flask import current_app, has_app_context
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..errors import InsufficientTokens
from ..extensions import db
from ..models import utcnow
from ..users.models import Artist, User
from .models import Purchase, Transaction

WELCOME_BONUS = 100
IN_TYPES = ("welcome_bonus", "grant", "purchase", "refund")
OUT_TYPES = ("generation_charge", "purchase_reversal")
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


def _record(
    *,
    user_id: int,
    amount: int,
    kind: str,
    key: str,
    memo: str,
    balance_after: int,
    sender_id: int | None,
    receiver_id: int | None,
    generation_id: int | None = None,
    purchase_id: int | None = None,
) -> Transaction:
    row = Transaction(
        user_id=user_id,
        sender_id=sender_id,
        receiver_id=receiver_id,
        amount=amount,
        transaction_type=kind,
        status="completed",
        memo=memo,
        balance_after=balance_after,
        related_generation_id=generation_id,
        related_purchase_id=purchase_id,
        idempotency_key=key,
        created_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    if has_app_context():  # a business event in the JSON log (SPEC §8)
        current_app.logger.info(
            "tokens moved",
            extra={
                "transaction_id": row.id,
                "user_id": user_id,
                "transaction_type": kind,
                "amount": amount,
                "balance_after": balance_after,
                "key": key,
            },
        )
    return row


def _credit(user_id: int, amount: int, *, kind: str, key: str, memo: str, **links) -> Transaction:
    """Platform → user. A repeated key returns the first row and changes nothing."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    done = _existing(key)
    if done is not None:
        return done
    balance = _move_balance(user_id, amount)
    return _record(
        user_id=user_id,
        amount=amount,
        kind=kind,
        key=key,
        memo=memo,
        balance_after=balance,
        sender_id=None,
        receiver_id=user_id,
        **links,
    )


def credit_welcome_bonus(user: User) -> Transaction:
    """The 100-token welcome bonus, once per user."""
    return _credit(user.id, WELCOME_BONUS, kind="welcome_bonus", key=f"welcome:{user.id}", memo="Welcome Bonus")


def grant_tokens(user: User, amount: int, *, memo: str, key: str) -> Transaction:
    """An operator's grant (``key`` makes a retried command harmless)."""
    return _credit(user.id, amount, kind="grant", key=f"grant:{key}", memo=memo or "Operator grant")


def credit_purchase(purchase, *, memo: str | None = None) -> Transaction:
    """Credit a paid Toss purchase exactly once (``purchase:<orderId>``).

    Callers hold the purchase row lock (``SELECT … FOR UPDATE``), so two confirmations of one order
    are serialized and the second finds the first row instead of tripping the unique key."""
    return _credit(
        purchase.user_id,
        purchase.tokens,
        kind="purchase",
        key=f"purchase:{purchase.order_id}",
        memo=memo or f"Purchased {purchase.tokens:,} tokens ({purchase.amount:,} {purchase.currency})",
        purchase_id=purchase.id,
    )


def reverse_purchase(purchase, tokens: int, *, key: str, memo: str) -> Transaction | None:
    """Take back up to ``tokens`` of a purchase whose payment was canceled at Toss: at most what the
    buyer still has, since a balance never goes below zero (the caller records the rest as a shortfall).
    Returns the ``purchase_reversal`` row, or None when there was nothing to take. Callers hold the
    purchase row lock; a repeated key returns the first row and changes nothing."""
    done = _existing(key)
    if done is not None:
        return done
    balance = db.session.scalar(select(User.token_balance).where(User.id == purchase.user_id).with_for_update())
    take = min(tokens, balance or 0)
    if take <= 0:
        return None
    after = _move_balance(purchase.user_id, -take)
    return _record(
        user_id=purchase.user_id,
        amount=take,
        kind="purchase_reversal",
        key=key,
        memo=memo,
        balance_after=after,
        sender_id=purchase.user_id,
        receiver_id=None,
        purchase_id=purchase.id,
    )


def charge_for_generation(generation, style_title: str) -> Transaction:
    """Charge the style price when a generation is created; raises INSUFFICIENT_TOKENS (402)."""
    key = f"charge:{generation.id}"
    done = _existing(key)
    if done is not None:
        return done
    balance = _move_balance(generation.user_id, -generation.cost_tokens)
    return _record(
        user_id=generation.user_id,
        amount=generation.cost_tokens,
        kind="generation_charge",
        key=key,
        memo=f"Image in “{style_title}”",
        balance_after=balance,
        sender_id=generation.user_id,
        receiver_id=None,
        generation_id=generation.id,
    )


def _lock_charge(generation_id: int) -> Transaction | None:
    """Lock a generation's charge row: the one serialization point for its refund and artist credit,
    so a late "completed" racing a "failed" can never both pay the artist and refund the user."""
    return db.session.scalar(
        select(Transaction)
        .where(Transaction.idempotency_key == f"charge:{generation_id}")
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def refund_generation(generation, reason: str = "") -> Transaction | None:
    """Give back the full charge of a generation that finally failed (once; never without a charge,
    never after the artist was credited for it)."""
    charge = _lock_charge(generation.id)
    if charge is None:
        return None
    done = _existing(f"refund:{generation.id}")
    if done is not None:
        return done
    if _existing(f"credit:{generation.id}") is not None:
        return None
    return _credit(
        generation.user_id,
        charge.amount,
        kind="refund",
        key=f"refund:{generation.id}",
        memo=f"Refund: {reason}"[:255] if reason else "Refund for a failed image",
        generation_id=generation.id,
    )


def credit_artist_for_generation(generation, artist: Artist) -> Transaction | None:
    """On delivery, the artist earns 100 % of what was charged (once; never without a charge, never
    after the charge was refunded)."""
    charge = _lock_charge(generation.id)
    if charge is None:
        return None
    key = f"credit:{generation.id}"
    done = _existing(key)
    if done is not None:
        return done
    if _existing(f"refund:{generation.id}") is not None:
        return None
    row = db.session.execute(
        update(Artist)
        .where(Artist.id == artist.id)
        .values(earned_token_balance=Artist.earned_token_balance + charge.amount)
        .returning(Artist.earned_token_balance),
        execution_options={"synchronize_session": False},
    ).first()
    if row is None:
        raise ValueError(f"artist {artist.id} does not exist")
    _sync(Artist, artist.id, "earned_token_balance", row[0])
    return _record(
        user_id=artist.user_id,
        amount=charge.amount,
        kind="artist_credit",
        key=key,
        memo=f"Earned from image #{generation.id}",
        balance_after=row[0],
        sender_id=None,
        receiver_id=artist.user_id,
        generation_id=generation.id,
    )


def direction(row: Transaction) -> str:
    return "out" if row.transaction_type in OUT_TYPES else "in"


def describe(row: Transaction) -> str:
    """A transaction row as one readable line (operator output)."""
    return (
        f"transaction #{row.id} user={row.user_id} {row.transaction_type} {row.amount} "
        f"balance_after={row.balance_after} key={row.idempotency_key} memo={row.memo!r} "
        f"at={row.created_at.isoformat() if row.created_at else '-'}"
    )


def tokens_for(purchase: Purchase, canceled_amount: int) -> int:
    """The tokens that ``canceled_amount`` of the payment bought (rounded up: a cancel gets no tokens free)."""
    return -(-purchase.tokens * min(canceled_amount, purchase.amount) // purchase.amount)
