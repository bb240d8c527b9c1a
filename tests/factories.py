"""Row factories for tests that need styles, generations and the like before their APIs exist.

Each ``create_x(**overrides)`` adds a row with sensible defaults and flushes (never commits): call
them inside an app context and commit yourself when a request or another thread must see the rows.
Users get ``google_sub = "dev:<email>"`` so the dev login (``login(client, username)``) signs in as
them instead of creating a new account.
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager
from datetime import timedelta

from stylelicense.community.models import Comment, Follow, Like
from stylelicense.extensions import db
from stylelicense.generations.models import Generation
from stylelicense.models import utcnow
from stylelicense.notifications.models import Notification
from stylelicense.styles.models import Style
from stylelicense.tags.operations import get_or_create_tags
from stylelicense.users.models import Artist, User

_counter = itertools.count(1)


def create_user(username: str | None = None, **overrides) -> User:
    username = username or f"user{next(_counter)}"
    email = overrides.pop("email", f"{username}@example.com")
    user = User(google_sub=f"dev:{email}", email=email, username=username, **overrides)
    db.session.add(user)
    db.session.flush()
    return user


def create_artist(
    username: str | None = None, artist_name: str | None = None, *, follower_count: int = 0, **user_overrides
) -> User:
    """A user with the artist role and profile; returns the user (``user.artist`` is the profile)."""
    user = create_user(username, role="artist", **user_overrides)
    artist = Artist(
        user_id=user.id,
        artist_name=artist_name or user.username.title(),
        contact_email=user.email,
        signature_image_key=f"signatures/{user.id}.png",
        follower_count=follower_count,
    )
    db.session.add(artist)
    db.session.flush()
    db.session.refresh(user)
    return user


def create_style(
    artist: User | Artist | None = None,
    *,
    title: str | None = None,
    status: str = "completed",
    tags: list[str] | None = None,
    **overrides,
) -> Style:
    """A style of ``artist`` (a new artist if omitted); its title is also one of its tags."""
    if artist is None:
        artist = create_artist()
    profile = artist.artist if isinstance(artist, User) else artist
    title = title or f"Style {next(_counter)}"
    style = Style(
        artist_id=profile.id,
        title=title,
        description=overrides.pop("description", "A test style"),
        generation_cost_tokens=overrides.pop("generation_cost_tokens", 10),
        training_status=status,
        thumbnail_key=overrides.pop("thumbnail_key", f"styles/{next(_counter)}/thumb.png"),
        **overrides,
    )
    style.tags = get_or_create_tags(list(dict.fromkeys([title.lower(), *(tags or [])])))
    db.session.add(style)
    db.session.flush()
    return style


def create_generation(
    user: User | None = None,
    style: Style | None = None,
    *,
    is_public: bool = True,
    status: str = "completed",
    **overrides,
) -> Generation:
    """A generation of ``user`` in ``style`` (both created if omitted), completed and public by default."""
    user = user or create_user()
    style = style or create_style()
    done = status == "completed"
    generation = Generation(
        user_id=user.id,
        style_id=style.id,
        prompt_tags=overrides.pop("prompt_tags", ["portrait"]),
        seed=overrides.pop("seed", 42),
        status=status,
        is_public=is_public,
        cost_tokens=overrides.pop("cost_tokens", style.generation_cost_tokens),
        result_key=f"generations/{next(_counter)}.png" if done else None,
        thumbnail_key=f"generations/{next(_counter)}_thumb.png" if done else None,
        completed_at=utcnow() if done else None,
        **overrides,
    )
    db.session.add(generation)
    db.session.flush()
    return generation


def create_like(user: User, generation: Generation) -> Like:
    """A like row with its counter (as the API would leave it)."""
    like = Like(user_id=user.id, generation_id=generation.id)
    generation.like_count += 1
    db.session.add(like)
    db.session.flush()
    return like


def create_follow(follower: User, artist_user: User) -> Follow:
    follow = Follow(follower_id=follower.id, following_id=artist_user.id)
    artist_user.artist.follower_count += 1
    db.session.add(follow)
    db.session.flush()
    return follow


def create_comment(
    author: User, generation: Generation, body: str = "Nice!", *, parent: Comment | None = None, **overrides
) -> Comment:
    comment = Comment(
        generation_id=generation.id,
        author_id=author.id,
        body=body,
        parent_id=parent.id if parent else None,
        **overrides,
    )
    if not comment.is_deleted:
        generation.comment_count += 1
    db.session.add(comment)
    db.session.flush()
    return comment


def create_notification(
    recipient: User,
    type: str = "like",
    *,
    target_type: str = "generation",
    target_id: int = 0,
    actor: User | None = None,
    is_read: bool = False,
    age: timedelta | None = None,
) -> Notification:
    notification = Notification(
        recipient_id=recipient.id,
        type=type,
        target_type=target_type,
        target_id=target_id,
        actor_id=actor.id if actor else None,
        is_read=is_read,
    )
    if age is not None:
        notification.created_at = utcnow() - age
    db.session.add(notification)
    db.session.flush()
    return notification


@contextmanager
def seeded(app):
    """``with seeded(app): ...`` — run factories in an app context and commit, so requests see the rows.
    Read ids inside the block (objects are detached afterwards)."""
    with app.app_context():
        yield db.session
        db.session.commit()


def count_rows(app, model, *criteria) -> int:
    """Rows of ``model`` matching ``criteria``, read in a fresh app context (what is really committed)."""
    from sqlalchemy import func, select

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*criteria))


def fetch(app, model, row_id: int, *attributes: str):
    """Committed attribute values of one row: ``fetch(app, Generation, 3, "like_count")``."""
    with app.app_context():
        obj = db.session.get(model, row_id)
        if obj is None:
            return None
        values = tuple(getattr(obj, name) for name in attributes)
        return values[0] if len(values) == 1 else values


@contextmanager
def count_queries(app):
    """``with count_queries(app) as statements: ...`` — the SQL statements run inside the block."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def bought_generation(app, client, login):
    """A generation bought through the API by ``buyer`` (10 tokens charged) in Painter Pat's style, with
    the client that bought it and the output keys a worker would report."""
    from types import SimpleNamespace

    with app.app_context():
        artist = create_artist("painter", "Painter Pat")
        style = create_style(artist, title="Ink Wash", lora_key="styles/1/lora.safetensors", generation_cost_tokens=10)
        db.session.commit()
        style_id, artist_id = style.id, artist.artist.id
    login(client, "buyer")
    response = client.post("/api/generations", json={"style_id": style_id, "prompt_tags": ["cat"]})
    assert response.status_code == 201
    generation_id = response.get_json()["data"]["id"]
    return SimpleNamespace(
        id=generation_id,
        client=client,
        artist_id=artist_id,
        result_key=f"generations/{generation_id}/abc.png",
        thumbnail_key=f"generations/{generation_id}/abc-thumb.webp",
    )
