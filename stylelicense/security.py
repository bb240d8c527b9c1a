"""Security headers, proxy handling and Sentry (production profile)."""

from __future__ import annotations

from flask import Flask, request


def init_security(app: Flask) -> None:
    production = app.config["ENV_NAME"] == "production"
    if production:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind nginx: trust one proxy hop for client IP (rate limits) and scheme (Secure cookies).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

    @app.before_request
    def _refuse_crafted_urls():
        """Before any view: a NUL in the path or query string (PostgreSQL and the file system refuse
        it) is 400; an id in the path beyond 64 bits cannot name a row (404, not a database error)."""
        from .api import INT64_MAX, INT64_MIN
        from .errors import BadRequest, NotFound

        # (A NUL reaches the query only as %00: the arguments are decoded only when one is there.)
        if "\x00" in request.path or (
            b"%00" in request.query_string
            and any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True))
        ):
            raise BadRequest("The address contains a NUL character.")
        for value in (request.view_args or {}).values():
            if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
                raise NotFound()

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if production:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.path.startswith("/api/") and "Cache-Control" not in response.headers:
            # API answers are per user unless a route says otherwise (stylelicense/cache.py): no proxy
            # or browser may keep one and hand it to someone else.
            response.headers["Cache-Control"] = "no-store"
        return response

    if app.config.get("SENTRY_DSN"):
        try:
            import sentry_sdk
            from sentry_sdk.integrations.flask import FlaskIntegration
        except ImportError:
            app.logger.warning("SENTRY_DSN is set but sentry-sdk is not installed")  # pragma: no cover
        else:
            sentry_sdk.init(
                dsn=app.config["SENTRY_DSN"], integrations=[FlaskIntegration()], environment=app.config["ENV_NAME"]
            )
