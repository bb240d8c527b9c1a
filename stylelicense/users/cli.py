"""Operator commands for accounts."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import or_, select

from ..extensions import db
from .models import User

group = click.Group("users", help="List, find, promote and deactivate users.")


def _find(identifier: str) -> User:
    stmt = select(User)
    stmt = (
        stmt.where(User.id == int(identifier))
        if identifier.isdigit()
        else stmt.where(or_(User.email == identifier.lower(), User.username == identifier.lower()))
    )
    user = db.session.scalar(stmt)
    if user is None:
        raise click.ClickException(f"no user {identifier!r}")
    return user


def _line(user: User) -> str:
    artist = f" artist={user.artist.artist_name!r}" if user.artist else ""
    state = "" if user.is_active else " DEACTIVATED"
    return f"{user.id}\t{user.username}\t{user.email}\t{user.role}\tbalance={user.token_balance}{artist}{state}"


@group.command("list")
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def list_users(limit: int):
    """Newest users first."""
    for user in db.session.scalars(select(User).order_by(User.id.desc()).limit(limit)):
        click.echo(_line(user))


@group.command("find")
@click.argument("query")
@with_appcontext
def find_users(query: str):
    """Users whose e-mail or username contains QUERY."""
    pattern = f"%{query.lower()}%"
    found = list(db.session.scalars(select(User).where(or_(User.email.like(pattern), User.username.like(pattern)))))
    for user in found:
        click.echo(_line(user))
    if not found:
        raise click.ClickException("no match")


@group.command("promote")
@click.argument("identifier")
@click.option("--artist-name", required=True)
@click.option("--contact-email", default=None)
@with_appcontext
def promote(identifier: str, artist_name: str, contact_email: str | None):
    """Make a user an artist (with a text signature until they upload one)."""
    from .models import Artist
    from .schemas import ARTIST_NAME_MAX_CHARS

    artist_name = artist_name.strip()
    if not 1 <= len(artist_name) <= ARTIST_NAME_MAX_CHARS:
        raise click.BadParameter(f"1–{ARTIST_NAME_MAX_CHARS} characters", param_hint="--artist-name")
    user = _find(identifier)
    if not user.is_active:
        raise click.ClickException(f"user {user.id} is deactivated")
    if user.artist is None:
        db.session.add(
            Artist(
                user_id=user.id,
                artist_name=artist_name,
                contact_email=contact_email or user.email,
                signature_image_key="",
            )
        )
    user.role = "artist"
    db.session.commit()
    click.echo(_line(user))


@group.command("deactivate")
@click.argument("identifier")
@with_appcontext
def deactivate(identifier: str):
    """Block login and hide the profile (history is kept)."""
    from .operations import deactivate_user

    user = _find(identifier)
    deactivate_user(user)
    db.session.commit()
    click.echo(_line(user))
