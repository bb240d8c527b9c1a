"""Licences: one per generation, with a public serial, the terms version and the delivered file's hashes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import TimestampMixin

if TYPE_CHECKING:
    from ..generations.models import Generation


class Licence(TimestampMixin, db.Model):
    """Issued (row created, serial allocated) when a generation is requested; the hashes are filled in
    when the worker delivers the signed file. Artist and style names are kept as they were at issue
    time, as the image's metadata and C2PA manifest carry them; so is the licensee's username (a
    rename later does not rewrite who a certificate was issued to)."""

    __tablename__ = "licences"
    __table_args__ = (
        CheckConstraint("serial > 0", name="serial_positive"),
        CheckConstraint("sha256 IS NULL OR length(sha256) = 64", name="sha256_hex"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[int] = mapped_column(BigInteger, unique=True)  # random 63-bit; public form SL-XXXX-…
    generation_id: Mapped[int] = mapped_column(ForeignKey("generations.id", ondelete="CASCADE"), unique=True)
    terms_version: Mapped[str] = mapped_column(String(16))
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="RESTRICT"), index=True)
    style_id: Mapped[int] = mapped_column(ForeignKey("styles.id", ondelete="RESTRICT"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    artist_name: Mapped[str] = mapped_column(String(50))
    style_title: Mapped[str] = mapped_column(String(100))
    licensee_name: Mapped[str] = mapped_column(String(30))
    # The delivered file: exact bytes, and perceptual hashes of its pixels (64-bit, stored signed).
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    phash: Mapped[int | None] = mapped_column(BigInteger)
    dhash: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    generation: Mapped[Generation] = relationship()
    window_hashes: Mapped[list[LicenceHash]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class LicenceHash(db.Model):
    """Perceptual hashes of the delivered image and of its large sub-windows (the whole image is one
    of them): the verify shortlist compares an upload with every window, which finds crops."""

    __tablename__ = "licence_hashes"

    id: Mapped[int] = mapped_column(primary_key=True)
    licence_id: Mapped[int] = mapped_column(ForeignKey("licences.id", ondelete="CASCADE"), index=True)
    phash: Mapped[int] = mapped_column(BigInteger)  # 64-bit, stored signed
    dhash: Mapped[int] = mapped_column(BigInteger)
