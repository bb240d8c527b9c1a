"""Extensions, created unbound here and bound in create_app() in a fixed order."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import current_app, request, session
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from .replica import RoutingSession

# Named constraints so Alembic can generate stable names on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _session_user_id() -> str | None:
    """The signed-in user's id as Flask-Login keeps it in the session: read without loading the user
    (a database query per request just to pick a rate-limit bucket)."""
    value = session.get("_user_id")
    return value if isinstance(value, str) and value.isdigit() else None


def rate_limit_key() -> str:
    """Authenticated calls are limited per user, anonymous ones per client IP."""
    user_id = _session_user_id()
    if user_id is not None:
        return f"user:{user_id}"
    return f"ip:{request.remote_addr}"


def default_rate_limit() -> str:
    """SPEC §6: 100/min per authenticated user, 50/min per anonymous IP (evaluated per request).
    ``RATELIMIT_SIGNED_IN`` overrides the first for the browser test stack, which browses faster than people."""
    if _session_user_id() is not None:
        return current_app.config.get("RATELIMIT_SIGNED_IN", "100 per minute")
    return "50 per minute"


class PerAppLimiter(Limiter):
    """Flask-Limiter keeps one process-wide on/off switch: the last app initialised sets it, and
    route decorators consult it for every app. Several apps can share a process (tests, tools), so
    the limiter itself stays on and each app's own ``RATELIMIT_ENABLED`` is applied per request.

    The CSRF check is registered right after the limiter's own hook, so every request — a forged
    one included — is counted against its budget before anything else looks at it."""

    def init_app(self, app) -> None:
        wanted = app.config.get("RATELIMIT_ENABLED", True)
        app.config["RATELIMIT_ENABLED"] = True
        try:
            super().init_app(app)
        finally:
            app.config["RATELIMIT_ENABLED"] = wanted
        # A new app brings a new storage: forget that an earlier app's storage had gone away (the
        # in-memory fallback, RATELIMIT_IN_MEMORY_FALLBACK_ENABLED, is for the storage in use).
        self._storage_dead = False
        protect = app.extensions.get("csrf")
        # (Tests re-bind the limiter to an app that already served requests: register once.)
        if isinstance(
            protect, HeaderCSRFProtect
        ) and protect.check_after_rate_limits not in app.before_request_funcs.get(None, []):
            app.before_request(protect.check_after_rate_limits)


class HeaderCSRFProtect(CSRFProtect):
    """CSRF from the ``X-CSRFToken`` header only (what the SPA sends), checked after the rate limit.

    Flask-WTF's default hook runs before the limiter and looks for the token in the form first,
    which parses a multipart body of up to MAX_CONTENT_LENGTH for a request that may be refused."""

    def init_app(self, app) -> None:
        super().init_app(app)
        # Flask-WTF's own hook stays registered but idle; PerAppLimiter adds check_after_rate_limits.
        app.config["WTF_CSRF_CHECK_DEFAULT"] = False

    def check_after_rate_limits(self) -> None:
        # Reads (GET, HEAD, OPTIONS) carry no token: skip the exemption lookups for them.
        config = current_app.config
        if config.get("WTF_CSRF_ENABLED", True) and request.method in config["WTF_CSRF_METHODS"]:
            self.protect(apply_exemptions=True)

    def _get_csrf_token(self):
        for header_name in current_app.config["WTF_CSRF_HEADERS"]:
            token = request.headers.get(header_name)
            if token:
                return token
        return None


db = SQLAlchemy(model_class=Base, session_options={"class_": RoutingSession})
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = HeaderCSRFProtect()
oauth = OAuth()
limiter = PerAppLimiter(
    key_func=rate_limit_key,
    # One budget shared by all routes (default_limits would count each route separately);
    # routes with their own limit (login, generation) are counted here as well.
    application_limits=[default_rate_limit],
)


@limiter.request_filter
def _rate_limits_off() -> bool:
    return not current_app.config.get("RATELIMIT_ENABLED", True)
