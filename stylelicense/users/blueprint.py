"""Routes of the users feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/api/users")
