"""Authentication of the internal webhooks that GPU workers call (SPEC §6)."""

from __future__ import annotations

import functools
import hmac

from flask import current_app, request

from ..errors import Forbidden, Unauthorized

SOURCES = ("training-server", "inference-server")


def internal_webhook(*sources: str):
    """Require ``Authorization: Bearer <INTERNAL_API_TOKEN>`` (constant-time compare), an
    ``X-Request-Source`` among ``sources``, and, when configured, a client IP in the allow-list."""

    allowed = sources or SOURCES

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            expected = current_app.config["INTERNAL_API_TOKEN"]
            if not token or not hmac.compare_digest(token.encode(), expected.encode()):
                raise Unauthorized("Invalid internal API token.")
            if request.headers.get("X-Request-Source") not in allowed:
                raise Forbidden("Unknown request source.")
            allow_list = current_app.config["INTERNAL_IP_ALLOWLIST"]
            if allow_list and request.remote_addr not in allow_list:
                raise Forbidden("This address may not call internal webhooks.")
            return view(*args, **kwargs)

        return wrapper

    return decorator
