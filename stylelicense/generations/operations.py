"""Generation rules: paid creation, cancel, visibility (the worker's reports and the sweeper: generation_status.py).

States move only forward: ``queued → processing ↔ retrying → completed | failed``, or
``queued → cancelled`` by its owner; nothing leaves ``completed``, ``failed`` or ``cancelled``.
Tokens move only through the ledger, each movement once per generation (``charge:<id>``,
``credit:<id>``, ``refund:<id>``), so a repeated webhook or a redelivered task can never charge,
credit or refund twice. Operations flush, never commit.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import joinedload

from ..api import PageQuery, iso, paginate
from ..errors import Conflict, Forbidden, NotFound, StyleNotReady, ValidationError
from ..extensions import db
from ..jobs.client import enqueue_after_commit
from ..jobs.payloads import GENERATE_IMAGE, GenerateImagePayload
from ..jobs.state import FINISHED, lock_for_report
from ..provenance import operations as provenance
from ..queueing.operations import generation_queue
from ..styles.availability import ensure_style_available
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
        raise PriceChanged(
            details={
                "style_id": style.id,
                "current_cost_tokens": style.generation_cost_tokens,
                "expected_cost_tokens": body.expected_cost_tokens,
            }
        )


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
        raise ValidationError(
            "Give at least one prompt tag.", details={"fields": [{"field": "prompt_tags", "message": "empty"}]}
        )
    generation = Generation(
        user_id=user.id,
        style_id=style.id,
        prompt_tags=tags,
        description=clean_description(body.description, max_length=MAX_DESCRIPTION),
        aspect_ratio=body.aspect_ratio,
        seed=body.seed if body.seed is not None else secrets.randbelow(2**32),
        status="queued",
        cost_tokens=style.generation_cost_tokens,
        attempts=0,
        is_public=False,
    )
    db.session.add(generation)
    db.session.flush()
    generation.tags = get_or_create_tags(tags)
    ledger.charge_for_generation(generation, style.title)
    # Atomic in SQL: concurrent requests for a popular style never lose a count.
    db.session.execute(update(Style).where(Style.id == style.id).values(generation_count=Style.generation_count + 1))
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
        generation_id=generation.id,
        style_id=style.id,
        lora_key=style.lora_key,
        trigger=lora_trigger(style),
        prompt_tags=list(generation.prompt_tags),
        width=width,
        height=height,
        seed=generation.seed,
        artist_name=artist.artist_name,
        style_title=style.title,
        signature_key=artist.signature_image_key or None,
        result_key=f"{stem}.png",
        thumbnail_key=f"{stem}-thumb.webp",
        licence_url=provenance.licence_url(licence.terms_version),
        extra={"buyer": licence.licensee_name, "created_at": iso(generation.created_at)},
        licence_serial=licence.serial,
        terms_version=licence.terms_version,
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
    stmt = _with_relations(
        select(Generation)
        .join(User, User.id == Generation.user_id)
        .where(Generation.is_public.is_(True), Generation.status == "completed", User.is_active.is_(True))
    )
    return stmt if style_id is None else stmt.where(Generation.style_id == style_id)


def feed_page(page: PageQuery) -> dict[str, Any]:
    """One page of the public feed as an anonymous visitor sees it (``is_liked`` false): the same for
    everyone, so the public cache can keep it; the route adds the viewer's hearts."""
    stmt = feed_stmt(getattr(page, "style_id", None))  # the style page's gallery asks for one style
    result = paginate(stmt, [Generation.created_at, Generation.id], serialize_generation, page)
    for item in result["results"]:
        item["is_liked"] = False
    return result


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
    generation = lock_for_report(Generation, generation_id, "generation")
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
