"""Routes of the styles feature (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from .. import cache
from ..api import PageQuery, created, endpoint, ok, paginate
from ..errors import NotFound
from . import operations
from .models import Style
from .schemas import MAX_IMAGE_BYTES, MAX_IMAGES, StyleCreateForm, StyleListQuery, StyleOut, StylePatch

bp = Blueprint("styles", __name__, url_prefix="/api/styles")


@bp.post("")
@endpoint(
    form=StyleCreateForm,
    files={"images": "array"},
    response=StyleOut,
    auth="artist",
    status=201,
    max_bytes=MAX_IMAGES * MAX_IMAGE_BYTES + 1024 * 1024,
    summary="Create my style from 10–100 images (multipart) and start its training",
)
def create_style(form: StyleCreateForm):
    style = operations.create_style(current_user, form, request.files.getlist("images"))
    return created(operations.serialize_style(style))


@bp.get("")
@endpoint(
    query=StyleListQuery,
    response=StyleOut,
    paginated=True,
    summary="Trained styles: recent (newest first) or popular (most generations), optionally by tag",
)
def list_styles(query: StyleListQuery):
    def build():
        stmt, order_by = operations.list_styles_stmt(query.sort, query.tag)
        return paginate(stmt, order_by, operations.serialize_style, query)

    return cache.respond(cache.cached_data("styles", build), personal=cache.viewer_id() is not None)


@bp.get("/me")
@endpoint(
    query=PageQuery,
    response=StyleOut,
    auth="artist",
    paginated=True,
    summary="My styles in every state, with training progress",
)
def my_styles(query: PageQuery):
    return ok(
        paginate(
            operations.my_styles_stmt(current_user),
            [Style.created_at, Style.id],
            lambda style: operations.serialize_style(style, current_user),
            query,
        )
    )


@bp.get("/<int:style_id>")
@endpoint(response=StyleOut, summary="One style (progress while training; untrained styles: owner only)")
def get_style(style_id: int):
    viewer_id = cache.viewer_id()
    try:
        # What anyone may see (NOT_FOUND for an untrained style is never cached: only answers are),
        # kept with the artist's user id so the owner is recognised without a query.
        entry = cache.cached_entry(
            "style",
            lambda: operations.serialize_style(operations.get_visible_style(style_id)),
            ids=lambda data: [data["artist"]["id"]],
        )
    except NotFound:
        if viewer_id is None or operations.artist_user_id(style_id) != viewer_id:
            raise
        entry = None  # the owner's untrained style: nothing public to show
    if entry is None or viewer_id in entry.ids:
        # The owner sees their style in every state (and more of it): never from the public cache.
        return ok(operations.serialize_style(operations.get_visible_style(style_id, current_user), current_user))
    return cache.respond(entry.body, personal=viewer_id is not None)


@bp.patch("/<int:style_id>")
@endpoint(
    body=StylePatch,
    response=StyleOut,
    auth="login",
    summary="Edit my style's title, description or price, or pause/resume it",
)
def update_style(style_id: int, body: StylePatch):
    return ok(operations.serialize_style(operations.update_style(style_id, current_user, body), current_user))
