"""Where a generation's files live (SPEC §13, private images).

A public image's files are in the public location; a private image's files are in the private
location and reach only their owner, through signed URLs that expire (local ``/media/private/…``
with an HMAC signature, or S3 presigned URLs), never cached by a shared cache. Changing visibility
moves the files to new random keys and removes the old objects after the commit, so every URL handed
out before — a remembered public URL, the output keys in the job payload Flower shows — stops
working.
"""

from __future__ import annotations

import secrets
import time

from flask import after_this_request, current_app, has_request_context

from ..storage import ObjectNotFound, get_storage
from .models import Generation

# Long enough for a page to load its pictures, short enough that a leaked link soon dies. Expiry is
# rounded to a window, so the same image keeps the same URL for a while (the browser's cache works).
PRIVATE_URL_SECONDS = 600
PRIVATE_URL_WINDOW = 300
_CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


def file_url(generation: Generation, key: str | None) -> str | None:
    """The URL of one of ``generation``'s files: public, or signed and expiring while it is private.
    Only call this for a viewer allowed to see the generation."""
    if not key:
        return None
    storage = get_storage()
    if generation.is_public:
        return storage.public_url(key)
    expires_at = (int(time.time()) // PRIVATE_URL_WINDOW) * PRIVATE_URL_WINDOW + PRIVATE_URL_SECONDS
    return storage.private_url(key, expires_at=expires_at)


def _new_key(generation: Generation, old_key: str, stem: str, old_stem: str) -> str:
    """The same file name after the random stem ("-thumb.webp", "-display.webp", ".png")."""
    name = old_key.rsplit("/", 1)[-1]
    if old_stem and name.startswith(old_stem):
        suffix = name[len(old_stem) :]
    else:
        suffix = "." + (name.rsplit(".", 1)[-1] if "." in name else "bin")
    return f"generations/{generation.id}/{stem}{suffix}"


def relocate_files(generation: Generation, *, from_public: bool, to_public: bool) -> None:
    """Copy the generation's files to the ``to_public`` location under new random keys and point the
    row at them; the old objects are removed once the request has committed."""
    storage = get_storage()
    stem = secrets.token_urlsafe(12)
    old_stem = (generation.result_key or "").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    old: list[tuple[str, bool]] = []
    new: list[tuple[str, bool]] = []
    for attribute in ("result_key", "thumbnail_key", "display_key"):
        key = getattr(generation, attribute, None)
        if not key:
            continue
        new_key = _new_key(generation, key, stem, old_stem)
        try:
            data = storage.get(key, public=from_public)
        except ObjectNotFound:  # nothing to move (lost earlier); the visibility still changes
            current_app.logger.warning("a generation's file is missing", extra={"key": key})
            continue
        storage.put(new_key, data, public=to_public, content_type=_CONTENT_TYPES.get(new_key.rsplit(".", 1)[-1]))
        setattr(generation, attribute, new_key)
        old.append((key, from_public))
        new.append((new_key, to_public))
    _delete_after_commit(old)
    _delete_after_commit(new, failed=True)


def set_visibility(generation: Generation, is_public: bool) -> None:
    """Make a generation public or private, moving a finished image's files with it."""
    if generation.is_public == is_public:
        return
    if generation.status == "completed" and generation.result_key:
        relocate_files(generation, from_public=generation.is_public, to_public=is_public)
    generation.is_public = is_public


def _delete_after_commit(objects: list[tuple[str, bool]], *, failed: bool = False) -> None:
    """Remove objects once the request's commit succeeded (a rolled-back request keeps its files); with
    ``failed``, once it did not (the new copies of a request that rolled back, e.g. the database was cut:
    the retried request copies again)."""
    if not objects or (failed and not has_request_context()):
        return

    def remove() -> None:
        storage = get_storage()
        for key, public in objects:
            try:
                storage.delete(key, public=public)
            except Exception as error:  # an orphan at worst; the row points at the new copy
                current_app.logger.warning(
                    "could not remove a moved object", extra={"key": key, "error": repr(error)[:200]}
                )

    if not has_request_context():
        remove()
        return

    @after_this_request
    def _remove(response):
        # 5xx: the request rolled back (nothing commits after the error); a 4xx may have committed.
        if (response.status_code >= 500) if failed else (response.status_code < 400):
            remove()
        return response
