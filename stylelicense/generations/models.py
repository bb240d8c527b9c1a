"""Generations: one paid image request each, from `queued` to `completed` or `failed`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import TimestampMixin
from ..tags.models import Tag, generation_tags

if TYPE_CHECKING:
    from ..styles.models import Style
    from ..users.models import User

GENERATION_STATUSES = ("queued", "processing", "retrying", "completed", "failed", "cancelled")
ASPECT_RATIOS = {"1:1": (512, 512), "2:2": (1024, 1024), "1:2": (512, 1024)}


class Generation(TimestampMixin, db.Model):
    __tablename__ = "generations"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'processing', 'retrying', 'completed', 'failed', 'cancelled')",
            name="status_valid",
        ),
        CheckConstraint("aspect_ratio IN ('1:1', '2:2', '1:2')", name="aspect_ratio_valid"),
        CheckConstraint("like_count >= 0 AND comment_count >= 0", name="counters_non_negative"),
        CheckConstraint("cost_tokens >= 0", name="cost_non_negative"),
        Index("ix_generations_user_id_created_at", "user_id", "created_at"),
        Index("ix_generations_is_public_created_at", "is_public", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # RESTRICT: a style that was used can never be deleted (copyright tracing).
    style_id: Mapped[int] = mapped_column(ForeignKey("styles.id", ondelete="RESTRICT"), index=True)
    prompt_tags: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    aspect_ratio: Mapped[str] = mapped_column(String(5), default="1:1", server_default="1:1")
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued", index=True)
    progress: Mapped[dict | None] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(255))
    result_key: Mapped[str | None] = mapped_column(String(255))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    # web-sized WebP copy of the signed PNG, for pages (SPEC §13 Display copy); None for older images
    display_key: Mapped[str | None] = mapped_column(String(255))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    like_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_tokens: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship()
    style: Mapped[Style] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=generation_tags, order_by=Tag.name)
