"""Google sign-in through Authlib (OIDC with state, nonce and PKCE S256)."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

_EXTENSION = "stylelicense.google"


def register_google(app: Flask) -> None:
    """Register the Google client when configured. ``GOOGLE_METADATA_URL`` lets tests point it at a
    loopback OIDC provider; production uses Google's discovery document.

    Each app gets its own Authlib registry: a registry caches one client per name (with its
    discovery document and keys), so a process-wide one would hand every app the first app's
    client."""
    if not app.config["GOOGLE_CLIENT_ID"]:
        return
    registry = OAuth(app)
    registry.register(
        "google",
        client_id=app.config["GOOGLE_CLIENT_ID"],
        client_secret=app.config["GOOGLE_CLIENT_SECRET"],
        server_metadata_url=app.config["GOOGLE_METADATA_URL"],
        # default_timeout: a slow provider must not hang a login request.
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256", "default_timeout": 10},
    )
    app.extensions[_EXTENSION] = registry.create_client("google")


def google_client():
    """The current app's Google client, or None when Google sign-in is not configured."""
    return current_app.extensions.get(_EXTENSION)
