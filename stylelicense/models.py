"""Shared model helpers, and the one place that imports every feature's models (for Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, func
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, server_default=func.now(), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=func.now(), nullable=False
    )


def import_all_models() -> None:
    """Import every feature's models so the metadata is complete (migrations, tests)."""
    from .community import models as _community  # noqa: F401
    from .generations import models as _generations  # noqa: F401
    from .notifications import models as _notifications  # noqa: F401
    from .provenance import models as _provenance  # noqa: F401
    from .queueing import models as _queueing  # noqa: F401
    from .styles import models as _styles  # noqa: F401
    from .tags import models as _tags  # noqa: F401
    from .tokens import models as _tokens  # noqa: F401
    from .users import models as _users  # noqa: F401
