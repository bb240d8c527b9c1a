"""A generation's state, driven by the generation worker through the internal webhooks, and the sweeper.

States move only forward (see operations.py). The GPU worker has no database access: it drives the
state through the inference webhooks (``record_progress``, ``complete_generation``, ``report_failure``),
which are idempotent, so a repeated callback or a redelivered task changes nothing; a failure refunds
the buyer once (``refund:<id>``). A generation can never stay active forever: ``sweep_stale`` (CLI
``generations sweep-stale``) fails those whose worker went silent. Operations flush, never commit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ..api import iso
from ..errors import Conflict, ValidationError
from ..extensions import db
from ..jobs.client import on_send_failure
from ..jobs.payloads import GENERATE_IMAGE, display_key_for
from ..jobs.state import from_older_run, lock_for_report, queue_is_empty, repeated_start
from ..models import utcnow
from ..notifications.operations import notify
from ..provenance import operations as provenance
from ..storage import get_storage
from ..styles.availability import style_is_available
from ..styles.models import Style
from ..tokens import ledger
from . import files
from .models import Generation
from .operations import ACTIVE, FINISHED, GENERATION_QUEUE, MAX_ATTEMPTS


def _lock(generation_id: int) -> Generation:
    """Row lock: concurrent reports for one generation are applied one after the other."""
    return lock_for_report(Generation, generation_id, "generation")


def record_progress(
    *,
    generation_id: int,
    current_step: int,
    total_steps: int,
    progress_percent: int = 0,
    estimated_seconds: int | None = None,
    attempt: int = 1,
    run_id: str | None = None,
    retrying: bool = False,
    error_code: str | None = None,
    reason: str | None = None,
) -> tuple[Generation, bool]:
    """Apply one progress report; returns ``(generation, changed)``.

    - ``current_step == 0`` starts an attempt: status ``processing`` and ``attempts + 1`` (once per
      ``run_id``; past ``MAX_ATTEMPTS`` the generation fails and is refunded).
    - ``retrying`` marks the attempt as failed with another to follow (status ``retrying``).
    - a step report updates the progress; reports of another run or older steps are ignored.

    A finished generation (completed or failed) is returned unchanged: the webhook answers
    GENERATION_FINISHED, which tells the worker (e.g. one handling a redelivered message) to stop.
    """
    generation = _lock(generation_id)
    if generation.status in FINISHED:
        return generation, False
    now = iso(utcnow())
    progress = dict(generation.progress or {})
    if retrying:
        generation.status = "retrying"
        progress.update(
            last_error=error_code or "TRANSIENT_ERROR",
            last_reason=(reason or "")[:255],
            last_updated=now,
            estimated_seconds=None,
        )
        generation.progress = progress
        db.session.flush()
        return generation, True
    if current_step == 0:
        if repeated_start(progress, run_id):
            return generation, False  # the same start report sent again
        if not style_is_available(generation.style):
            # Queued before the artist left: the worker is told to stop, the buyer is refunded.
            fail_generation(generation, "STYLE_UNAVAILABLE", "the style's artist is no longer active")
            return generation, True
        if generation.attempts >= MAX_ATTEMPTS:
            fail_generation(
                generation,
                "TOO_MANY_ATTEMPTS",
                f"gave up after {generation.attempts} attempts (the worker kept stopping)",
            )
            return generation, True
        generation.attempts += 1
        generation.status = "processing"
        generation.progress = {
            "current_step": 0,
            "total_steps": total_steps,
            "progress_percent": 0,
            "estimated_seconds": estimated_seconds,
            "last_updated": now,
            "run_id": run_id,
            "attempt": attempt,
        }
        db.session.flush()
        return generation, True
    if from_older_run(progress, run_id):
        return generation, False  # a report of an older run (e.g. a duplicate delivery)
    if generation.status == "processing" and current_step < int(progress.get("current_step") or 0):
        return generation, False  # out of order
    generation.status = "processing"
    progress.update(
        current_step=current_step,
        total_steps=total_steps,
        progress_percent=progress_percent,
        estimated_seconds=estimated_seconds,
        last_updated=now,
    )
    if run_id is not None:
        progress["run_id"] = run_id
    generation.progress = progress
    db.session.flush()
    return generation, True


def _own_key(generation: Generation, key: str) -> bool:
    return key.startswith(f"generations/{generation.id}/") and ".." not in key


def complete_generation(
    *, generation_id: int, result_key: str, thumbnail_key: str, provenance_report: dict | None = None
) -> tuple[Generation, bool]:
    """The signed image is stored: ``completed``, the artist is credited and the owner notified (once).

    A repeated or late call changes nothing. The image of a generation that was already failed (and
    refunded) is removed from the public location instead of being kept reachable.
    """
    generation = _lock(generation_id)
    if not (_own_key(generation, result_key) and _own_key(generation, thumbnail_key)):
        raise ValidationError("The result keys do not belong to this generation.")
    if generation.status in FINISHED:
        # A failed/cancelled job's image, or a second run's copy of a delivered one (a message redelivered
        # after a broker restart), must not stay reachable in the public location.
        if generation.status in ("failed", "cancelled") or result_key != generation.result_key:
            storage = get_storage()
            for key in (result_key, thumbnail_key, display_key_for(result_key)):
                storage.delete(key, public=True)
        return generation, False
    storage = get_storage()
    if not style_is_available(generation.style):
        # The artist left while the image was rendered: no credit for them, the buyer is refunded
        # and the file is not kept (it would carry a licence nobody can be paid for).
        fail_generation(generation, "STYLE_UNAVAILABLE", "the style's artist is no longer active")
        for key in (result_key, thumbnail_key):
            storage.delete(key, public=True)
        return generation, True
    if not (storage.exists(result_key, public=True) and storage.exists(thumbnail_key, public=True)):
        raise Conflict("The result is not in storage.", code="RESULT_MISSING")
    generation.status = "completed"
    generation.result_key = result_key
    generation.thumbnail_key = thumbnail_key
    display_key = display_key_for(result_key)
    generation.display_key = display_key if storage.exists(display_key, public=True) else None
    if not generation.is_public:
        # The worker writes to the public location; a private image moves to the private one, under
        # keys that appear in no job payload.
        files.relocate_files(generation, from_public=True, to_public=False)
    generation.completed_at = utcnow()
    generation.progress = None
    generation.error_code = None
    generation.error_message = None
    provenance.record_delivery(generation, provenance_report)  # the licence's file hashes
    ledger.credit_artist_for_generation(generation, generation.style.artist)
    notify(
        generation.user_id,
        "generation_complete",
        target_type="generation",
        target_id=generation.id,
        dedupe_key=f"generation_complete:{generation.id}",
    )
    db.session.flush()
    return generation, True


@on_send_failure(GENERATE_IMAGE)
def fail_unsent(payload: dict) -> None:
    """The broker refused the committed job (down, restarting): fail and refund it now, so the buyer can
    try again at once instead of waiting for the stale-job sweeper."""
    generation = _lock(payload["generation_id"])
    if generation.status == "queued" and generation.attempts == 0:
        fail_generation(generation, "SERVICE_UNAVAILABLE", "the job queue could not be reached")


def fail_generation(generation: Generation, error_code: str, reason: str = "") -> bool:
    """Final failure: ``failed``, full refund and a notification (each once). False if already finished."""
    if generation.status in FINISHED:
        return False
    generation.status = "failed"
    generation.error_code = error_code[:64]
    generation.error_message = (reason or error_code)[:255]
    generation.progress = None
    ledger.refund_generation(generation, reason=f"image #{generation.id} could not be generated")
    notify(
        generation.user_id,
        "generation_failed",
        target_type="generation",
        target_id=generation.id,
        dedupe_key=f"generation_failed:{generation.id}",
    )
    db.session.flush()
    return True


def report_failure(*, generation_id: int, error_code: str, reason: str = "") -> tuple[Generation, bool]:
    """The worker gave up (retries exhausted or a non-retryable error)."""
    generation = _lock(generation_id)
    return generation, fail_generation(generation, error_code, reason)


def fail_unavailable_jobs(artist_id: int) -> list[Generation]:
    """Fail and refund every unfinished generation in the styles of ``artist_id`` (their account was
    deactivated): nobody pays for a style that can no longer be delivered under licence."""
    pending = list(
        db.session.scalars(
            select(Generation)
            .join(Style, Style.id == Generation.style_id)
            .where(Style.artist_id == artist_id, Generation.status.in_(ACTIVE))
            .order_by(Generation.id)
            .with_for_update(of=Generation)
        )
    )
    for generation in pending:
        fail_generation(generation, "STYLE_UNAVAILABLE", "the style's artist is no longer active")
    return pending


def sweep_stale(older_than: timedelta) -> list[Generation]:
    """Fail (refund, notify) unfinished generations with no update for ``older_than``.

    - ``processing`` / ``retrying``: a running attempt reports every second and a retry waits at most
      a few minutes, so silence means the worker is gone (killed host, hard time limit).
    - ``queued``: only while the generation queue holds no waiting message — otherwise the row is
      simply behind a backlog. With an empty queue its message was lost (broker down at enqueue).
      When the broker cannot be asked, queued rows are left for the next sweep.

    Rows being updated right now are skipped (SKIP LOCKED), so it is safe next to live workers; a late
    report from a swept generation's worker answers GENERATION_FINISHED and changes nothing."""
    cutoff = utcnow() - older_than
    stale = list(
        db.session.scalars(
            select(Generation)
            .where(Generation.status.in_(ACTIVE), Generation.updated_at < cutoff)
            .order_by(Generation.id)
            .with_for_update(skip_locked=True)
        )
    )
    if any(g.status == "queued" for g in stale) and not queue_is_empty(GENERATION_QUEUE):
        stale = [g for g in stale if g.status != "queued"]
    minutes = int(older_than.total_seconds() // 60)
    for generation in stale:
        fail_generation(generation, "STALE", f"no progress for {minutes} minutes")
    return stale
