"""The small cards several features show (community lists, search, notifications): a user next to an
action, a style in a listing, an artist with their style, a comment excerpt. Read-only helpers that import
no feature's operations, so community, search and notifications can all use them without a circle."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select

from .api import iso
from .community.models import Comment, Follow
from .extensions import db
from .storage import get_storage
from .styles.models import Style
from .styles.showcase import card_thumbnail_url
from .tags.models import Tag, style_tags
from .users.models import Artist, User

EXCERPT_LENGTH = 80


def public_url(key: str | None) -> str | None:
    return get_storage().public_url(key) if key else None


def user_summary(user: User | None) -> dict | None:
    """``{id, username, profile_image_url}`` — what the SPA shows next to an action."""
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "profile_image_url": public_url(user.profile_image_key)}


def visible_tags_by_style(style_ids: Iterable[int]) -> dict[int, list[str]]:
    """Active, unflagged tag names of each style (one query)."""
    ids = list(set(style_ids))
    result: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return result
    rows = db.session.execute(
        select(style_tags.c.style_id, Tag.name)
        .join(Tag, Tag.id == style_tags.c.tag_id)
        .where(style_tags.c.style_id.in_(ids), Tag.is_active.is_(True), Tag.is_flagged.is_(False))
        .order_by(Tag.name)
    )
    for style_id, name in rows:
        result[style_id].append(name)
    return result


def style_card(style: Style, artist: Artist, tags: list[str]) -> dict:
    """A style as listings show it (the fields of SPEC §6.1's style, without training progress)."""
    return {
        "id": style.id,
        "title": style.title,
        "description": style.description,
        "generation_cost_tokens": style.generation_cost_tokens,
        "training_status": style.training_status,
        "thumbnail_url": card_thumbnail_url(style),
        "tags": tags,
        # `id` is the artist's user id, as in the styles and generations APIs (`user_id` says so explicitly).
        "artist": {"id": artist.user_id, "user_id": artist.user_id, "artist_name": artist.artist_name},
        "generations_count": style.generation_count,
        "created_at": iso(style.created_at),
        "is_paused": style.is_paused,
    }


def artist_cards(users: list[User], viewer: User | None = None) -> dict[int, dict]:
    """Cards for artist users keyed by user id: the user, the artist profile, their completed style
    (MVP: one per artist) or ``None``, and ``is_following`` for a signed-in ``viewer``. A fixed
    number of queries whatever the number of artists."""
    artist_ids = [user.artist.id for user in users if user.artist is not None]
    followed: set[int] = set()
    if viewer is not None and viewer.is_authenticated and users:
        followed = set(
            db.session.scalars(
                select(Follow.following_id).where(
                    Follow.follower_id == viewer.id, Follow.following_id.in_([user.id for user in users])
                )
            )
        )
    styles: dict[int, Style] = {}
    if artist_ids:
        for style in db.session.scalars(
            select(Style)
            .where(Style.artist_id.in_(artist_ids), Style.training_status == "completed", Style.is_paused.is_(False))
            .order_by(Style.created_at)
        ):
            styles.setdefault(style.artist_id, style)
    tags = visible_tags_by_style(style.id for style in styles.values())
    cards = {}
    for user in users:
        artist = user.artist
        if artist is None:
            continue
        style = styles.get(artist.id)
        cards[user.id] = {
            **user_summary(user),
            "artist": {"id": artist.id, "artist_name": artist.artist_name, "follower_count": artist.follower_count},
            "style": style_card(style, artist, tags.get(style.id, [])) if style else None,
            "is_following": user.id in followed,
        }
    return cards


def comment_excerpts(comment_ids: Iterable[int]) -> dict[int, Comment]:
    """Comments by id (for notification targets); one query."""
    ids = list(set(comment_ids))
    if not ids:
        return {}
    return {c.id: c for c in db.session.scalars(select(Comment).where(Comment.id.in_(ids)))}


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
