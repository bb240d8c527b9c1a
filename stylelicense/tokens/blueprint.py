"""Routes of the tokens feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("tokens", __name__, url_prefix="/api/tokens")
