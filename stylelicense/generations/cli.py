"""Operator commands for generations: `flask --app wsgi generations sweep-stale | show ID`."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..tokens.models import Transaction
from .generation_status import sweep_stale
from .models import Generation

group = click.Group("generations", help="Inspect generations and fail the ones that stopped moving.")


@group.command("sweep-stale")
@click.option(
    "--minutes",
    default=30,
    show_default=True,
    type=click.IntRange(min=1),
    help="Unfinished generations with no update for this long are failed.",
)
@with_appcontext
def sweep_stale_command(minutes: int):
    """Fail (with a full refund and a notification) generations that stopped moving: processing or
    retrying with no report for MINUTES (dead worker), queued for MINUTES while the queue is empty
    (lost message). Safe to run from cron next to live workers."""
    swept = sweep_stale(timedelta(minutes=minutes))
    db.session.commit()
    for generation in swept:
        click.echo(
            f"failed generation {generation.id} (user {generation.user_id}, refunded {generation.cost_tokens} tokens)"
        )
    click.echo(f"{len(swept)} stale generation(s) failed")


@group.command("show")
@click.argument("generation_id", type=int)
@with_appcontext
def show(generation_id: int):
    """One generation: state, attempts, progress, storage keys and its token movements."""
    generation = db.session.get(Generation, generation_id)
    if generation is None:
        raise click.ClickException(f"no generation {generation_id}")
    style = generation.style
    lines = [
        f"generation {generation.id}: {generation.status} (attempts {generation.attempts})",
        f"  user      {generation.user_id} ({generation.user.username})",
        f"  style     {style.id} {style.title!r} by {style.artist.artist_name!r}",
        f"  prompt    {', '.join(generation.prompt_tags or [])}",
        f"  size      {generation.aspect_ratio} seed={generation.seed} cost={generation.cost_tokens}",
        f"  public    {generation.is_public}",
        f"  created   {generation.created_at.isoformat()}  updated {generation.updated_at.isoformat()}",
    ]
    if generation.progress:
        lines.append(f"  progress  {json.dumps(generation.progress, sort_keys=True)}")
    if generation.completed_at:
        lines.append(f"  completed {generation.completed_at.isoformat()}")
    if generation.result_key:
        lines.append(f"  result    {generation.result_key}  thumbnail {generation.thumbnail_key}")
    if generation.error_code:
        lines.append(f"  error     {generation.error_code}: {generation.error_message}")
    movements = db.session.scalars(
        select(Transaction).where(Transaction.related_generation_id == generation.id).order_by(Transaction.id)
    )
    for row in movements:
        lines.append(f"  ledger    {row.idempotency_key} {row.transaction_type} {row.amount} (user {row.user_id})")
    click.echo("\n".join(lines))
