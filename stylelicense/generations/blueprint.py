"""Routes of the generations feature (routes only: parse, call operations, respond)."""

from __future__ import annotations

import json

from flask import Blueprint, current_app
from flask_login import current_user

from .. import cache
from ..api import created, endpoint, ok, paginate
from ..community.operations import liked_generation_ids
from ..extensions import limiter, rate_limit_key
from . import operations
from .models import Generation
from .schemas import FeedQuery, GenerationCreate, GenerationOut, GenerationPatch, MyGenerationsQuery

bp = Blueprint("generations", __name__, url_prefix="/api/generations")


def _viewer():
    return current_user if current_user.is_authenticated else None


def _with_likes(page: dict, viewer) -> dict:
    """``is_liked`` for the viewer, one query per page."""
    liked = liked_generation_ids(viewer.id if viewer else None, [item["id"] for item in page["results"]])
    for item in page["results"]:
        item["is_liked"] = item["id"] in liked
    return page


def _generation_limit() -> str:
    # SPEC §6: 6 generation requests per minute per user (on top of the general limit).
    return current_app.config.get("RATELIMIT_GENERATION", "6 per minute")


@bp.post("")
@limiter.limit(_generation_limit, key_func=rate_limit_key)
@endpoint(
    body=GenerationCreate,
    response=GenerationOut,
    auth="login",
    status=201,
    summary="Generate an image in a trained style (charges the style's price)",
)
def create_generation(body: GenerationCreate):
    generation = operations.create_generation(current_user, body)
    return created(operations.serialize_generation(generation, current_user))


@bp.get("/me")
@endpoint(
    query=MyGenerationsQuery,
    response=GenerationOut,
    auth="login",
    paginated=True,
    summary="My generations, newest first (every state)",
)
def my_generations(query: MyGenerationsQuery):
    page = paginate(
        operations.my_generations_stmt(current_user, query.visibility),
        [Generation.created_at, Generation.id],
        lambda g: operations.serialize_generation(g, current_user),
        query,
    )
    return ok(_with_likes(page, current_user))


@bp.get("/feed")
@endpoint(
    query=FeedQuery,
    response=GenerationOut,
    paginated=True,
    summary="Public images, newest first (of one style with style_id)",
)
def feed(query: FeedQuery):
    # The page is the same for everyone (public cache); only the viewer's hearts are added per request.
    entry = cache.cached_entry(
        "feed", lambda: operations.feed_page(query), ids=lambda page: [item["id"] for item in page["results"]]
    )
    viewer_id = cache.viewer_id()
    if viewer_id is None:
        return cache.respond(entry.body, personal=False)
    liked = liked_generation_ids(viewer_id, entry.ids)
    if not liked:  # the stored page already says is_liked: false everywhere
        return cache.respond(entry.body, personal=True)
    page = json.loads(entry.body)
    for item in page["results"]:
        item["is_liked"] = item["id"] in liked
    return cache.respond(cache.dumps(page), personal=True)


@bp.get("/<int:generation_id>")
@endpoint(response=GenerationOut, summary="One generation (the owner's, or a public one); progress while running")
def get_generation(generation_id: int):
    viewer = _viewer()
    generation = operations.get_visible_generation(generation_id, viewer)
    return ok(_with_likes({"results": [operations.serialize_generation(generation, viewer)]}, viewer)["results"][0])


@bp.patch("/<int:generation_id>")
@endpoint(
    body=GenerationPatch,
    response=GenerationOut,
    auth="login",
    summary="Make my image public or private, or edit its description",
)
def update_generation(generation_id: int, body: GenerationPatch):
    generation = operations.update_generation(generation_id, current_user, body)
    return ok(operations.serialize_generation(generation, current_user))


@bp.post("/<int:generation_id>/cancel")
@endpoint(
    response=GenerationOut,
    auth="login",
    summary="Cancel my generation while it waits in the queue (full refund); 409 GENERATION_STARTED after",
)
def cancel_generation(generation_id: int):
    generation = operations.cancel_generation(generation_id, current_user)
    return ok(operations.serialize_generation(generation, current_user))
