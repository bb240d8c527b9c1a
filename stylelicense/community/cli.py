"""Operator commands: `flask --app wsgi demo create [--styles N --generations N --likes N --users N]`
(demo data) and `flask --app wsgi community check-counters` (counters against their rows)."""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ..extensions import db
from ..generations.models import Generation
from ..styles.models import Style
from ..users.models import Artist
from .models import Comment, Follow, Like

demo = click.Group("demo", help="Demo data for local runs and measurements.")
community = click.Group("community", help="Community maintenance.")
groups = [demo, community]


@demo.command("create")
@click.option("--styles", type=int, default=None, help="Styles (one artist each). Default 12.")
@click.option("--generations", type=int, default=None, help="Generations. Default 240.")
@click.option("--likes", type=int, default=None, help="Likes (distinct user/image pairs). Default 1200.")
@click.option("--users", type=int, default=None, help="Users including artists. Default max(40, 3 × styles).")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same data).")
@click.option("--no-images", is_flag=True, help="Do not write the placeholder pictures to storage.")
@with_appcontext
def create(styles, generations, likes, users, seed, no_images):
    """Create demo users, artists, styles, images, likes, comments, follows and notifications.

    Without options: a small set for `make run`. For measurements, e.g.
    `--styles 10000 --generations 100000 --likes 1000000`. Does nothing if demo data exists.
    """
    from ..bulk import analyze
    from ..demo import Sizes, create_demo_data, demo_exists

    if demo_exists():
        click.echo("demo data already present; nothing to do")
        return
    started = time.monotonic()

    def progress(message: str) -> None:
        click.echo(f"  [{time.monotonic() - started:6.1f} s] {message}", err=True)

    try:
        sizes = Sizes.build(users, styles, generations, likes)
        summary = create_demo_data(sizes, seed=seed, images=not no_images, progress=progress)
    except ValueError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    db.session.commit()
    progress("committed")
    analyze()
    progress("analyzed")
    click.echo(", ".join(f"{name} {count:,}" for name, count in summary.counts.items()))
    click.echo(f"done in {summary.seconds:.1f} s")
    if summary.busiest_email:
        click.echo(
            f"sign in (dev login) as {summary.busiest_email} (most notifications) "
            f"or {summary.typical_email} (a typical user)"
        )


@community.command("check-counters")
@with_appcontext
def check_counters():
    """Compare like_count, comment_count, follower_count and generation_count with their rows;
    exit 1 on any drift."""
    likes = select(func.count()).select_from(Like).where(Like.generation_id == Generation.id).scalar_subquery()
    comments = (
        select(func.count())
        .select_from(Comment)
        .where(Comment.generation_id == Generation.id, Comment.is_deleted.is_(False))
        .scalar_subquery()
    )
    follows = select(func.count()).select_from(Follow).where(Follow.following_id == Artist.user_id).scalar_subquery()
    drifts = [
        f"generation {gid}: like_count {count} != {rows} likes"
        for gid, count, rows in db.session.execute(
            select(Generation.id, Generation.like_count, likes).where(Generation.like_count != likes)
        )
    ]
    drifts += [
        f"generation {gid}: comment_count {count} != {rows} comments"
        for gid, count, rows in db.session.execute(
            select(Generation.id, Generation.comment_count, comments).where(Generation.comment_count != comments)
        )
    ]
    drifts += [
        f"artist {aid}: follower_count {count} != {rows} follows"
        for aid, count, rows in db.session.execute(
            select(Artist.id, Artist.follower_count, follows).where(Artist.follower_count != follows)
        )
    ]
    made = select(func.count()).select_from(Generation).where(Generation.style_id == Style.id).scalar_subquery()
    drifts += [
        f"style {sid}: generation_count {count} != {rows} generations"
        for sid, count, rows in db.session.execute(
            select(Style.id, Style.generation_count, made).where(Style.generation_count != made)
        )
    ]
    for line in drifts[:50]:
        click.echo(line)
    if drifts:
        raise click.ClickException(f"{len(drifts)} counters differ from their rows")
    click.echo("all counters match their rows")
