"""The token ledger (transactions) and Toss purchases. Only tokens/ledger.py writes these."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import TimestampMixin, utcnow

TRANSACTION_TYPES = (
    "welcome_bonus",
    "grant",
    "purchase",
    "generation_charge",
    "artist_credit",
    "refund",
    "purchase_reversal",
)
PURCHASE_STATUSES = ("pending", "confirming", "paid", "failed", "canceled")


class Transaction(db.Model):
    """One movement of tokens on one account (`user_id`); `sender_id` NULL means the platform."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "transaction_type IN ('welcome_bonus', 'grant', 'purchase', 'generation_charge', "
            "'artist_credit', 'refund', 'purchase_reversal')",
            name="type_valid",
        ),
        Index("ix_transactions_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    receiver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    amount: Mapped[int] = mapped_column(Integer)
    transaction_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="completed", server_default="completed")
    memo: Mapped[str] = mapped_column(String(255), default="", server_default="")
    balance_after: Mapped[int] = mapped_column(Integer)
    related_generation_id: Mapped[int | None] = mapped_column(
        ForeignKey("generations.id", ondelete="SET NULL"), index=True
    )
    related_purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id", ondelete="SET NULL"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Purchase(TimestampMixin, db.Model):
    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'confirming', 'paid', 'failed', 'canceled')", name="status_valid"),
        CheckConstraint("tokens > 0 AND amount > 0", name="positive"),
        Index("ix_purchases_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    package_id: Mapped[str] = mapped_column(String(40))
    tokens: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(Integer)  # minor units of `currency` (KRW has none)
    currency: Mapped[str] = mapped_column(String(3), default="KRW", server_default="KRW")
    customer_key: Mapped[str] = mapped_column(String(64))
    payment_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(String(255))
    provider_response: Mapped[dict | None] = mapped_column(JSON)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A cancellation at Toss after crediting (tokens/reversal.py): how much of the payment Toss has
    # canceled so far, the tokens taken back for it, and those the buyer had already spent (for an operator).
    canceled_amount: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reversed_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reversal_shortfall: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
