"""Routes of the generations feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("generations", __name__, url_prefix="/api/generations")
