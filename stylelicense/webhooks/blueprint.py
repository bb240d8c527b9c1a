"""Internal webhooks (/api/webhooks/*): GPU workers and Toss call these, never browsers.

Routes live in one module per caller; each imports ``bp`` from here.
"""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

from . import inference, toss, training  # noqa: E402,F401  (register routes on bp)
