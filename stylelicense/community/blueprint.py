"""Routes of the community feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("community", __name__, url_prefix="/api")
