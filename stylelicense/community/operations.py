"""Community rules: follows, likes, comments (the cards other features show too are in ``cards.py``).

Counters (``artists.follower_count``, ``generations.like_count`` / ``comment_count``) move only
with an ``UPDATE … SET n = n ± 1`` in the same transaction as the row they count, so concurrent
requests can never lose an update and a counter always equals its rows. Operations flush, never
commit (the request boundary in ``api.endpoint`` commits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Table, bindparam, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, selectinload

from ..api import PageQuery, iso, paginate
from ..cards import (  # noqa: F401 — artist_cards, style_card, visible_tags_by_style: re-exported for search
    artist_cards,
    public_url,
    style_card,
    user_summary,
    visible_tags_by_style,
)
from ..errors import (
    Conflict,
    DuplicateFollow,
    Forbidden,
    NotFound,
    ReplyDepthExceeded,
    SelfFollowNotAllowed,
    ValidationError,
)
from ..extensions import db
from ..generations.models import Generation
from ..generations.operations import get_visible_generation
from ..notifications.operations import delete_notifications_for, notify
from ..text import plain_text
from ..users.models import Artist, User
from .models import Comment, Follow, Like

COMMENT_MAX_LENGTH = 1000


# --- shared helpers ----------------------------------------------------------------------------


def _insert_ignoring_duplicates(table: Table, values: dict, conflict_columns: list[str]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``; True when a row was inserted. A concurrent duplicate waits
    for the other transaction and then does nothing, so no request fails with an IntegrityError."""
    dialect = db.session.get_bind().dialect.name
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if module is None:  # pragma: no cover - other databases are not supported
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = module.insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict_columns)
    return db.session.execute(stmt.returning(table.c.id)).first() is not None


def _bump(table: Table, row_id: int, column: str, delta: int) -> int:
    """``UPDATE table SET column = column + delta`` and return the new value (never read-modify-write)."""
    col = table.c[column]
    return db.session.execute(
        update(table).where(table.c.id == row_id).values({col: col + delta}).returning(col)
    ).scalar_one()


def _sync_loaded(model, row_id: int, attribute: str, value: int) -> None:
    """Keep an already-loaded ORM object in step with the UPDATE we just ran."""
    from sqlalchemy.orm.attributes import set_committed_value

    obj = db.session.identity_map.get(db.session.identity_key(model, row_id))
    if obj is not None:
        set_committed_value(obj, attribute, value)


# --- follows -----------------------------------------------------------------------------------


def _followable_artist(user_id: int) -> User:
    target = db.session.get(User, user_id)
    if target is None or not target.is_active or target.artist is None:
        raise NotFound("No such artist.")
    return target


def follow_artist(follower: User, user_id: int) -> dict:
    """Follow the artist whose user id is ``user_id``: SELF_FOLLOW_NOT_ALLOWED (400) for yourself,
    NOT_FOUND for unknown, inactive or non-artist users, DUPLICATE_FOLLOW (409) when already
    following. Notifies the artist once per follower (following again after unfollowing is quiet)."""
    if user_id == follower.id:
        raise SelfFollowNotAllowed()
    target = _followable_artist(user_id)
    inserted = _insert_ignoring_duplicates(
        Follow.__table__, {"follower_id": follower.id, "following_id": target.id}, ["follower_id", "following_id"]
    )
    if not inserted:
        raise DuplicateFollow(details={"follower_count": target.artist.follower_count})
    count = _bump(Artist.__table__, target.artist.id, "follower_count", +1)
    _sync_loaded(Artist, target.artist.id, "follower_count", count)
    notify(
        target.id,
        "follow",
        target_type="user",
        target_id=follower.id,
        actor_id=follower.id,
        dedupe_key=f"follow:{follower.id}:{target.id}",
    )
    return {"following": True, "follower_count": count}


def unfollow_artist(follower: User, user_id: int) -> dict:
    """Stop following; NOT_FOUND when not following (or no such artist)."""
    target = _followable_artist(user_id)
    deleted = db.session.execute(
        delete(Follow).where(Follow.follower_id == follower.id, Follow.following_id == target.id).returning(Follow.id)
    ).first()
    if deleted is None:
        raise NotFound("You do not follow this artist.")
    count = _bump(Artist.__table__, target.artist.id, "follower_count", -1)
    _sync_loaded(Artist, target.artist.id, "follower_count", count)
    return {"following": False, "follower_count": count}


def list_following(follower: User, page: PageQuery) -> dict:
    """Artists ``follower`` follows, most recently followed first (active artists only)."""
    stmt = (
        select(Follow, User)
        .join(User, User.id == Follow.following_id)
        .where(Follow.follower_id == follower.id, User.is_active.is_(True))
    )
    result = paginate(
        stmt,
        [Follow.created_at, Follow.id],
        lambda row: row,
        page,
        key=lambda row: [row.Follow.created_at, row.Follow.id],
    )
    rows = result["results"]
    cards = artist_cards([row.User for row in rows], follower)
    result["results"] = [
        {**cards[row.User.id], "followed_at": iso(row.Follow.created_at)} for row in rows if row.User.id in cards
    ]
    return result


# --- likes -------------------------------------------------------------------------------------


def _likeable(generation_id: int, user: User) -> Generation:
    generation = get_visible_generation(generation_id, user, completed=True)
    if not generation.is_public:  # only the owner gets this far with a private image
        raise ValidationError(
            "Only public images can be liked.",
            details={"fields": [{"field": "generation_id", "message": "not public"}]},
        )
    return generation


def like_generation(user: User, generation_id: int) -> dict:
    """Like a public image once: a second like is CONFLICT (409) and changes nothing. Notifies the
    image's owner once per liker (never yourself; unlike + like again stays quiet)."""
    generation = _likeable(generation_id, user)
    inserted = _insert_ignoring_duplicates(
        Like.__table__, {"user_id": user.id, "generation_id": generation.id}, ["user_id", "generation_id"]
    )
    if not inserted:
        raise Conflict("You already like this image.", details={"liked": True, "like_count": generation.like_count})
    count = _bump(Generation.__table__, generation.id, "like_count", +1)
    _sync_loaded(Generation, generation.id, "like_count", count)
    notify(
        generation.user_id,
        "like",
        target_type="generation",
        target_id=generation.id,
        actor_id=user.id,
        dedupe_key=f"like:{user.id}:{generation.id}",
    )
    return {"liked": True, "like_count": count}


def unlike_generation(user: User, generation_id: int) -> dict:
    """Remove your like; NOT_FOUND when you had not liked the image."""
    generation = _likeable(generation_id, user)
    deleted = db.session.execute(
        delete(Like).where(Like.user_id == user.id, Like.generation_id == generation.id).returning(Like.id)
    ).first()
    if deleted is None:
        raise NotFound("You have not liked this image.")
    count = _bump(Generation.__table__, generation.id, "like_count", -1)
    _sync_loaded(Generation, generation.id, "like_count", count)
    return {"liked": False, "like_count": count}


# Built once: building this select on every call cost more CPU than running it (0.44 vs 0.24 ms).
_LIKED_AMONG = select(Like.generation_id).where(
    Like.user_id == bindparam("user_id"), Like.generation_id.in_(bindparam("ids", expanding=True))
)


def liked_generation_ids(user_id: int | None, generation_ids: Iterable[int]) -> set[int]:
    """Which of ``generation_ids`` the user likes (for feeds that show a filled heart); one query."""
    ids = list(set(generation_ids))
    if user_id is None or not ids:
        return set()
    return set(db.session.scalars(_LIKED_AMONG, {"user_id": user_id, "ids": ids}))


# --- comments ----------------------------------------------------------------------------------


def clean_comment_body(raw: str) -> str:
    """Plain text: HTML tags (and script/style contents) removed, entities decoded, trimmed;
    1–1,000 characters or VALIDATION_ERROR. The SPA renders it as text, never as HTML."""
    text = plain_text(raw)
    if not text:
        raise ValidationError("A comment cannot be empty.", details={"fields": [{"field": "body", "message": "empty"}]})
    if len(text) > COMMENT_MAX_LENGTH:
        raise ValidationError(
            f"A comment has at most {COMMENT_MAX_LENGTH} characters.",
            details={"fields": [{"field": "body", "message": "too long", "max_length": COMMENT_MAX_LENGTH}]},
        )
    return text


def _serialize_comment(comment: Comment, viewer: User | None, replies: list[dict] | None = None) -> dict:
    deleted = comment.is_deleted
    return {
        "id": comment.id,
        "generation_id": comment.generation_id,
        "parent_id": comment.parent_id,
        "body": "" if deleted else comment.body,
        "author": None if deleted else user_summary(comment.author),
        "is_deleted": deleted,
        "is_mine": bool(
            viewer is not None and viewer.is_authenticated and comment.author_id == viewer.id and not deleted
        ),
        "created_at": iso(comment.created_at),
        "updated_at": iso(comment.updated_at),
        **({"replies": replies} if replies is not None else {}),
    }


def list_comments(generation_id: int, viewer: User | None, page: PageQuery) -> dict:
    """Top-level comments newest first (cursor-paginated), each with all its replies oldest first.
    Deleted comments that still have replies appear as ``is_deleted`` with no body or author."""
    generation = get_visible_generation(generation_id, viewer, completed=True)
    # Authors come with the comments (selectinload): a fixed number of queries per page.
    stmt = (
        select(Comment)
        .options(selectinload(Comment.author))
        .where(Comment.generation_id == generation.id, Comment.parent_id.is_(None))
    )
    result = paginate(stmt, [Comment.created_at, Comment.id], lambda comment: comment, page)
    top = result["results"]
    replies: dict[int, list[Comment]] = defaultdict(list)
    if top:
        for reply in db.session.scalars(
            select(Comment)
            .options(selectinload(Comment.author))
            .where(Comment.parent_id.in_([c.id for c in top]))
            .order_by(Comment.created_at, Comment.id)
        ):
            replies[reply.parent_id].append(reply)
    result["results"] = [
        _serialize_comment(c, viewer, [_serialize_comment(r, viewer) for r in replies[c.id]]) for c in top
    ]
    return result


def add_comment(author: User, generation_id: int, body: str, parent_id: int | None = None) -> dict:
    """Comment on an image the author can see (a public one, or their own private one). A reply names
    its ``parent_id``: a top-level, not deleted comment of the same image; replying to a reply is
    REPLY_DEPTH_EXCEEDED (422). Notifies the image owner and, for a reply, the parent's author —
    once each, never the author themselves."""
    generation = get_visible_generation(generation_id, author, completed=True)
    text = clean_comment_body(body)
    parent = None
    if parent_id is not None:
        parent = db.session.get(Comment, parent_id)
        if parent is None or parent.generation_id != generation.id or parent.is_deleted:
            raise ValidationError(
                "The comment you reply to is not on this image.",
                details={"fields": [{"field": "parent_id", "message": "not found on this image"}]},
            )
        if parent.parent_id is not None:
            raise ReplyDepthExceeded()
    comment = Comment(generation_id=generation.id, author_id=author.id, parent_id=parent_id, body=text)
    db.session.add(comment)
    db.session.flush()
    _sync_loaded(
        Generation, generation.id, "comment_count", _bump(Generation.__table__, generation.id, "comment_count", +1)
    )
    recipients = [generation.user_id] + ([parent.author_id] if parent is not None else [])
    for recipient in dict.fromkeys(recipients):
        notify(recipient, "comment", target_type="comment", target_id=comment.id, actor_id=author.id)
    return _serialize_comment(comment, author, [] if parent is None else None)


def _own_comment(comment_id: int, user: User, *, lock: bool = False) -> Comment:
    """The user's comment: NOT_FOUND when it is unknown, deleted or on an image they cannot see;
    FORBIDDEN when it is someone else's. ``lock`` takes the row lock (``FOR UPDATE``)."""
    comment = db.session.get(Comment, comment_id, with_for_update=lock or None)
    if comment is None or comment.is_deleted:
        raise NotFound("No such comment.")
    get_visible_generation(comment.generation_id, user, completed=True)
    if comment.author_id != user.id:
        raise Forbidden("Only the author can change this comment.")
    return comment


def edit_comment(user: User, comment_id: int, body: str) -> dict:
    """Replace the body of your own comment (same cleaning and limits as a new one)."""
    comment = _own_comment(comment_id, user)
    comment.body = clean_comment_body(body)
    db.session.flush()
    return _serialize_comment(comment, user, None)


def delete_comment(user: User, comment_id: int) -> dict:
    """Delete your own comment. With replies it stays as a placeholder (``is_deleted``, body hidden) so
    the thread survives; without, the row goes — and a deleted parent left with no replies goes too.
    ``comment_count`` counts visible comments, so it drops by one either way. The comment's
    notifications are removed (nobody is pointed at text that is gone)."""
    # The row lock makes a reply being written at this moment either wait (and then be seen below)
    # or fail on its foreign key: a reply can never be cascaded away uncounted.
    comment = _own_comment(comment_id, user, lock=True)
    has_replies = db.session.scalar(select(exists().where(Comment.parent_id == comment.id)))
    parent_id, generation_id = comment.parent_id, comment.generation_id
    delete_notifications_for("comment", [comment.id])
    if has_replies:
        comment.is_deleted = True
        comment.body = ""
    else:
        db.session.delete(comment)
    db.session.flush()
    if parent_id is not None:
        # The last reply of a deleted parent: the placeholder has nothing left to hold together.
        reply = aliased(Comment)
        db.session.execute(
            delete(Comment).where(
                Comment.id == parent_id, Comment.is_deleted.is_(True), ~exists().where(reply.parent_id == parent_id)
            )
        )
    count = _bump(Generation.__table__, generation_id, "comment_count", -1)
    _sync_loaded(Generation, generation_id, "comment_count", count)
    return {"id": comment_id, "deleted": True, "kept_as_placeholder": bool(has_replies), "comment_count": count}
