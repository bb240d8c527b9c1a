"""Account rules: public profiles, profile edits, becoming an artist, leaving (SPEC §4.1).

Operations flush, never commit (the request commits). Files are written to storage before the
commit; objects that become unreferenced are returned to the caller, which removes them only after
the commit succeeded (a rolled-back request must not lose a file its rows still point to).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from io import BytesIO

from PIL import Image
from sqlalchemy import and_, delete, exists, func, or_, select, update

from ..api import iso
from ..community.models import Comment, Follow, Like
from ..errors import Conflict, NotFound, ValidationError
from ..extensions import db
from ..generations.models import Generation
from ..images import MAX_PROFILE_IMAGE_PIXELS, MAX_SIGNATURE_PIXELS, CheckedImage, check_image, read_upload
from ..models import utcnow
from ..notifications.models import Notification
from ..storage import get_storage
from ..styles.models import Artwork, Style
from .models import Artist, User

IMAGE_MAX_BYTES = 5 * 1024 * 1024
# The whole multipart body of a profile or signature upload: one image plus a few short fields. Room
# above the image cap, so a slightly large image still gets the precise IMAGE_SIZE_EXCEEDED answer.
UPLOAD_BODY_MAX_BYTES = 2 * IMAGE_MAX_BYTES
PROFILE_IMAGE_MAX_SIDE = 512
SIGNATURE_MIN_SIDE = 32
SIGNATURE_MAX_SIDE = 1024


@dataclass(frozen=True)
class StoredObject:
    """A storage object; ``public`` None means "whichever location holds it"."""

    key: str
    public: bool | None


# --- public profile ----------------------------------------------------------------------------


def get_public_profile(user_id: int) -> dict:
    """The public view of an account with its stats; deactivated accounts are hidden (NOT_FOUND)."""
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise NotFound("No such user.")
    # Counters read, not counted: likes received are the sum of the images' like_count (kept in step
    # with the likes), one aggregate over the user's generations (index on user_id, created_at).
    public_generations, likes_received = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Generation.like_count), 0)).where(
            Generation.user_id == user.id, Generation.is_public.is_(True), Generation.status == "completed"
        )
    ).one()
    storage = get_storage()
    artist = None
    if user.artist is not None:
        style = db.session.scalar(
            select(Style)
            .where(Style.artist_id == user.artist.id, Style.training_status == "completed")
            .order_by(Style.id.desc())
            .limit(1)
        )
        artist = {
            "id": user.artist.id,
            "artist_name": user.artist.artist_name,
            "follower_count": user.artist.follower_count,
            "style": None
            if style is None
            else {
                "id": style.id,
                "title": style.title,
                "thumbnail_url": storage.public_url(style.thumbnail_key) if style.thumbnail_key else None,
                "generation_cost_tokens": style.generation_cost_tokens,
                "generations_count": style.generation_count,
            },
        }
    return {
        "id": user.id,
        "username": user.username,
        "bio": user.bio,
        "profile_image_url": storage.public_url(user.profile_image_key) if user.profile_image_key else None,
        "role": user.role,
        "created_at": iso(user.created_at),
        "stats": {"public_generations": public_generations, "likes_received": likes_received},
        "artist": artist,
    }


# --- profile edits -----------------------------------------------------------------------------


def _username_taken(username: str, exclude_id: int) -> bool:
    return (
        db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower(), User.id != exclude_id))
        is not None
    )


def _checked_upload(file_storage, *, field: str, max_pixels: int, min_side: int = 0) -> CheckedImage:
    data = read_upload(file_storage, max_bytes=IMAGE_MAX_BYTES, field=field)
    return check_image(data, field=field, filename=file_storage.filename, min_side=min_side, max_pixels=max_pixels)


def _fit(checked: CheckedImage, max_side: int) -> CheckedImage:
    """Shrink so the longer side is at most ``max_side`` (never enlarge)."""
    image = checked.image.copy()
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return CheckedImage(image=image, format=checked.format, width=image.width, height=image.height)


def _encode(checked: CheckedImage) -> tuple[bytes, str, str]:
    """PNG when the image has transparency (kept), JPEG otherwise → (bytes, extension, type)."""
    if checked.image.mode == "RGBA":
        buffer = BytesIO()
        checked.image.save(buffer, "PNG", optimize=True)
        return buffer.getvalue(), "png", "image/png"
    return checked.encode("JPEG", quality=90), "jpg", "image/jpeg"


def update_profile(
    user: User,
    *,
    username: str | None = None,
    bio: str | None = None,
    profile_image=None,
    remove_profile_image: bool = False,
) -> list[StoredObject]:
    """Change username (unique, case-insensitively), bio and/or profile image. The image is checked
    by content (JPG/PNG, ≤ 5 MB), shrunk to 512 px and stored publicly under a random key.
    Returns the objects no longer referenced (the old picture)."""
    if username is not None and username != user.username:
        if _username_taken(username, user.id):
            raise Conflict("This username is taken.", details={"fields": [{"field": "username", "message": "taken"}]})
    image_bytes = None
    if profile_image is not None:
        checked = _checked_upload(profile_image, field="profile_image", max_pixels=MAX_PROFILE_IMAGE_PIXELS)
        image_bytes, extension, content_type = _encode(_fit(checked, PROFILE_IMAGE_MAX_SIDE))
    # Everything is valid: now change things.
    if username is not None:
        user.username = username
    if bio is not None:
        user.bio = bio
    unreferenced: list[StoredObject] = []
    if (image_bytes is not None or remove_profile_image) and user.profile_image_key:
        unreferenced.append(StoredObject(user.profile_image_key, True))
        user.profile_image_key = None
    if image_bytes is not None:
        key = f"profiles/{user.id}/{secrets.token_hex(16)}.{extension}"
        get_storage().put(key, image_bytes, public=True, content_type=content_type)
        user.profile_image_key = key
    db.session.flush()
    return unreferenced


def upgrade_to_artist(user: User, *, artist_name: str, contact_email: str, signature_image) -> Artist:
    """Make ``user`` an artist. The signature (JPG/PNG ≤ 5 MB, sides ≥ 32 px) keeps its transparency,
    is shrunk to 1024 px at most and stored privately: only the output stage of the workers reads it."""
    if user.artist is not None:
        raise Conflict("You are already an artist.")
    if signature_image is None:
        raise ValidationError(details={"fields": [{"field": "signature_image", "message": "Field required"}]})
    checked = _fit(
        _checked_upload(
            signature_image, field="signature_image", min_side=SIGNATURE_MIN_SIDE, max_pixels=MAX_SIGNATURE_PIXELS
        ),
        SIGNATURE_MAX_SIDE,
    )
    data, extension, content_type = _encode(checked)
    key = f"signatures/{user.id}/{secrets.token_hex(16)}.{extension}"
    get_storage().put(key, data, public=False, content_type=content_type)
    artist = Artist(
        user_id=user.id, artist_name=artist_name, contact_email=str(contact_email).lower(), signature_image_key=key
    )
    db.session.add(artist)
    user.role = "artist"
    user.artist = artist
    db.session.flush()
    return artist


# --- leaving -----------------------------------------------------------------------------------


def style_was_used(artist: Artist) -> bool:
    """Whether any generation (any status, anyone's) used one of the artist's styles."""
    return bool(
        db.session.scalar(
            select(exists().where(Generation.style_id.in_(select(Style.id).where(Style.artist_id == artist.id))))
        )
    )


def deactivate_user(user: User) -> None:
    """Block login, end every session and hide the profile; styles, generations and the ledger stay
    (copyright tracing)."""
    from ..auth.operations import revoke_sessions
    from ..generations.generation_status import fail_unavailable_jobs

    user.is_active = False
    user.deactivated_at = utcnow()
    db.session.flush()
    revoke_sessions(user)
    if user.artist is not None:
        # Jobs bought before the artist left are refunded now (the worker's next report stops them).
        fail_unavailable_jobs(user.artist.id)


def delete_account(user: User) -> tuple[str, list[StoredObject]]:
    """SPEC §4.1: a plain user, or an artist whose style was never used, is deleted with their data;
    an artist whose style was used is deactivated instead. Returns ``("deleted" | "deactivated",
    objects to remove from storage once committed)``."""
    artist = user.artist
    if artist is not None and style_was_used(artist):
        deactivate_user(user)
        return "deactivated", []

    style_ids = list(db.session.scalars(select(Style.id).where(Style.artist_id == artist.id))) if artist else []
    generation_ids = list(db.session.scalars(select(Generation.id).where(Generation.user_id == user.id)))
    comment_ids = list(db.session.scalars(select(Comment.id).where(Comment.author_id == user.id)))
    objects = _objects_of(user, artist, style_ids)
    # Counters kept on other people's rows that this account's likes, comments and follows fed.
    touched_generations = set(db.session.scalars(select(Like.generation_id).where(Like.user_id == user.id)))
    touched_generations |= set(db.session.scalars(select(Comment.generation_id).where(Comment.author_id == user.id)))
    touched_generations -= set(generation_ids)
    followed_users = list(db.session.scalars(select(Follow.following_id).where(Follow.follower_id == user.id)))

    targets = [and_(Notification.target_type == "user", Notification.target_id == user.id)]
    for target_type, ids in (("style", style_ids), ("generation", generation_ids), ("comment", comment_ids)):
        if ids:
            targets.append(and_(Notification.target_type == target_type, Notification.target_id.in_(ids)))
    db.session.execute(delete(Notification).where(or_(*targets)))
    if style_ids:
        # styles → artists is RESTRICT: an unused style goes explicitly, with its artworks.
        db.session.execute(delete(Artwork).where(Artwork.style_id.in_(style_ids)))
        db.session.execute(delete(Style).where(Style.id.in_(style_ids)))
    # The database cascades the rest: artist row, generations, likes, comments, follows,
    # notifications received, transactions; purchases keep their row with user_id NULL.
    db.session.execute(delete(User).where(User.id == user.id), execution_options={"synchronize_session": False})
    if artist is not None:
        db.session.expunge(artist)
    db.session.expunge(user)
    _recount(touched_generations, followed_users)
    db.session.flush()
    return "deleted", objects


def _objects_of(user: User, artist: Artist | None, style_ids: list[int]) -> list[StoredObject]:
    objects: list[StoredObject] = []
    if user.profile_image_key:
        objects.append(StoredObject(user.profile_image_key, True))
    if artist is not None and artist.signature_image_key:
        objects.append(StoredObject(artist.signature_image_key, False))
    if style_ids:
        for lora_key, thumbnail_key in db.session.execute(
            select(Style.lora_key, Style.thumbnail_key).where(Style.id.in_(style_ids))
        ):
            objects += [StoredObject(k, None) for k in (lora_key, thumbnail_key) if k]
        for image_key, training_key in db.session.execute(
            select(Artwork.image_key, Artwork.training_key).where(Artwork.style_id.in_(style_ids))
        ):
            objects += [StoredObject(k, False) for k in (image_key, training_key) if k]
    for result_key, thumbnail_key in db.session.execute(
        select(Generation.result_key, Generation.thumbnail_key).where(Generation.user_id == user.id)
    ):
        objects += [StoredObject(k, None) for k in (result_key, thumbnail_key) if k]
    return objects


def _recount(generation_ids: set[int], followed_user_ids: list[int]) -> None:
    """Recompute counters from the rows that remain (cheaper to reason about than decrements)."""
    if generation_ids:
        likes = select(func.count()).select_from(Like).where(Like.generation_id == Generation.id).scalar_subquery()
        comments = (
            select(func.count())
            .select_from(Comment)
            .where(Comment.generation_id == Generation.id, Comment.is_deleted.is_(False))
            .scalar_subquery()
        )
        db.session.execute(
            update(Generation)
            .where(Generation.id.in_(generation_ids))
            .values(like_count=likes, comment_count=comments),
            execution_options={"synchronize_session": False},
        )
    if followed_user_ids:
        followers = (
            select(func.count()).select_from(Follow).where(Follow.following_id == Artist.user_id).scalar_subquery()
        )
        db.session.execute(
            update(Artist).where(Artist.user_id.in_(followed_user_ids)).values(follower_count=followers),
            execution_options={"synchronize_session": False},
        )


def remove_objects(objects: list[StoredObject], logger=None) -> None:
    """Best-effort removal from storage (after the commit); a failure only leaves an orphan."""
    storage = get_storage()
    for item in objects:
        for public in (True, False) if item.public is None else (item.public,):
            try:
                storage.delete(item.key, public=public)
            except Exception as error:  # storage hiccup: the rows are already gone
                if logger is not None:
                    logger.warning(
                        "could not remove a stored object", extra={"key": item.key, "error": repr(error)[:200]}
                    )
