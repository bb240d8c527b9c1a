"""Routes of the notifications feature (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..api import endpoint, ok
from . import operations
from .schemas import NotificationListOut, NotificationQuery, NotificationReadOut, ReadAllOut, UnreadCountOut

bp = Blueprint("notifications", __name__, url_prefix="/api/notifications")


@bp.get("")
@endpoint(
    auth="login",
    query=NotificationQuery,
    response=NotificationListOut,
    summary="My notifications, newest first, with the unread count",
)
def list_notifications(query: NotificationQuery):
    page = operations.list_notifications(current_user.id, query, unread_only=query.unread_only)
    return ok(page)


@bp.get("/unread-count")
@endpoint(auth="login", response=UnreadCountOut, summary="How many of my notifications are unread (the badge's poll)")
def unread_count():
    # The header polls this: one indexed count instead of a page with its target lookups.
    return ok({"unread_count": operations.unread_count(current_user.id)})


@bp.patch("/<int:notification_id>/read")
@endpoint(auth="login", response=NotificationReadOut, summary="Mark one of my notifications read")
def mark_read(notification_id: int):
    return ok(operations.mark_read(current_user.id, notification_id))


@bp.post("/read-all")
@endpoint(auth="login", response=ReadAllOut, summary="Mark all my notifications read")
def read_all():
    return ok(operations.mark_all_read(current_user.id))
