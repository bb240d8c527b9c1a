"""Generation rules: paid creation, cancel, visibility, the worker's state machine, the stale sweeper.

States move only forward: ``queued → processing ↔ retrying → completed | failed``, or
``queued → cancelled`` by its owner; nothing leaves ``completed``, ``failed`` or ``cancelled``.
Tokens move only through the ledger, each movement once per generation (``charge:<id>``,
``credit:<id>``, ``refund:<id>``), so a repeated webhook or a redelivered task can never charge,
credit or refund twice. Operations flush, never commit.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import joinedload

from ..api import PageQuery, iso, paginate
from ..community.models import Like
from ..errors import Conflict, Forbidden, NotFound, StyleNotReady, ValidationError
from ..extensions import db
from ..jobs.client import enqueue_after_commit
from ..jobs.payloads import GENERATE_IMAGE, GenerateImagePayload, display_key_for
from ..jobs.state import FINISHED, from_older_run, lock_for_report, queue_is_empty, repeated_start
from ..models import utcnow
from ..notifications.operations import notify
from ..provenance import operations as provenance
from ..queueing.operations import generation_queue
from ..storage import get_storage
from ..styles.availability import ensure_style_available, style_is_available
from ..styles.models import Style
from ..styles.operations import lora_trigger
from ..tags.operations import get_or_create_tags, normalize_tags
from ..text import clean_description
from ..tokens import ledger
from ..users.models import User
from . import files
from .models import ASPECT_RATIOS, Generation
from .schemas import MAX_DESCRIPTION, MAX_PROMPT_TAGS, GenerationCreate, GenerationPatch

ACTIVE = ("queued", "processing", "retrying")
GENERATION_QUEUE = "image_generation"
# A generation can also end cancelled (by its owner, while still queued).
FINISHED = (*FINISHED, "cancelled")
# 1 attempt + 3 retries, plus room for two redeliveries after a worker crash; a message that kills
# its worker every time is failed (and refunded) instead of looping forever (NOTES §3).
MAX_ATTEMPTS = 6
_PROGRESS_FIELDS = ("current_step", "total_steps", "progress_percent", "estimated_seconds", "last_updated")


class GenerationFinished(Conflict):
    """The worker reported on a generation that is already completed or failed: stop working on it."""

    code, message = "GENERATION_FINISHED", "This generation is already finished."


class GenerationStarted(Conflict):
    """Only a generation still waiting in the queue can be cancelled."""

    code, message = "GENERATION_STARTED", "This image is already being made; it can no longer be cancelled."


class StylePaused(Conflict):
    """The style's artist paused it: no new generations (licences already issued are untouched)."""

    code, message = "STYLE_PAUSED", "This style is paused by its artist."


class PriceChanged(Conflict):
    """The price the buyer saw is no longer the style's price: nothing is charged, ask again."""

    code, message = "PRICE_CHANGED", "The price of this style has changed."


def check_purchase_terms(style: Style, body: GenerationCreate) -> None:
    """The buyer's terms still hold: the style is not paused and, when the client sent the price it
    showed (``expected_cost_tokens``), that is still the price. Raises before anything is charged."""
    if style.is_paused:
        raise StylePaused(details={"style_id": style.id})
    if body.expected_cost_tokens is not None and body.expected_cost_tokens != style.generation_cost_tokens:
        raise PriceChanged(details={"style_id": style.id, "current_cost_tokens": style.generation_cost_tokens,
                                    "expected_cost_tokens": body.expected_cost_tokens})


# --- creation ----------------------------------------------------------------------------------

def create_generation(user: User, body: GenerationCreate) -> Generation:
    """Create a ``queued`` generation, charge the style's price and enqueue the job — one transaction.

    Raises NOT_FOUND (no such style), STYLE_UNAVAILABLE (409, the artist's account is deactivated),
    STYLE_NOT_READY (409, not trained yet), STYLE_PAUSED or PRICE_CHANGED (409,
    :func:`check_purchase_terms`), VALIDATION_ERROR (tags/description) or INSUFFICIENT_TOKENS (402;
    the request rolls back, so no row remains).
    """
    style = db.session.get(Style, body.style_id)
    if style is None:
        raise NotFound("This style does not exist.")
    ensure_style_available(style)
    if style.training_status != "completed" or not style.lora_key:
        raise StyleNotReady(details={"training_status": style.training_status})
    check_purchase_terms(style, body)
    tags = normalize_tags(body.prompt_tags, field="prompt_tags", max_tags=MAX_PROMPT_TAGS)
    if not tags:
        raise ValidationError("Give at least one prompt tag.",
                              details={"fields": [{"field": "prompt_tags", "message": "empty"}]})
    generation = Generation(
        user_id=user.id, style_id=style.id, prompt_tags=tags,
        description=clean_description(body.description, max_length=MAX_DESCRIPTION),
        aspect_ratio=body.aspect_ratio, seed=body.seed if body.seed is not None else secrets.randbelow(2**32),
        status="queued", cost_tokens=style.generation_cost_tokens, attempts=0, is_public=False,
    )
    db.session.add(generation)
    db.session.flush()
    generation.tags = get_or_create_tags(tags)
    ledger.charge_for_generation(generation, style.title)
    # Atomic in SQL: concurrent requests for a popular style never lose a count.
    db.session.execute(update(Style).where(Style.id == style.id)
                       .values(generation_count=Style.generation_count + 1))
    db.session.flush()
    enqueue_after_commit(GENERATE_IMAGE, build_payload(generation, style, user))
    return generation


def build_payload(generation: Generation, style: Style, user: User) -> GenerateImagePayload:
    """Everything the worker needs (it has no database): inputs, output keys and licence facts.

    Output keys carry a random part so private images cannot be guessed from the public location.
    """
    artist = style.artist
    width, height = ASPECT_RATIOS[generation.aspect_ratio]
    stem = f"generations/{generation.id}/{secrets.token_urlsafe(12)}"
    licence = provenance.ensure_licence(generation, style, user)
    return GenerateImagePayload(
        generation_id=generation.id, style_id=style.id, lora_key=style.lora_key, trigger=lora_trigger(style),
        prompt_tags=list(generation.prompt_tags), width=width, height=height, seed=generation.seed,
        artist_name=artist.artist_name, style_title=style.title,
        signature_key=artist.signature_image_key or None,
        result_key=f"{stem}.png", thumbnail_key=f"{stem}-thumb.webp",
        licence_url=provenance.licence_url(licence.terms_version),
        extra={"buyer": licence.licensee_name, "created_at": iso(generation.created_at)},
        licence_serial=licence.serial, terms_version=licence.terms_version,
        certificate_url=provenance.certificate_url(licence.serial),
    )


# --- reading -----------------------------------------------------------------------------------

def _with_relations(stmt: Select) -> Select:
    # Many-to-one only: joined into the same statement (one query per page instead of four).
    return stmt.options(joinedload(Generation.style).joinedload(Style.artist), joinedload(Generation.user))


def get_visible_generation(generation_id: int, viewer: User | None, *, completed: bool = False) -> Generation:
    """The one visibility rule for a generation: its owner sees it in every state, anyone else only a
    public, completed one; with ``completed`` (likes, comments) the owner too needs it completed.
    Everything else is NOT_FOUND (a private generation's existence is not revealed)."""
    generation = db.session.scalar(_with_relations(select(Generation).where(Generation.id == generation_id)))
    if generation is None or (completed and generation.status != "completed"):
        raise NotFound("This image does not exist.")
    if getattr(viewer, "is_authenticated", False) and generation.user_id == viewer.id:
        return generation
    if generation.is_public and generation.status == "completed" and generation.user.is_active:
        return generation
    raise NotFound("This image does not exist.")


def my_generations_stmt(user: User, visibility: str = "all") -> Select:
    """The user's own generations, every state (My Page)."""
    stmt = _with_relations(select(Generation).where(Generation.user_id == user.id))
    if visibility != "all":
        stmt = stmt.where(Generation.is_public.is_(visibility == "public"))
    return stmt


def feed_stmt(style_id: int | None = None) -> Select:
    """Public, completed generations of active users (the community feed), optionally of one style."""
    stmt = _with_relations(select(Generation).join(User, User.id == Generation.user_id).where(
        Generation.is_public.is_(True), Generation.status == "completed", User.is_active.is_(True)))
    return stmt if style_id is None else stmt.where(Generation.style_id == style_id)


def feed_page(page: PageQuery) -> dict[str, Any]:
    """One page of the public feed as an anonymous visitor sees it (``is_liked`` false): the same for
    everyone, so the public cache can keep it; the route adds the viewer's hearts."""
    stmt = feed_stmt(getattr(page, "style_id", None))  # the style page's gallery asks for one style
    result = paginate(stmt, [Generation.created_at, Generation.id], serialize_generation, page)
    for item in result["results"]:
        item["is_liked"] = False
    return result


def liked_by(user_id: int, generation_ids: list[int]) -> set[int]:
    """Which of ``generation_ids`` the user likes (one query)."""
    if not generation_ids:
        return set()
    return set(db.session.scalars(select(Like.generation_id).where(Like.user_id == user_id,
                                                                   Like.generation_id.in_(generation_ids))))


def serialize_generation(generation: Generation, viewer: User | None = None) -> dict[str, Any]:
    """SPEC §6.1 shape plus style, artist, owner and licence URL."""
    done = generation.status == "completed"
    width, height = ASPECT_RATIOS[generation.aspect_ratio]
    progress = None
    if generation.status in ("processing", "retrying") and generation.progress:
        progress = {name: generation.progress.get(name) for name in _PROGRESS_FIELDS}
    style = generation.style
    owner = generation.user
    is_owner = viewer is not None and viewer.id == generation.user_id
    return {
        "id": generation.id,
        "style_id": generation.style_id,
        "status": generation.status,
        "progress": progress,
        "queue": generation_queue(generation),
        "prompt_tags": list(generation.prompt_tags or []),
        "description": generation.description,
        "aspect_ratio": generation.aspect_ratio,
        "width": width,
        "height": height,
        "seed": generation.seed,
        "is_public": generation.is_public,
        "result_url": files.file_url(generation, generation.result_key) if done else None,
        "thumbnail_url": files.file_url(generation, generation.thumbnail_key) if done else None,
        # for pages; result_url (the signed PNG) is the download
        "display_url": files.file_url(generation, generation.display_key) if done else None,
        "like_count": generation.like_count,
        "comment_count": generation.comment_count,
        "cost_tokens": generation.cost_tokens,
        "attempts": generation.attempts,
        "error_code": generation.error_code if is_owner else None,
        "created_at": iso(generation.created_at),
        "completed_at": iso(generation.completed_at),
        # ``is_paused``: the feed hides its "generate in this style" link.
        "style": {"id": style.id, "title": style.title, "is_paused": style.is_paused},
        "artist": {"id": style.artist.user_id, "artist_name": style.artist.artist_name},
        "owner": {"id": owner.id, "username": owner.username},
        "licence_url": provenance.licence_url(),
    }


def update_generation(generation_id: int, viewer: User, patch: GenerationPatch) -> Generation:
    """The owner switches visibility or edits the description; nothing is ever deleted."""
    generation = get_visible_generation(generation_id, viewer)
    if generation.user_id != viewer.id:
        raise Forbidden("Only the owner can change this image.")
    if patch.is_public is not None:
        files.set_visibility(generation, patch.is_public)
    if patch.description is not None:
        generation.description = clean_description(patch.description, max_length=MAX_DESCRIPTION)
    db.session.flush()
    return generation


def cancel_generation(generation_id: int, viewer: User) -> Generation:
    """The owner cancels a generation that is still ``queued``: ``cancelled`` and a full refund (a
    ``refund:<id>`` ledger row, so never twice); the artist is never credited for it.

    Cancelling again answers the cancelled generation unchanged. A generation that a worker already
    started answers GENERATION_STARTED (409). The queued message stays in the broker: when a worker
    takes it, its start report answers GENERATION_FINISHED and the worker does nothing.
    """
    generation = _lock(generation_id)
    if generation.user_id != viewer.id:
        if generation.is_public and generation.status == "completed":
            raise Forbidden("Only the owner can cancel this image.")
        raise NotFound("This image does not exist.")  # a private generation's existence is not revealed
    if generation.status == "cancelled":
        return generation
    if generation.status != "queued":
        raise GenerationStarted(details={"status": generation.status})
    generation.status = "cancelled"
    generation.progress = None
    generation.error_code = "CANCELLED"
    generation.error_message = "cancelled by its owner"
    ledger.refund_generation(generation, reason=f"image #{generation.id} cancelled")
    db.session.flush()
    return generation


# --- the worker's reports (internal webhooks) --------------------------------------------------

def _lock(generation_id: int) -> Generation:
    """Row lock: concurrent reports for one generation are applied one after the other."""
    return lock_for_report(Generation, generation_id, "generation")


def record_progress(*, generation_id: int, current_step: int, total_steps: int, progress_percent: int = 0,
                    estimated_seconds: int | None = None, attempt: int = 1, run_id: str | None = None,
                    retrying: bool = False, error_code: str | None = None,
                    reason: str | None = None) -> tuple[Generation, bool]:
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
        progress.update(last_error=error_code or "TRANSIENT_ERROR", last_reason=(reason or "")[:255],
                        last_updated=now, estimated_seconds=None)
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
            fail_generation(generation, "TOO_MANY_ATTEMPTS",
                            f"gave up after {generation.attempts} attempts (the worker kept stopping)")
            return generation, True
        generation.attempts += 1
        generation.status = "processing"
        generation.progress = {"current_step": 0, "total_steps": total_steps, "progress_percent": 0,
                               "estimated_seconds": estimated_seconds, "last_updated": now, "run_id": run_id,
                               "attempt": attempt}
        db.session.flush()
        return generation, True
    if from_older_run(progress, run_id):
        return generation, False  # a report of an older run (e.g. a duplicate delivery)
    if generation.status == "processing" and current_step < int(progress.get("current_step") or 0):
        return generation, False  # out of order
    generation.status = "processing"
    progress.update(current_step=current_step, total_steps=total_steps, progress_percent=progress_percent,
                    estimated_seconds=estimated_seconds, last_updated=now)
    if run_id is not None:
        progress["run_id"] = run_id
    generation.progress = progress
    db.session.flush()
    return generation, True


def _own_key(generation: Generation, key: str) -> bool:
    return key.startswith(f"generations/{generation.id}/") and ".." not in key


def complete_generation(*, generation_id: int, result_key: str, thumbnail_key: str,
                        provenance_report: dict | None = None) -> tuple[Generation, bool]:
    """The signed image is stored: ``completed``, the artist is credited and the owner notified (once).

    A repeated or late call changes nothing. The image of a generation that was already failed (and
    refunded) is removed from the public location instead of being kept reachable.
    """
    generation = _lock(generation_id)
    if not (_own_key(generation, result_key) and _own_key(generation, thumbnail_key)):
        raise ValidationError("The result keys do not belong to this generation.")
    if generation.status in FINISHED:
        if generation.status in ("failed", "cancelled"):
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
    notify(generation.user_id, "generation_complete", target_type="generation", target_id=generation.id,
           dedupe_key=f"generation_complete:{generation.id}")
    db.session.flush()
    return generation, True


def fail_generation(generation: Generation, error_code: str, reason: str = "") -> bool:
    """Final failure: ``failed``, full refund and a notification (each once). False if already finished."""
    if generation.status in FINISHED:
        return False
    generation.status = "failed"
    generation.error_code = error_code[:64]
    generation.error_message = (reason or error_code)[:255]
    generation.progress = None
    ledger.refund_generation(generation, reason=f"image #{generation.id} could not be generated")
    notify(generation.user_id, "generation_failed", target_type="generation", target_id=generation.id,
           dedupe_key=f"generation_failed:{generation.id}")
    db.session.flush()
    return True


def report_failure(*, generation_id: int, error_code: str, reason: str = "") -> tuple[Generation, bool]:
    """The worker gave up (retries exhausted or a non-retryable error)."""
    generation = _lock(generation_id)
    return generation, fail_generation(generation, error_code, reason)


def fail_unavailable_jobs(artist_id: int) -> list[Generation]:
    """Fail and refund every unfinished generation in the styles of ``artist_id`` (their account was
    deactivated): nobody pays for a style that can no longer be delivered under licence."""
    pending = list(db.session.scalars(
        select(Generation).join(Style, Style.id == Generation.style_id)
        .where(Style.artist_id == artist_id, Generation.status.in_(ACTIVE))
        .order_by(Generation.id).with_for_update(of=Generation)))
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
    stale = list(db.session.scalars(
        select(Generation).where(Generation.status.in_(ACTIVE), Generation.updated_at < cutoff)
        .order_by(Generation.id).with_for_update(skip_locked=True)))
    if any(g.status == "queued" for g in stale) and not queue_is_empty(GENERATION_QUEUE):
        stale = [g for g in stale if g.status != "queued"]
    minutes = int(older_than.total_seconds() // 60)
    for generation in stale:
        fail_generation(generation, "STALE", f"no progress for {minutes} minutes")
    return stale
