"""Internal webhooks (/api/webhooks/*): GPU workers and Toss call these, never browsers.

Routes live in one module per caller (inference, toss, training); each imports ``bp`` from here and
the app factory imports them (so this module imports none of them: no circle).
"""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")
