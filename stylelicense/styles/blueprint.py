"""Routes of the styles feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("styles", __name__, url_prefix="/api/styles")
