"""Operator commands for tag moderation: `flask --app wsgi tags flag|unflag|deactivate|activate NAME`
and `tags list`. A flagged or inactive tag is never matched by search (nor shown on style cards)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ..extensions import db
from .models import Tag, style_tags

group = click.Group("tags", help="Moderate tags (flag, deactivate) and list them.")


def _find(name: str) -> Tag:
    normalized = " ".join(name.strip().lower().split())
    tag = db.session.scalar(select(Tag).where(Tag.name == normalized))
    if tag is None:
        raise click.ClickException(f"no tag {normalized!r}")
    return tag


def _line(tag: Tag, styles: int | None = None) -> str:
    state = ("active" if tag.is_active else "INACTIVE") + (" FLAGGED" if tag.is_flagged else "")
    used = f"\tstyles={styles}" if styles is not None else ""
    return f"{tag.id}\t{tag.name}\t{state}\tusage={tag.usage_count}{used}"


def _setter(command: str, attribute: str, value: bool, help_text: str):
    @group.command(command, help=help_text)
    @click.argument("name", nargs=-1, required=True)
    @with_appcontext
    def _command(name: tuple[str, ...]):
        tag = _find(" ".join(name))
        setattr(tag, attribute, value)
        db.session.commit()
        click.echo(_line(tag))

    return _command


_setter("flag", "is_flagged", True, "Flag a tag: search stops matching it.")
_setter("unflag", "is_flagged", False, "Clear a tag's flag.")
_setter("deactivate", "is_active", False, "Deactivate a tag: search stops matching it.")
_setter("activate", "is_active", True, "Activate a tag again.")


@group.command("list")
@click.option("--flagged", is_flag=True, help="Only flagged tags.")
@click.option("--inactive", is_flag=True, help="Only inactive tags.")
@click.option("--contains", default=None, help="Only tags containing this text.")
@click.option("--limit", default=50, show_default=True)
@with_appcontext
def list_tags(flagged: bool, inactive: bool, contains: str | None, limit: int):
    """Tags with their state and how many styles use them, most used first."""
    styles = func.count(style_tags.c.style_id)
    stmt = (
        select(Tag, styles)
        .outerjoin(style_tags, style_tags.c.tag_id == Tag.id)
        .group_by(Tag.id)
        .order_by(styles.desc(), Tag.name)
        .limit(limit)
    )
    if flagged:
        stmt = stmt.where(Tag.is_flagged.is_(True))
    if inactive:
        stmt = stmt.where(Tag.is_active.is_(False))
    if contains:
        stmt = stmt.where(Tag.name.contains(contains.lower(), autoescape=True))
    rows = db.session.execute(stmt).all()
    for tag, count in rows:
        click.echo(_line(tag, count))
    if not rows:
        click.echo("no tags")
