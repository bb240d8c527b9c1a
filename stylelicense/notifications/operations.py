"""Creating notifications (other features call ``notify``), listing and reading them.

Each listed notification carries what the SPA needs to link and draw it without more requests:
the actor (``{id, username, profile_image_url}`` or ``None`` for system events) and a ``target``
summary by ``target_type``:

- ``generation`` → ``{id, thumbnail_url, status, is_public, style: {id, title}}``
- ``style`` → ``{id, title, thumbnail_url, training_status}``
- ``comment`` → ``{id, generation_id, parent_id, is_reply, excerpt, generation_thumbnail_url}``
- ``user`` → ``{id, username, profile_image_url, artist_name}``

``target`` is ``None`` when the thing is gone or no longer visible to the recipient.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, func, select, update

from ..api import PageQuery, iso, paginate
from ..cards import comment_excerpts, excerpt, public_url, user_summary
from ..errors import NotFound
from ..extensions import db
from .models import NOTIFICATION_TYPES, Notification


def notify(
    recipient_id: int,
    type: str,
    *,
    target_type: str,
    target_id: int,
    actor_id: int | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
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
    notification = Notification(
        recipient_id=recipient_id,
        actor_id=actor_id,
        type=type,
        target_type=target_type,
        target_id=target_id,
        dedupe_key=dedupe_key,
    )
    db.session.add(notification)
    db.session.flush()
    return notification


def delete_notifications_for(target_type: str, target_ids: Iterable[int]) -> int:
    """Remove the notifications pointing at things that are gone (e.g. a deleted comment)."""
    ids = list(target_ids)
    if not ids:
        return 0
    result = db.session.execute(
        delete(Notification).where(Notification.target_type == target_type, Notification.target_id.in_(ids))
    )
    return result.rowcount or 0


def unread_count(recipient_id: int) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.recipient_id == recipient_id, Notification.is_read.is_(False))
        )
        or 0
    )


def list_notifications(recipient_id: int, page: PageQuery, *, unread_only: bool = False) -> dict:
    """The recipient's notifications, newest first (cursor-paginated), with ``unread_count``."""
    stmt = select(Notification).where(Notification.recipient_id == recipient_id)
    if unread_only:
        stmt = stmt.where(Notification.is_read.is_(False))
    result = paginate(stmt, [Notification.created_at, Notification.id], lambda n: n, page)
    result["results"] = serialize_notifications(result["results"], recipient_id)
    result["unread_count"] = unread_count(recipient_id)
    return result


def mark_read(recipient_id: int, notification_id: int) -> dict:
    """Mark one of your notifications read (idempotent); NOT_FOUND for anyone else's."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.recipient_id != recipient_id:
        raise NotFound("No such notification.")
    notification.is_read = True
    db.session.flush()
    return {**serialize_notifications([notification], recipient_id)[0], "unread_count": unread_count(recipient_id)}


def mark_all_read(recipient_id: int) -> dict:
    """Mark every unread notification of the recipient read; returns how many changed."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.recipient_id == recipient_id, Notification.is_read.is_(False))
        .values(is_read=True),
        execution_options={"synchronize_session": False},
    )
    db.session.expire_all()
    return {"updated": result.rowcount or 0, "unread_count": 0}


# --- serialization with batched target lookups -------------------------------------------------


def serialize_notifications(notifications: list[Notification], recipient_id: int) -> list[dict]:
    """Notifications with actor and target summaries; a fixed number of queries for any page."""
    from ..generations.files import file_url
    from ..generations.models import Generation
    from ..styles.models import Style
    from ..users.models import User

    wanted: dict[str, set[int]] = defaultdict(set)
    for n in notifications:
        wanted[n.target_type].add(n.target_id)
    comments = comment_excerpts(wanted.get("comment", ()))
    generation_ids = set(wanted.get("generation", ())) | {c.generation_id for c in comments.values()}
    generations = (
        {g.id: g for g in db.session.scalars(select(Generation).where(Generation.id.in_(generation_ids)))}
        if generation_ids
        else {}
    )
    style_ids = set(wanted.get("style", ())) | {g.style_id for g in generations.values()}
    styles = {s.id: s for s in db.session.scalars(select(Style).where(Style.id.in_(style_ids)))} if style_ids else {}
    user_ids = set(wanted.get("user", ())) | {n.actor_id for n in notifications if n.actor_id is not None}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}

    def visible(generation) -> bool:
        return generation is not None and (generation.is_public or generation.user_id == recipient_id)

    def generation_target(generation) -> dict | None:
        if not visible(generation):
            return None
        style = styles.get(generation.style_id)
        return {
            "id": generation.id,
            "thumbnail_url": file_url(generation, generation.thumbnail_key),
            "status": generation.status,
            "is_public": generation.is_public,
            "style": {"id": style.id, "title": style.title} if style else None,
        }

    def target(n: Notification) -> dict | None:
        if n.target_type == "generation":
            return generation_target(generations.get(n.target_id))
        if n.target_type == "style":
            style = styles.get(n.target_id)
            return (
                None
                if style is None
                else {
                    "id": style.id,
                    "title": style.title,
                    "thumbnail_url": public_url(style.thumbnail_key),
                    "training_status": style.training_status,
                }
            )
        if n.target_type == "comment":
            comment = comments.get(n.target_id)
            generation = generations.get(comment.generation_id) if comment else None
            if comment is None or comment.is_deleted or not visible(generation):
                return None
            return {
                "id": comment.id,
                "generation_id": comment.generation_id,
                "parent_id": comment.parent_id,
                "is_reply": comment.parent_id is not None,
                "excerpt": excerpt(comment.body),
                "generation_thumbnail_url": file_url(generation, generation.thumbnail_key),
            }
        if n.target_type == "user":
            user = users.get(n.target_id)
            if user is None or not user.is_active:
                return None
            return {**user_summary(user), "artist_name": user.artist.artist_name if user.artist else None}
        return None

    def actor(n: Notification) -> dict | None:
        user = users.get(n.actor_id) if n.actor_id is not None else None
        return user_summary(user) if user is not None and user.is_active else None

    return [
        {
            "id": n.id,
            "type": n.type,
            "actor": actor(n),
            "target_type": n.target_type,
            "target_id": n.target_id,
            "target": target(n),
            "is_read": n.is_read,
            "created_at": iso(n.created_at),
        }
        for n in notifications
    ]
