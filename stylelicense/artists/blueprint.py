"""Routes of the artist's own views (routes only: parse, call operations, respond)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..api import endpoint, ok
from . import operations
from .schemas import DashboardOut, DashboardQuery

bp = Blueprint("artists", __name__, url_prefix="/api/artists")


@bp.get("/me/dashboard")
@endpoint(
    query=DashboardQuery,
    response=DashboardOut,
    auth="artist",
    summary="My earnings per day and per style, and the licences recently sold",
)
def my_dashboard(query: DashboardQuery):
    return ok(operations.artist_dashboard(current_user, query.days))
