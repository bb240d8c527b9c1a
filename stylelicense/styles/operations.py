"""Style rules: creation from uploads, visibility, editing, the training state machine and the sweeper.

Training states move only forward: ``pending → training → completed | failed``; nothing leaves
``completed`` or ``failed``. The GPU worker has no database access: it drives the state through the
training webhooks (``record_training_progress``, ``complete_training``, ``report_training_failure``),
which are idempotent, so a repeated callback or a redelivered task changes nothing. A style can never
stay in ``training`` forever: ``sweep_stale_styles`` (CLI ``styles sweep-stale``) fails styles whose
worker went silent and re-sends pending styles whose message was lost. Operations flush, never commit.
"""

from __future__ import annotations

import html
import re
import secrets
import tempfile
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import nh3
from flask import current_app
from PIL import Image
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import selectinload

from ..api import iso
from ..errors import Conflict, Forbidden, NotFound, StyleLimitReached, ValidationError
from ..extensions import db
from ..images import check_image, read_upload, resize_to_fit, square_thumbnail
from ..jobs.client import enqueue_after_commit, queue_size
from ..jobs.payloads import TRAIN_STYLE, TrainStylePayload
from ..models import utcnow
from ..notifications.operations import notify
from ..queueing.operations import style_queue
from ..storage import get_storage
from ..tags.models import Tag
from ..tags.operations import MAX_TAG_LENGTH, get_or_create_tags, normalize_tags
from ..users.models import Artist, User
from . import safeguards, showcase
from .models import Artwork, Style
from .schemas import (
    MAX_DESCRIPTION,
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    MAX_TITLE,
    MIN_IMAGE_SIDE,
    MIN_IMAGES,
    StyleCreateForm,
    StylePatch,
)

FINISHED = ("completed", "failed")
TRAINING_QUEUE = "model_training"
# 1 attempt + 3 retries, plus room for two redeliveries after a worker crash; a message that kills its
# worker every time ends ``failed`` (artist notified) instead of looping forever (NOTES §3).
MAX_TRAINING_ATTEMPTS = 6
# A training worker reports at least every 30 s; 15 minutes of silence means it is gone.
STALE_AFTER_SECONDS = 15 * 60
TRAINING_SIDE = 512
LORA_FILE = "pytorch_lora_weights.safetensors"
_PROGRESS_FIELDS = ("current_epoch", "total_epochs", "progress_percent", "estimated_seconds", "last_updated")
_NOT_TAG_CHARS = re.compile(r"[^a-z0-9 \-]+")


class TrainingFinished(Conflict):
    """The worker reported on a style that is already completed or failed: stop working on it."""

    code, message = "TRAINING_FINISHED", "This style's training is already finished."


class TrainingSuperseded(Conflict):
    """The report comes from an older run of the job (a newer delivery took over): stop."""

    code, message = "TRAINING_SUPERSEDED", "Another run of this training has taken over."


# --- text --------------------------------------------------------------------------------------

def plain_text(text: str) -> str:
    """Text without markup: nh3 drops tags (and script/style contents) but escapes ``<`` and ``&``;
    unescaping gives the text back, repeated so tags hidden behind entities (``&lt;b&gt;``) go too."""
    for _ in range(5):
        cleaned = html.unescape(nh3.clean(text, tags=set()))
        if cleaned == text:
            break
        text = cleaned
    return text.strip()


def _field_error(field: str, message: str, **details) -> ValidationError:
    return ValidationError(message, details={"fields": [{"field": field, "message": message, **details}]})


def clean_title(raw: str) -> str:
    """Free text in any language, one line, 1–MAX_TITLE characters."""
    title = " ".join(plain_text(raw).split())
    if not 1 <= len(title) <= MAX_TITLE:
        kind = "string_too_short" if not title else "string_too_long"
        raise _field_error("title", f"The title must be 1–{MAX_TITLE} characters of text.", type=kind,
                           max_length=MAX_TITLE)
    return title


def clean_description(raw: str | None) -> str:
    text = plain_text(raw or "")
    if len(text) > MAX_DESCRIPTION:
        raise _field_error("description", f"The description is limited to {MAX_DESCRIPTION} characters.")
    return text


def title_tag(title: str) -> str | None:
    """The tag an English title becomes ("Watercolor Dreams!" → "watercolor dreams"): lowercase English
    letters, digits, spaces and hyphens, at most one tag long (cut at a word boundary). A title in
    another language ("수채화의 꿈", or one mixing scripts) gives none: SPEC §13 Titles."""
    # Accents go ("Café" → "cafe"); a letter of another script means the title is not English.
    title = "".join(c for c in unicodedata.normalize("NFKD", title) if not unicodedata.combining(c))
    if any(c.isalpha() and not c.isascii() for c in title):
        return None
    text = " ".join(_NOT_TAG_CHARS.sub(" ", title.lower()).split()).strip(" -")
    if len(text) > MAX_TAG_LENGTH:
        cut = text[:MAX_TAG_LENGTH + 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else text[:MAX_TAG_LENGTH]).strip(" -")
    if not text:
        return None
    return normalize_tags([text], field="title")[0]


def clean_trigger(raw: str | None) -> str | None:
    """The optional English tag of a style (``trigger``): one valid tag, or None when left empty."""
    tags = normalize_tags([plain_text(raw or "")], field="trigger")
    return tags[0] if tags else None


def lora_trigger(style: Style) -> str:
    """The words the LoRA is trained (and prompted) with: the style's tag, or — for a style with no
    English tag — a made-up token unique to the style, so the LoRA still has a word to attach to."""
    return style.trigger or title_tag(style.title) or f"sls{style.id}"


# --- creation ----------------------------------------------------------------------------------

@dataclass
class _PreparedImage:
    """One validated upload, re-encoded into the request's scratch folder (not stored yet)."""

    original: Path
    original_ext: str
    training: Path
    width: int
    height: int
    tags: list[str]
    fingerprint: safeguards.UploadHashes | None = None


def _training_copy(image: Image.Image) -> bytes:
    """The 512-px copy the worker trains on: short side 512, RGB (transparency on white), JPEG q95."""
    image = resize_to_fit(image, TRAINING_SIDE)
    if image.mode == "RGBA":
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    buffer = BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _prepare_images(files: list, image_tags: list[list[str]], workdir: Path) -> tuple[list[_PreparedImage], bytes]:
    """Validate every upload by content and write its re-encoded original and training copy to ``workdir``;
    returns them with the listing thumbnail (from the first image). Raises on the first bad file.

    One decoded image is in memory at a time: 100 uploads of 40 megapixels would not fit otherwise."""
    prepared: list[_PreparedImage] = []
    thumbnail = b""
    for index, (upload, tags) in enumerate(zip(files, image_tags, strict=True)):
        field = f"images[{index}]"
        data = read_upload(upload, max_bytes=MAX_IMAGE_BYTES, field=field)
        checked = check_image(data, field=field, filename=upload.filename, min_side=MIN_IMAGE_SIDE)
        safeguards.check_reservation(data, index)  # the metadata goes with the re-encode below
        del data
        ext = "png" if checked.image.mode == "RGBA" or checked.format == "PNG" else "jpg"
        original = workdir / f"{index}-original.{ext}"
        # Re-encoding drops anything hidden in the upload; fast PNG compression keeps big uploads quick.
        original.write_bytes(checked.encode("PNG", compress_level=3) if ext == "png" else checked.encode("JPEG"))
        training = workdir / f"{index}-training.jpg"
        training.write_bytes(_training_copy(checked.image))
        if index == 0:
            thumbnail = square_thumbnail(checked.image)
        prepared.append(_PreparedImage(original, ext, training, checked.width, checked.height, tags,
                                       safeguards.hash_upload(checked.image)))
        checked.image.close()
    return prepared, thumbnail


def _check_counts(files: list, form: StyleCreateForm) -> list[list[str]]:
    if not MIN_IMAGES <= len(files) <= MAX_IMAGES:
        raise ValidationError(f"Upload between {MIN_IMAGES} and {MAX_IMAGES} images (got {len(files)}).",
                              details={"fields": [{"field": "images", "message": "wrong number of images",
                                                   "count": len(files)}]})
    if form.image_tags is None:
        return [[] for _ in files]
    if len(form.image_tags) != len(files):
        raise _field_error("image_tags", f"image_tags must have one tag array per image ({len(files)}), "
                                         f"not {len(form.image_tags)}.")
    return [normalize_tags(tags, field=f"image_tags[{i}]") for i, tags in enumerate(form.image_tags)]


def _ensure_no_style(artist_id: int) -> None:
    if db.session.scalar(select(func.count(Style.id)).where(Style.artist_id == artist_id)):
        raise StyleLimitReached()


def lora_key_for(style_id: int) -> str:
    """Where the worker stores the style's LoRA (private)."""
    return f"styles/{style_id}/lora/{LORA_FILE}"


def _bump_usage(counts: Counter[int]) -> None:
    """``usage_count += n`` in SQL (no lost updates when two requests tag at once), one UPDATE per n."""
    by_increment: dict[int, list[int]] = {}
    for tag_id, n in counts.items():
        by_increment.setdefault(n, []).append(tag_id)
    for n, ids in by_increment.items():
        db.session.execute(update(Tag).where(Tag.id.in_(ids)).values(usage_count=Tag.usage_count + n)
                           .execution_options(synchronize_session=False))


def create_style(user: User, form: StyleCreateForm, files: list) -> Style:
    """Create the artist's style from 10–100 uploads and queue its training.

    Everything is checked before anything is stored: fields, counts, tags, then every image by content
    (read_upload + check_image) and by the training-image safeguards (rights reservations, images
    already registered by another artist or generated here; :mod:`.safeguards`). Only then are the
    originals (private, re-encoded), the 512-px training copies (private) and the 256×256 thumbnail
    (public) stored, the rows written and the training job queued (sent after the commit). The title's
    tag goes on every image; the images' tags aggregate into the style's tags. A refused request stores
    nothing."""
    artist = user.artist
    title = clean_title(form.title)
    trigger = clean_trigger(form.trigger) or title_tag(title)  # the style's tag; None: no tag
    description = clean_description(form.description)
    image_tags = _check_counts(files, form)
    _ensure_no_style(artist.id)  # fail fast, before the expensive image work

    storage = get_storage()
    with tempfile.TemporaryDirectory(prefix="style-upload-") as scratch:
        prepared, thumbnail = _prepare_images(files, image_tags, Path(scratch))
        for index, item in enumerate(prepared):
            safeguards.check_not_registered(item.fingerprint, index, artist.id)

        # Two concurrent requests of one artist: the row lock makes the second wait and then see the first.
        db.session.execute(select(Artist.id).where(Artist.id == artist.id).with_for_update())
        _ensure_no_style(artist.id)

        style = Style(artist_id=artist.id, title=title, trigger=trigger, description=description,
                      generation_cost_tokens=form.generation_cost_tokens, training_status="pending",
                      training_attempts=0)
        db.session.add(style)
        db.session.flush()
        style.trigger = trigger or lora_trigger(style)
        prefix = f"styles/{style.id}"
        own = [trigger] if trigger else []

        names = [*own, *(name for item in prepared for name in item.tags)]
        tags = {tag.name: tag for tag in get_or_create_tags(list(dict.fromkeys(names)))}
        uses: Counter[int] = Counter()
        uploads: list[tuple[str, Path | bytes, bool, str]] = []
        artworks: list[Artwork] = []
        for item in prepared:
            token = uuid.uuid4().hex
            artwork_tags = [tags[name] for name in dict.fromkeys([*own, *item.tags])]
            artwork = Artwork(style_id=style.id, image_key=f"{prefix}/originals/{token}.{item.original_ext}",
                              training_key=f"{prefix}/training/{token}.jpg", width=item.width,
                              height=item.height, is_valid=True, tags=artwork_tags)
            artworks.append(artwork)
            uses.update(tag.id for tag in artwork_tags)
            mime = "image/png" if item.original_ext == "png" else "image/jpeg"
            uploads.append((artwork.image_key, item.original, False, mime))
            uploads.append((artwork.training_key, item.training, False, "image/jpeg"))
        db.session.add_all(artworks)
        safeguards.register_artworks((item.fingerprint for item in prepared), artist.id, style.id)
        # Style tags: every artwork tag, the most used first (the relationship lists them by name).
        frequency = Counter(name for item in prepared for name in dict.fromkeys([*own, *item.tags]))
        style.tags = [tags[name] for name, _ in frequency.most_common()]
        uses.update(tag.id for tag in style.tags)
        style.thumbnail_key = f"{prefix}/thumbnail-{secrets.token_hex(8)}.jpg"
        uploads.append((style.thumbnail_key, thumbnail, True, "image/jpeg"))
        db.session.flush()
        _bump_usage(uses)

        stored: list[tuple[str, bool]] = []
        try:
            for key, source, public, mime in uploads:
                data = source if isinstance(source, bytes) else source.read_bytes()
                storage.put(key, data, public=public, content_type=mime)
                stored.append((key, public))
        except BaseException:
            _delete_quietly(storage, stored)  # the rows roll back; leave no files behind either
            raise

    enqueue_after_commit(TRAIN_STYLE, training_payload(style, artworks))
    current_app.logger.info("style created", extra={"event": "style_created", "style_id": style.id,
                                                    "artist_id": artist.id, "images": len(artworks)})
    return style


def _delete_quietly(storage, stored: list[tuple[str, bool]]) -> None:
    for key, public in stored:
        try:
            storage.delete(key, public=public)
        except Exception:  # best effort: the original error is what the client must see
            current_app.logger.warning("could not delete a stored upload", extra={"key": key})


def training_payload(style: Style, artworks: list[Artwork] | None = None) -> TrainStylePayload:
    """The training job: the private 512-px copies with their own tags (the trigger prefixes every
    caption), where to put the LoRA, and the step override tests use (``TRAINING_MAX_STEPS``)."""
    artworks = artworks if artworks is not None else [a for a in style.artworks if a.is_valid]
    trigger = lora_trigger(style)
    images = [{"key": a.training_key, "tags": [t.name for t in a.tags if t.name != trigger]} for a in artworks]
    return TrainStylePayload(style_id=style.id, trigger=trigger, images=images, lora_key=lora_key_for(style.id),
                             max_steps=current_app.config.get("TRAINING_MAX_STEPS"))


# --- reading -----------------------------------------------------------------------------------

def _with_relations(stmt: Select) -> Select:
    return stmt.options(selectinload(Style.tags), selectinload(Style.artist).selectinload(Artist.user))


def _is_owner(style: Style, viewer: Any) -> bool:
    artist = getattr(viewer, "artist", None) if getattr(viewer, "is_authenticated", False) else None
    return artist is not None and artist.id == style.artist_id


def get_visible_style(style_id: int, viewer: Any = None) -> Style:
    """The style if ``viewer`` may see it: its owner always; everyone else only a completed style of an
    active artist. Anything else is NOT_FOUND (an untrained style's existence is not revealed)."""
    style = db.session.scalar(_with_relations(select(Style).where(Style.id == style_id)))
    if style is None:
        raise NotFound("This style does not exist.")
    if _is_owner(style, viewer):
        return style
    if style.training_status == "completed" and style.artist.user.is_active:
        return style
    raise NotFound("This style does not exist.")


def list_styles_stmt(sort: str = "recent", tag: str | None = None) -> tuple[Select, list]:
    """Completed styles of active artists, ``recent`` (newest first) or ``popular`` (most generations,
    then newest), optionally with one tag; returns the statement and its keyset order."""
    stmt = _with_relations(select(Style).join(Artist, Artist.id == Style.artist_id)
                           .join(User, User.id == Artist.user_id)
                           .where(Style.training_status == "completed", Style.is_paused.is_(False),
                                  User.is_active.is_(True)))
    if tag:
        names = normalize_tags([tag], field="tag", max_tags=1)
        if names:
            stmt = stmt.where(Style.tags.any((Tag.name == names[0]) & Tag.is_active.is_(True)))
    if sort == "popular":
        return stmt, [Style.generation_count, Style.created_at, Style.id]
    return stmt, [Style.created_at, Style.id]


def my_styles_stmt(user: User) -> Select:
    """The artist's own styles, every state."""
    return _with_relations(select(Style).where(Style.artist_id == user.artist.id))


def serialize_style(style: Style, viewer: Any = None) -> dict[str, Any]:
    """SPEC §6.1 style shape; ``progress`` only while training; SPEC §13 ``samples`` and, for the
    owner, ``training_report``."""
    progress = None
    if style.training_status == "training" and style.progress:
        progress = {name: style.progress.get(name) for name in _PROGRESS_FIELDS}
    return {
        "id": style.id,
        "title": style.title,
        "description": style.description,
        "generation_cost_tokens": style.generation_cost_tokens,
        "training_status": style.training_status,
        "progress": progress,
        "queue": style_queue(style),
        "thumbnail_url": showcase.card_thumbnail_url(style),
        "tags": [tag.name for tag in style.tags if tag.is_active],
        "artist": {"id": style.artist.user_id, "artist_name": style.artist.artist_name},
        "generations_count": style.generation_count,
        "created_at": iso(style.created_at),
        "is_paused": style.is_paused,
        "samples": showcase.serialize_samples(style),
        "training_report": showcase.serialize_training_report(style) if _is_owner(style, viewer) else None,
    }


# --- editing -----------------------------------------------------------------------------------

def update_style(style_id: int, viewer: User, patch: StylePatch) -> Style:
    """The owner edits title, description or price (never the images), or pauses/resumes sales
    (``is_paused``; licences already issued are untouched). A new title also becomes a
    style tag; the LoRA's trigger stays the one it was trained with."""
    style = get_visible_style(style_id, viewer)
    if not _is_owner(style, viewer):
        raise Forbidden("Only the style's artist can change it.")
    if patch.title is not None:
        style.title = clean_title(patch.title)
        name = title_tag(style.title)
        if name and name not in {tag.name for tag in style.tags}:
            tag = get_or_create_tags([name])[0]
            style.tags.append(tag)
            db.session.flush()
            _bump_usage(Counter({tag.id: 1}))
    if patch.description is not None:
        style.description = clean_description(patch.description)
    if patch.generation_cost_tokens is not None:
        style.generation_cost_tokens = patch.generation_cost_tokens
    if patch.is_paused is not None and patch.is_paused != style.is_paused:
        style.is_paused = patch.is_paused
        current_app.logger.info("style paused" if patch.is_paused else "style resumed",
                                extra={"event": "style_paused" if patch.is_paused else "style_resumed",
                                       "style_id": style.id})
    db.session.flush()
    return style


# --- the worker's reports (internal webhooks) --------------------------------------------------

def _lock(style_id: int) -> Style:
    """Row lock: concurrent reports (and the sweeper) for one style apply one after the other."""
    style = db.session.scalar(select(Style).where(Style.id == style_id).with_for_update())
    if style is None:
        raise NotFound("No such style.")
    return style


def _progress(epoch: int, total: int, percent: int, seconds: int | None, run_id: str | None) -> dict[str, Any]:
    return {"current_epoch": epoch, "total_epochs": total, "progress_percent": percent,
            "estimated_seconds": seconds, "last_updated": iso(utcnow()), "run_id": run_id}


def record_training_progress(*, style_id: int, current_epoch: int = 0, total_epochs: int = 0,
                             progress_percent: int = 0, estimated_seconds: int | None = None,
                             starting: bool = False, run_id: str | None = None) -> tuple[Style, bool]:
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
        if run_id is not None and current.get("run_id") == run_id:
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
        current_app.logger.info("training started", extra={"event": "training_started", "style_id": style.id,
                                                           "attempt": style.training_attempts})
        return style, True
    if run_id is not None and current.get("run_id") not in (None, run_id):
        raise TrainingSuperseded(details={"style_id": style.id})
    if style.training_status == "pending":  # a worker that skipped the start report still counts
        style.training_attempts += 1
        style.training_status = "training"
        style.training_started_at = utcnow()
    style.progress = _progress(current_epoch, total_epochs, progress_percent, estimated_seconds,
                               run_id or current.get("run_id"))
    db.session.flush()
    return style, True


def complete_training(*, style_id: int, lora_key: str, steps: int = 0, seconds: float = 0,
                      run_id: str | None = None) -> tuple[Style, bool]:
    """The LoRA is stored: ``completed``, the artist is notified once. Repeats change nothing; a
    completion for a failed style is refused (TRAINING_FINISHED)."""
    style = _lock(style_id)
    if style.training_status == "completed":
        return style, False
    if style.training_status == "failed":
        raise TrainingFinished(details={"style_id": style.id, "training_status": style.training_status})
    if lora_key != lora_key_for(style.id):
        raise _field_error("lora_key", "lora_key is not this style's LoRA location.")
    style.training_status = "completed"
    style.lora_key = lora_key
    style.progress = None
    style.failure_reason = None
    style.training_finished_at = utcnow()
    db.session.flush()
    notify(_artist_user_id(style), "style_training_complete", target_type="style", target_id=style.id,
           dedupe_key=f"training:{style.id}:completed")
    current_app.logger.info("training completed", extra={"event": "training_completed", "style_id": style.id,
                                                         "steps": steps, "seconds": round(seconds, 1),
                                                         "attempts": style.training_attempts})
    return style, True


def report_training_failure(*, style_id: int, reason: str = "", run_id: str | None = None) -> tuple[Style, bool]:
    """The worker gave up: ``failed``, the artist is notified once. Repeats change nothing; a failure
    for a completed style, or from an older run, is refused."""
    style = _lock(style_id)
    if style.training_status == "failed":
        return style, False
    if style.training_status == "completed":
        raise TrainingFinished(details={"style_id": style.id, "training_status": style.training_status})
    current_run = (style.progress or {}).get("run_id")
    if run_id is not None and current_run not in (None, run_id):
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
    notify(_artist_user_id(style), "style_training_failed", target_type="style", target_id=style.id,
           dedupe_key=f"training:{style.id}:failed")
    current_app.logger.warning("training failed", extra={"event": "training_failed", "style_id": style.id,
                                                         "reason": style.failure_reason})


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
    training = db.session.scalars(select(Style).where(Style.training_status == "training")
                                  .order_by(Style.id).with_for_update(skip_locked=True))
    for style in training:
        if _last_sign_of_life(style) < cutoff:
            fail_training(style, f"no progress report for over {older_than} s: the training worker was lost")
            failed.append(style.id)
    pending = list(db.session.scalars(select(Style).where(Style.training_status == "pending",
                                                          Style.updated_at < cutoff)
                                      .order_by(Style.id).with_for_update(skip_locked=True)))
    if pending and queue_size(TRAINING_QUEUE) == 0:
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
