"""Tags (lowercase English) and their many-to-many links to styles, artworks and generations."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import TimestampMixin


class Tag(TimestampMixin, db.Model):
    __tablename__ = "tags"
    __table_args__ = (
        # Trigram index for search's ILIKE (PostgreSQL; a plain index elsewhere), migration perf_0001.
        Index("ix_tags_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    is_flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


def _link_table(name: str, owner: str) -> Table:
    return Table(
        name,
        db.metadata,
        Column(f"{owner}_id", ForeignKey(f"{owner}s.id", ondelete="CASCADE"), primary_key=True),
        Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
    )


style_tags = _link_table("style_tags", "style")
artwork_tags = _link_table("artwork_tags", "artwork")
generation_tags = _link_table("generation_tags", "generation")
