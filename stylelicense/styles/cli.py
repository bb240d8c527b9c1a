"""Operator commands for styles: ``flask --app wsgi styles sweep-stale``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..jobs import client as jobs
from . import training_status

group = click.Group("styles", help="Styles and their LoRA training.")


@group.command("sweep-stale")
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(min=0),
    default=training_status.STALE_AFTER_SECONDS,
    show_default=True,
    help="Seconds without a progress report (training) or without starting (pending).",
)
@with_appcontext
def sweep_stale(older_than: int):
    """Never stuck in training: fail styles whose worker went silent, re-send lost pending jobs.

    Run it every few minutes (cron, systemd timer). Workers report at least every 30 s, so the default of
    15 minutes only catches real losses. A worker killed outright (SIGKILL, host lost) needs no sweep:
    its message is acknowledged late (``acks_late``), so RabbitMQ hands it to the next worker when the
    dead one's connection drops, and ``reject_on_worker_lost`` requeues it when only the pool child dies;
    the new run restarts the training (``training_attempts`` counts them, capped).
    """
    result = training_status.sweep_stale_styles(older_than)
    db.session.commit()
    jobs.send_pending()
    click.echo(f"failed: {len(result['failed'])} {result['failed']}")
    click.echo(f"requeued: {len(result['requeued'])} {result['requeued']}")
