"""Google sign-in through Authlib (OIDC with state, nonce and PKCE S256)."""

from __future__ import annotations

from flask import Flask

from ..extensions import oauth


def register_google(app: Flask) -> None:
    """Register the Google client when configured. ``GOOGLE_METADATA_URL`` lets tests point it at a
    loopback OIDC provider; production uses Google's discovery document."""
    if not app.config["GOOGLE_CLIENT_ID"]:
        return
    oauth.register(
        "google",
        client_id=app.config["GOOGLE_CLIENT_ID"],
        client_secret=app.config["GOOGLE_CLIENT_SECRET"],
        server_metadata_url=app.config["GOOGLE_METADATA_URL"],
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256"},
        overwrite=True,
    )
