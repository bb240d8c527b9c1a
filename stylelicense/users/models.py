"""Accounts: users (keyed by Google `sub`) and their optional artist profile."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import TimestampMixin

if TYPE_CHECKING:
    from ..styles.models import Style

ROLES = ("user", "artist")


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("token_balance >= 0", name="token_balance_non_negative"),
        CheckConstraint("role IN ('user', 'artist')", name="role_valid"),
        # Trigram index for search's ILIKE (PostgreSQL; a plain index elsewhere), migration perf_0001.
        Index(
            "ix_users_username_trgm", "username", postgresql_using="gin", postgresql_ops={"username": "gin_trgm_ops"}
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    google_sub: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    username: Mapped[str] = mapped_column(String(30), unique=True)
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    profile_image_key: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10), default="user", server_default="user")
    token_balance: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Flask-Login reads `is_active`: a deactivated account cannot log in.
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Copied into the session at login and compared on every request: bumping it (logout, account
    # deletion, deactivation) ends every session of the user at once, copied cookies included.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    artist: Mapped[Artist | None] = relationship(back_populates="user", uselist=False, lazy="joined")

    def get_id(self) -> str:
        return str(self.id)


class Artist(TimestampMixin, db.Model):
    __tablename__ = "artists"
    __table_args__ = (
        CheckConstraint("earned_token_balance >= 0", name="earned_token_balance_non_negative"),
        CheckConstraint("follower_count >= 0", name="follower_count_non_negative"),
        # Trigram index for search's ILIKE (PostgreSQL; a plain index elsewhere), migration perf_0001.
        Index(
            "ix_artists_artist_name_trgm",
            "artist_name",
            postgresql_using="gin",
            postgresql_ops={"artist_name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    artist_name: Mapped[str] = mapped_column(String(50), index=True)
    contact_email: Mapped[str] = mapped_column(String(320))
    signature_image_key: Mapped[str] = mapped_column(String(255))
    earned_token_balance: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    follower_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    user: Mapped[User] = relationship(back_populates="artist")
    styles: Mapped[list[Style]] = relationship(back_populates="artist")
