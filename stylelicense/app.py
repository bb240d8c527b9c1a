"""The Flask application factory (it only wires things together): `from stylelicense.app import create_app`."""

from __future__ import annotations

import os

from flask import Flask

from .config import load_config


def create_app(env: dict[str, str] | None = None, **overrides) -> Flask:
    """Build the app from the environment (or ``env``), then apply ``overrides`` (tests)."""
    app = Flask(
        "stylelicense",
        instance_path=os.environ.get("STYLELICENSE_INSTANCE")
        or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "instance"),
    )
    app.config.update(load_config(app.instance_path, env))
    app.config.update(overrides)

    from .logs import configure_logging

    configure_logging(app)
    _init_extensions(app)
    _register_blueprints(app)

    from .errors import register_error_handlers

    register_error_handlers(app)

    from .security import init_security

    init_security(app)

    from .cache import init_cache

    init_cache(app)

    from .cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from .auth.google import register_google
    from .extensions import csrf, db, limiter, login_manager, migrate, oauth

    import_all_models()
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    oauth.init_app(app)
    register_google(app)

    from .auth.operations import extend_session_daily, load_session_user

    login_manager.user_loader(load_session_user)
    app.before_request(extend_session_daily)

    @login_manager.unauthorized_handler
    def _unauthorized():
        from .errors import Unauthorized

        raise Unauthorized()

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from sqlalchemy import event

        with app.app_context():

            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):
                # SQLite ignores foreign keys (and so ON DELETE rules) unless asked.
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.close()


def _register_blueprints(app: Flask) -> None:
    from . import health, openapi, web
    from .artists.blueprint import bp as artists_bp
    from .auth.blueprint import bp as auth_bp
    from .community.blueprint import bp as community_bp
    from .extensions import csrf, limiter
    from .generations.blueprint import bp as generations_bp
    from .notifications.blueprint import bp as notifications_bp
    from .provenance.blueprint import bp as provenance_bp
    from .search.blueprint import bp as search_bp
    from .styles.blueprint import bp as styles_bp
    from .tokens.blueprint import bp as tokens_bp
    from .users.blueprint import bp as users_bp
    from .webhooks import inference, toss, training  # noqa: F401 — their routes register on webhooks_bp
    from .webhooks.blueprint import bp as webhooks_bp

    # Internal webhooks authenticate with a bearer token: no session, no CSRF, no rate limit.
    csrf.exempt(webhooks_bp)
    limiter.exempt(webhooks_bp)
    # The SPA's files, /media and the API docs are not API calls: a feed page loads dozens of images.
    limiter.exempt(web.bp)
    limiter.exempt(openapi.bp)
    for blueprint in (
        health.bp,
        openapi.bp,
        auth_bp,
        users_bp,
        tokens_bp,
        styles_bp,
        generations_bp,
        community_bp,
        notifications_bp,
        search_bp,
        provenance_bp,
        artists_bp,
        webhooks_bp,
        web.bp,
    ):
        app.register_blueprint(blueprint)


def import_all_models() -> None:
    """Import every feature's models so the metadata is complete (migrations, tests)."""
    from .community import models as _community  # noqa: F401
    from .generations import models as _generations  # noqa: F401
    from .notifications import models as _notifications  # noqa: F401
    from .provenance import models as _provenance  # noqa: F401
    from .queueing import models as _queueing  # noqa: F401
    from .styles import models as _styles  # noqa: F401
    from .tags import models as _tags  # noqa: F401
    from .tokens import models as _tokens  # noqa: F401
    from .users import models as _users  # noqa: F401
