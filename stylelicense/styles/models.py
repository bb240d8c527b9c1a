"""Styles (one trained LoRA each) and the artworks they were trained on."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import TimestampMixin
from ..tags.models import Tag, artwork_tags, style_tags

if TYPE_CHECKING:
    from ..users.models import Artist

TRAINING_STATUSES = ("pending", "training", "completed", "failed")


class Style(TimestampMixin, db.Model):
    __tablename__ = "styles"
    __table_args__ = (
        CheckConstraint("generation_cost_tokens >= 1 AND generation_cost_tokens <= 10000", name="price_range"),
        CheckConstraint("training_status IN ('pending', 'training', 'completed', 'failed')", name="status_valid"),
        CheckConstraint("generation_count >= 0", name="generation_count_non_negative"),
        Index("ix_styles_created_at", "created_at"),  # the `recent` listing
        Index("ix_styles_generation_count_created_at", "generation_count", "created_at"),  # `popular`
        # Trigram index for search's ILIKE (PostgreSQL; a plain index elsewhere), migration perf_0001.
        Index("ix_styles_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    # The words the LoRA was trained with (the title's tag at creation); stays when the title is edited.
    trigger: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    generation_cost_tokens: Mapped[int] = mapped_column(Integer)
    training_status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending", index=True)
    progress: Mapped[dict | None] = mapped_column(JSON)
    training_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failure_reason: Mapped[str | None] = mapped_column(String(255))
    lora_key: Mapped[str | None] = mapped_column(String(255))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    generation_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    training_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    training_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Paused by its artist: hidden from lists, search and feed links; new generations refused.
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Preview images rendered by the training worker (keys, prompts, seeds; SPEC §13 "samples").
    samples: Mapped[list | None] = mapped_column(JSON)
    # The run's loss curve (sampled) and figures, shown to the owner (SPEC §13 "training_report").
    training_report: Mapped[dict | None] = mapped_column(JSON)

    artist: Mapped[Artist] = relationship(back_populates="styles")
    artworks: Mapped[list[Artwork]] = relationship(back_populates="style", order_by="Artwork.id")
    tags: Mapped[list[Tag]] = relationship(secondary=style_tags, order_by=Tag.name)


class Artwork(TimestampMixin, db.Model):
    __tablename__ = "artworks"

    id: Mapped[int] = mapped_column(primary_key=True)
    style_id: Mapped[int] = mapped_column(ForeignKey("styles.id", ondelete="CASCADE"), index=True)
    image_key: Mapped[str] = mapped_column(String(255))  # private original (re-encoded)
    training_key: Mapped[str] = mapped_column(String(255))  # private 512-px training copy
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    is_valid: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")

    style: Mapped[Style] = relationship(back_populates="artworks")
    tags: Mapped[list[Tag]] = relationship(secondary=artwork_tags, order_by=Tag.name)


FINGERPRINT_SOURCES = ("artwork", "output")


class ImageFingerprint(db.Model):
    """Perceptual hashes of every training image and every platform output, for the training-image
    safeguard (an upload that is a near-duplicate of another artist's image or of an output is refused).

    Each 64-bit hash is also split into four 16-bit bands, each indexed: two hashes within 3 bits of
    each other share at least one band exactly (pigeonhole), so a lookup fetches a few candidates by
    index and checks their Hamming distance, instead of scanning every row."""

    __tablename__ = "image_fingerprints"
    __table_args__ = (
        CheckConstraint("source IN ('artwork', 'output')", name="source_valid"),
        *(Index(f"ix_image_fingerprints_{name}", name) for name in ("p0", "p1", "p2", "p3", "d0", "d1", "d2", "d3")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(10))
    # The artist whose training image it is (NULL for platform outputs, which nobody may train on).
    artist_id: Mapped[int | None] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"), index=True)
    style_id: Mapped[int | None] = mapped_column(ForeignKey("styles.id", ondelete="CASCADE"), index=True)
    phash: Mapped[int] = mapped_column(BigInteger)  # 64-bit, stored signed
    dhash: Mapped[int] = mapped_column(BigInteger)
    p0: Mapped[int] = mapped_column(Integer)
    p1: Mapped[int] = mapped_column(Integer)
    p2: Mapped[int] = mapped_column(Integer)
    p3: Mapped[int] = mapped_column(Integer)
    d0: Mapped[int] = mapped_column(Integer)
    d1: Mapped[int] = mapped_column(Integer)
    d2: Mapped[int] = mapped_column(Integer)
    d3: Mapped[int] = mapped_column(Integer)
