"""In-app notifications."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import TimestampMixin
from ..users.models import User

NOTIFICATION_TYPES = (
    "follow",
    "like",
    "comment",
    "generation_complete",
    "generation_failed",
    "style_training_complete",
    "style_training_failed",
)


class Notification(TimestampMixin, db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(
            "type IN ('follow', 'like', 'comment', 'generation_complete', 'generation_failed', "
            "'style_training_complete', 'style_training_failed')",
            name="type_valid",
        ),
        Index("ix_notifications_recipient_id_created_at", "recipient_id", "created_at"),
        # The unread badge (count) and `unread_only` lists: an index-only range, not a scan of the inbox.
        Index("ix_notifications_recipient_id_is_read_created_at", "recipient_id", "is_read", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))  # generation | style | user | comment
    target_id: Mapped[int] = mapped_column(Integer)
    is_read: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # System events (training/generation results) must notify once even if a webhook repeats.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
