"""Routes of the search feature (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint

from .. import cache
from ..api import endpoint
from . import operations
from .schemas import SearchOut, SearchQuery

bp = Blueprint("search", __name__, url_prefix="/api/search")


@bp.get("")
@endpoint(
    query=SearchQuery,
    response=SearchOut,
    summary="Search styles (by tag or title) and artists (by artist name or username), best match first",
)
def search(query: SearchQuery):
    data = cache.cached_data("search", lambda: operations.search(query.q, query.type, query.limit))
    return cache.respond(data, personal=cache.viewer_id() is not None)
