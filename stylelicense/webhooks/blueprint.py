"""Routes of the webhooks feature (routes only: parse, call operations, respond)."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")
