"""Routes of the users feature (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint, after_this_request, current_app, request
from flask_login import current_user

from .. import cache
from ..api import endpoint, ok
from ..auth.operations import end_session, serialize_me
from ..auth.schemas import MeOut
from . import operations
from .schemas import AccountDeletedOut, ProfileUpdate, PublicProfileOut, UpgradeToArtistForm

bp = Blueprint("users", __name__, url_prefix="/api/users")


def _remove_after_commit(objects: list[operations.StoredObject]) -> None:
    """Storage cleanup runs once the response is built, i.e. after @endpoint committed."""
    if not objects:
        return

    @after_this_request
    def _remove(response):
        if response.status_code < 400:
            operations.remove_objects(objects, current_app.logger)
        return response


def _file(name: str):
    """An uploaded file, or None (a browser form with no file chosen sends an unnamed, empty part)."""
    file = request.files.get(name)
    return file if file is not None and file.filename else None


@bp.get("/<int:user_id>")
@endpoint(response=PublicProfileOut, summary="A public profile with stats (deactivated accounts are hidden)")
def get_profile(user_id: int):
    data = cache.cached_data("profile", lambda: operations.get_public_profile(user_id))
    return cache.respond(data, personal=cache.viewer_id() is not None)


@bp.patch("/me")
@endpoint(
    body=ProfileUpdate,
    form=ProfileUpdate,
    files={"profile_image": "binary"},
    response=MeOut,
    auth="login",
    max_bytes=operations.UPLOAD_BODY_MAX_BYTES,
    summary="Edit username, bio and profile image (JSON, or multipart with profile_image)",
)
def update_me(body: ProfileUpdate | None, form: ProfileUpdate | None):
    changes = body or form
    image = _file("profile_image") if form is not None else None
    removed = operations.update_profile(
        current_user,
        username=changes.username,
        bio=changes.bio,
        profile_image=image,
        remove_profile_image=changes.remove_profile_image,
    )
    _remove_after_commit(removed)
    return ok(serialize_me(current_user))


@bp.post("/me/upgrade-to-artist")
@endpoint(
    form=UpgradeToArtistForm,
    files={"signature_image": "binary"},
    response=MeOut,
    auth="login",
    max_bytes=operations.UPLOAD_BODY_MAX_BYTES,
    summary="Become an artist (artist name, contact e-mail, signature image stored privately)",
)
def upgrade_to_artist(form: UpgradeToArtistForm):
    operations.upgrade_to_artist(
        current_user,
        artist_name=form.artist_name,
        contact_email=form.contact_email,
        signature_image=_file("signature_image"),
    )
    return ok(serialize_me(current_user))


@bp.delete("/me")
@endpoint(
    response=AccountDeletedOut,
    auth="login",
    summary="Leave: deleted with your data, or deactivated if you are an artist whose style was used",
)
def delete_me():
    result, objects = operations.delete_account(current_user._get_current_object())
    end_session()
    _remove_after_commit(objects)
    return ok({"result": result})
