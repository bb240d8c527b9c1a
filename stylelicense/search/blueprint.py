"""Routes of the search feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("search", __name__, url_prefix="/api/search")
