"""Routes of the notifications feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/api/notifications")
