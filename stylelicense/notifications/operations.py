"""Creating notifications (other features call ``notify``)."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from .models import NOTIFICATION_TYPES, Notification


def notify(recipient_id: int, type: str, *, target_type: str, target_id: int, actor_id: int | None = None,
           dedupe_key: str | None = None) -> Notification | None:
    """Notify ``recipient_id``. Never for acting on your own things; with ``dedupe_key`` at most once
    (a repeated webhook or redelivered task does not notify twice)."""
    if type not in NOTIFICATION_TYPES:
        raise ValueError(f"unknown notification type {type!r}")
    if actor_id is not None and actor_id == recipient_id:
        return None
    if dedupe_key is not None:
        existing = db.session.scalar(select(Notification).where(Notification.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    notification = Notification(recipient_id=recipient_id, actor_id=actor_id, type=type, target_type=target_type,
                                target_id=target_id, dedupe_key=dedupe_key)
    db.session.add(notification)
    db.session.flush()
    return notification
