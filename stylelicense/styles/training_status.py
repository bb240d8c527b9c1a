"""A style's training state, driven by the training worker through the internal webhooks, and the sweeper.

Training states move only forward: ``pending → training → completed | failed``; nothing leaves
``completed`` or ``failed``. The GPU worker has no database access: it drives the state through the
training webhooks (``record_training_progress``, ``complete_training``, ``report_training_failure``),
which are idempotent, so a repeated callback or a redelivered task changes nothing. A style can never
stay in ``training`` forever: ``sweep_stale_styles`` (CLI ``styles sweep-stale``) fails styles whose
worker went silent and re-sends pending styles whose message was lost. Operations flush, never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..api import iso
from ..errors import Conflict
from ..extensions import db
from ..jobs.client import enqueue_after_commit
from ..jobs.payloads import TRAIN_STYLE
from ..jobs.state import FINISHED, from_older_run, lock_for_report, queue_is_empty, repeated_start
from ..models import utcnow
from ..notifications.operations import notify
from ..text import field_error
from ..users.models import Artist
from .models import Style
from .operations import lora_key_for, training_payload
from .showcase import record_showcase

TRAINING_QUEUE = "model_training"
# 1 attempt + 3 retries, plus room for two redeliveries after a worker crash; a message that kills its
# worker every time ends ``failed`` (artist notified) instead of looping forever (NOTES §3).
MAX_TRAINING_ATTEMPTS = 6
# A training worker reports at least every 30 s; 15 minutes of silence means it is gone.
STALE_AFTER_SECONDS = 15 * 60


class TrainingFinished(Conflict):
    """The worker reported on a style that is already completed or failed: stop working on it."""

    code, message = "TRAINING_FINISHED", "This style's training is already finished."


class TrainingSuperseded(Conflict):
    """The report comes from an older run of the job (a newer delivery took over): stop."""

    code, message = "TRAINING_SUPERSEDED", "Another run of this training has taken over."


def _lock(style_id: int) -> Style:
    """Row lock: concurrent reports (and the sweeper) for one style apply one after the other."""
    return lock_for_report(Style, style_id, "style")


def _progress(epoch: int, total: int, percent: int, seconds: int | None, run_id: str | None) -> dict[str, Any]:
    return {
        "current_epoch": epoch,
        "total_epochs": total,
        "progress_percent": percent,
        "estimated_seconds": seconds,
        "last_updated": iso(utcnow()),
        "run_id": run_id,
    }


def record_training_progress(
    *,
    style_id: int,
    current_epoch: int = 0,
    total_epochs: int = 0,
    progress_percent: int = 0,
    estimated_seconds: int | None = None,
    starting: bool = False,
    run_id: str | None = None,
) -> tuple[Style, bool]:
    """Apply one progress report; returns ``(style, changed)``.

    - ``starting`` opens an attempt: ``pending``/``training`` → ``training``, ``training_attempts + 1``
      (once per ``run_id``); past ``MAX_TRAINING_ATTEMPTS`` the style fails and the artist is notified.
    - other reports store the progress (and its ``last_updated``, which the sweeper watches);
      a report of an older run raises TRAINING_SUPERSEDED.

    A finished style is returned unchanged: the webhook answers TRAINING_FINISHED, which tells the
    worker (e.g. one handling a redelivered message) to do nothing more."""
    style = _lock(style_id)
    if style.training_status in FINISHED:
        return style, False
    current = dict(style.progress or {})
    if starting:
        if repeated_start(current, run_id):
            style.progress = {**current, "last_updated": iso(utcnow())}  # the same start sent again
            return style, False
        if style.training_attempts >= MAX_TRAINING_ATTEMPTS:
            fail_training(style, f"gave up after {style.training_attempts} attempts (the worker kept stopping)")
            return style, True
        style.training_attempts += 1
        style.training_status = "training"
        style.training_started_at = utcnow()
        style.progress = _progress(0, total_epochs, 0, estimated_seconds, run_id)
        db.session.flush()
        current_app.logger.info(
            "training started",
            extra={"event": "training_started", "style_id": style.id, "attempt": style.training_attempts},
        )
        return style, True
    if from_older_run(current, run_id):
        raise TrainingSuperseded(details={"style_id": style.id})
    if style.training_status == "pending":  # a worker that skipped the start report still counts
        style.training_attempts += 1
        style.training_status = "training"
        style.training_started_at = utcnow()
    style.progress = _progress(
        current_epoch, total_epochs, progress_percent, estimated_seconds, run_id or current.get("run_id")
    )
    db.session.flush()
    return style, True


def complete_training(
    *,
    style_id: int,
    lora_key: str,
    steps: int = 0,
    seconds: float = 0,
    run_id: str | None = None,
    samples: list[dict] | None = None,
    report: dict | None = None,
) -> tuple[Style, bool]:
    """The LoRA and the preview samples are stored: ``completed``, the artist is notified once.
    Without at least four samples the completion is refused (422; the worker retries or fails the
    job). Repeats change nothing; a completion for a failed style is refused (TRAINING_FINISHED)."""
    style = _lock(style_id)
    if style.training_status == "completed":
        return style, False
    if style.training_status == "failed":
        raise TrainingFinished(details={"style_id": style.id, "training_status": style.training_status})
    if lora_key != lora_key_for(style.id):
        raise field_error("lora_key", "lora_key is not this style's LoRA location.")
    record_showcase(style, samples or [], report)
    style.training_status = "completed"
    style.lora_key = lora_key
    style.progress = None
    style.failure_reason = None
    style.training_finished_at = utcnow()
    db.session.flush()
    notify(
        _artist_user_id(style),
        "style_training_complete",
        target_type="style",
        target_id=style.id,
        dedupe_key=f"training:{style.id}:completed",
    )
    current_app.logger.info(
        "training completed",
        extra={
            "event": "training_completed",
            "style_id": style.id,
            "steps": steps,
            "seconds": round(seconds, 1),
            "attempts": style.training_attempts,
        },
    )
    return style, True


def report_training_failure(*, style_id: int, reason: str = "", run_id: str | None = None) -> tuple[Style, bool]:
    """The worker gave up: ``failed``, the artist is notified once. Repeats change nothing; a failure
    for a completed style, or from an older run, is refused."""
    style = _lock(style_id)
    if style.training_status == "failed":
        return style, False
    if style.training_status == "completed":
        raise TrainingFinished(details={"style_id": style.id, "training_status": style.training_status})
    if from_older_run(style.progress, run_id):
        raise TrainingSuperseded(details={"style_id": style.id})
    fail_training(style, reason or "training failed")
    return style, True


def fail_training(style: Style, reason: str) -> None:
    """Move a (locked) unfinished style to ``failed`` and notify its artist once."""
    style.training_status = "failed"
    style.failure_reason = reason[:255]
    style.progress = None
    style.training_finished_at = utcnow()
    db.session.flush()
    notify(
        _artist_user_id(style),
        "style_training_failed",
        target_type="style",
        target_id=style.id,
        dedupe_key=f"training:{style.id}:failed",
    )
    current_app.logger.warning(
        "training failed", extra={"event": "training_failed", "style_id": style.id, "reason": style.failure_reason}
    )


def _artist_user_id(style: Style) -> int:
    return db.session.scalar(select(Artist.user_id).where(Artist.id == style.artist_id))


# --- the stale-job sweeper ---------------------------------------------------------------------


def _last_sign_of_life(style: Style) -> datetime:
    stamp = (style.progress or {}).get("last_updated")
    if stamp:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return style.training_started_at or style.updated_at


def sweep_stale_styles(older_than: int = STALE_AFTER_SECONDS) -> dict[str, list[int]]:
    """Make sure no style waits forever (run periodically: ``flask --app wsgi styles sweep-stale``).

    - ``training`` with no progress report for ``older_than`` seconds: its worker is gone (killed
      host, hard time limit, broker lost the message) → ``failed``, artist notified. A late report
      from that worker then answers TRAINING_FINISHED and it stops.
    - ``pending`` for ``older_than`` seconds while the training queue holds no waiting message: the
      job was never delivered (broker down at enqueue) → sent again after the commit (or ``failed``
      past ``MAX_TRAINING_ATTEMPTS``). While messages wait in the queue, pending styles are simply
      queued behind them and are left alone.

    Returns the ids acted on: ``{"failed": [...], "requeued": [...]}``. The caller commits (and then
    sends the queued jobs)."""
    cutoff = utcnow() - timedelta(seconds=older_than)
    failed: list[int] = []
    requeued: list[int] = []
    training = db.session.scalars(
        select(Style).where(Style.training_status == "training").order_by(Style.id).with_for_update(skip_locked=True)
    )
    for style in training:
        if _last_sign_of_life(style) < cutoff:
            fail_training(style, f"no progress report for over {older_than} s: the training worker was lost")
            failed.append(style.id)
    pending = list(
        db.session.scalars(
            select(Style)
            .where(Style.training_status == "pending", Style.updated_at < cutoff)
            .order_by(Style.id)
            .with_for_update(skip_locked=True)
        )
    )
    if pending and queue_is_empty(TRAINING_QUEUE):
        for style in pending:
            if style.training_attempts >= MAX_TRAINING_ATTEMPTS:
                fail_training(style, f"gave up after {style.training_attempts} attempts")
                failed.append(style.id)
                continue
            style.updated_at = utcnow()  # the next sweep waits another full period for this one
            enqueue_after_commit(TRAIN_STYLE, training_payload(style))
            requeued.append(style.id)
        db.session.flush()
    return {"failed": failed, "requeued": requeued}
