"""Routes of the search feature (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..api import endpoint, ok
from . import operations
from .schemas import SearchHitOut, SearchQuery

bp = Blueprint("search", __name__, url_prefix="/api/search")


@bp.get("")
@endpoint(query=SearchQuery, response=SearchHitOut, paginated=True,
          summary="Search styles (by tag or title) and artists (by artist name or username), best match first")
def search(query: SearchQuery):
    return ok(operations.search(query.q, query.type, query, current_user._get_current_object()))
