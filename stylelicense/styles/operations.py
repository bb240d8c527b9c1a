"""Style rules: creation from uploads, visibility, editing. The uploads' checks live in ``uploads.py``;
the training state machine (worker webhooks) and the sweeper in ``training_status.py``. Operations flush,
never commit.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import unicodedata
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import joinedload, selectinload

from ..cards import style_card
from ..errors import Forbidden, NotFound, StyleLimitReached
from ..extensions import db
from ..jobs.client import enqueue_after_commit
from ..jobs.payloads import TRAIN_STYLE, TrainStylePayload
from ..queueing.operations import style_queue
from ..storage import get_storage
from ..tags.models import Tag
from ..tags.operations import MAX_TAG_LENGTH, get_or_create_tags, normalize_tags
from ..text import clean_description, clean_title, plain_text
from ..users.models import Artist, User
from . import safeguards, showcase
from .models import Artwork, Style
from .schemas import MAX_DESCRIPTION, MAX_TITLE, StyleCreateForm, StylePatch
from .uploads import check_counts, prepare_images

LORA_FILE = "pytorch_lora_weights.safetensors"
_PROGRESS_FIELDS = ("current_epoch", "total_epochs", "progress_percent", "estimated_seconds", "last_updated")
_NOT_TAG_CHARS = re.compile(r"[^a-z0-9 \-]+")


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
        cut = text[: MAX_TAG_LENGTH + 1]
        text = (cut.rsplit(" ", 1)[0] if " " in cut else text[:MAX_TAG_LENGTH]).strip(" -")
    if not text:
        return None
    return normalize_tags([text], field="title")[0]


def clean_trigger(raw: str | None) -> str | None:
    """The optional English tag of a style (``trigger``): one valid tag, or None when left empty."""
    tags = normalize_tags([plain_text(raw or "")], field="trigger")
    return tags[0] if tags else None


def lora_trigger(style: Style) -> str:
    """The one trigger rule: the words the LoRA is trained (and prompted) with — the style's tag, or, for
    a style with no English tag, a made-up token unique to the style, so the LoRA still has a word to
    attach to. Training and generation both use this."""
    return style.trigger or title_tag(style.title) or f"sls{style.id}"


# --- creation ----------------------------------------------------------------------------------


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
        db.session.execute(
            update(Tag)
            .where(Tag.id.in_(ids))
            .values(usage_count=Tag.usage_count + n)
            .execution_options(synchronize_session=False)
        )


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
    title = clean_title(form.title, max_length=MAX_TITLE)
    trigger = clean_trigger(form.trigger) or title_tag(title)  # the style's tag; None: no tag
    description = clean_description(form.description, max_length=MAX_DESCRIPTION)
    image_tags = check_counts(files, form)
    _ensure_no_style(artist.id)  # fail fast, before the expensive image work

    storage = get_storage()
    with tempfile.TemporaryDirectory(prefix="style-upload-") as scratch:
        prepared, thumbnail = prepare_images(files, image_tags, Path(scratch))
        for index, item in enumerate(prepared):
            safeguards.check_not_registered(item.fingerprint, index, artist.id)

        # Two concurrent requests of one artist: the row lock makes the second wait and then see the first.
        db.session.execute(select(Artist.id).where(Artist.id == artist.id).with_for_update())
        _ensure_no_style(artist.id)

        style = Style(
            artist_id=artist.id,
            title=title,
            trigger=trigger,
            description=description,
            generation_cost_tokens=form.generation_cost_tokens,
            training_status="pending",
            training_attempts=0,
        )
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
            artwork = Artwork(
                style_id=style.id,
                image_key=f"{prefix}/originals/{token}.{item.original_ext}",
                training_key=f"{prefix}/training/{token}.jpg",
                width=item.width,
                height=item.height,
                is_valid=True,
                tags=artwork_tags,
            )
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
    current_app.logger.info(
        "style created",
        extra={"event": "style_created", "style_id": style.id, "artist_id": artist.id, "images": len(artworks)},
    )
    return style


def _delete_quietly(storage, stored: list[tuple[str, bool]]) -> None:
    for key, public in stored:
        try:
            storage.delete(key, public=public)
        except Exception:  # best effort: the original error is what the client must see
            current_app.logger.warning("could not delete a stored upload", extra={"key": key})


def training_payload(style: Style, artworks: list[Artwork] | None = None) -> TrainStylePayload:
    """The training job: the private 512-px copies with their own tags (the trigger prefixes every
    caption), where to put the LoRA, the step override tests use (``TRAINING_MAX_STEPS``), and what the
    preview samples are signed with (artist, title, signature, licence terms)."""
    artworks = artworks if artworks is not None else [a for a in style.artworks if a.is_valid]
    trigger = lora_trigger(style)
    images = [{"key": a.training_key, "tags": [t.name for t in a.tags if t.name != trigger]} for a in artworks]
    from ..provenance.operations import licence_url  # provenance imports styles: import when used
    from ..provenance.terms import CURRENT_TERMS_VERSION

    artist = style.artist
    return TrainStylePayload(
        style_id=style.id,
        trigger=trigger,
        images=images,
        lora_key=lora_key_for(style.id),
        max_steps=current_app.config.get("TRAINING_MAX_STEPS"),
        artist_name=artist.artist_name,
        style_title=style.title,
        signature_key=artist.signature_image_key or None,
        licence_url=licence_url(),
        terms_version=CURRENT_TERMS_VERSION,
    )


# --- reading -----------------------------------------------------------------------------------


def _with_relations(stmt: Select) -> Select:
    # Tags (a collection) in a second statement; artist and user joined into the first.
    return stmt.options(selectinload(Style.tags), joinedload(Style.artist).joinedload(Artist.user))


def _is_owner(style: Style, viewer: Any) -> bool:
    artist = getattr(viewer, "artist", None) if getattr(viewer, "is_authenticated", False) else None
    return artist is not None and artist.id == style.artist_id


def artist_user_id(style_id: int) -> int | None:
    """The user id of the style's artist (None for an unknown style); one indexed query."""
    return db.session.scalar(
        select(Artist.user_id).join(Style, Style.artist_id == Artist.id).where(Style.id == style_id)
    )


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
    stmt = _with_relations(
        select(Style)
        .join(Artist, Artist.id == Style.artist_id)
        .join(User, User.id == Artist.user_id)
        .where(Style.training_status == "completed", Style.is_paused.is_(False), User.is_active.is_(True))
    )
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
    """SPEC §6.1 style shape (the listing card, :func:`cards.style_card`, plus): ``progress`` only while
    training, the queue place, SPEC §13 ``samples`` and, for the owner, ``training_report``."""
    progress = None
    if style.training_status == "training" and style.progress:
        progress = {name: style.progress.get(name) for name in _PROGRESS_FIELDS}
    return {
        **style_card(style, style.artist, [tag.name for tag in style.tags if tag.is_active]),
        "artist": {"id": style.artist.user_id, "artist_name": style.artist.artist_name},  # SPEC §6.1 exactly
        "progress": progress,
        "queue": style_queue(style),
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
        style.title = clean_title(patch.title, max_length=MAX_TITLE)
        name = title_tag(style.title)
        if name and name not in {tag.name for tag in style.tags}:
            tag = get_or_create_tags([name])[0]
            style.tags.append(tag)
            db.session.flush()
            _bump_usage(Counter({tag.id: 1}))
    if patch.description is not None:
        style.description = clean_description(patch.description, max_length=MAX_DESCRIPTION)
    if patch.generation_cost_tokens is not None:
        style.generation_cost_tokens = patch.generation_cost_tokens
    if patch.is_paused is not None and patch.is_paused != style.is_paused:
        style.is_paused = patch.is_paused
        current_app.logger.info(
            "style paused" if patch.is_paused else "style resumed",
            extra={"event": "style_paused" if patch.is_paused else "style_resumed", "style_id": style.id},
        )
    db.session.flush()
    return style
