"""Sign-in routes: Google OIDC, development login, session, CSRF token."""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from joserfc.errors import JoseError
from sqlalchemy.exc import IntegrityError

from ..api import endpoint, ok
from ..errors import APIError, NotFound
from ..extensions import db, limiter
from . import operations
from .google import google_client
from .schemas import CsrfOut, DevLoginBody, MeOut

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

# What a refused Google callback raises with Authlib 1.9: OAuthError (provider error such as
# access_denied, token endpoint error) and its MismatchingStateError subclass (forged or replayed
# state) are AuthlibBaseErrors; ID-token checks (signature, nonce, iss, aud, exp, at_hash) raise
# joserfc errors; an unreachable provider raises requests' errors.
_REFUSED = (AuthlibBaseError, JoseError, requests.RequestException, KeyError, ValueError)


def _login_limit() -> str:
    return current_app.config.get("RATELIMIT_LOGIN", "5 per 5 minutes")


def _ip() -> str:
    return f"login-ip:{request.remote_addr}"


def _to_login_page(code: str):
    """Login is a full-page navigation: failures go back to the SPA's login page with a code."""
    return redirect("/login?" + urlencode({"error": code}))


@bp.get("/csrf")
@endpoint(response=CsrfOut, summary="A CSRF token for the X-CSRFToken header of state-changing requests")
def csrf_token():
    return ok({"csrf_token": generate_csrf()})


@bp.get("/me")
@endpoint(response=MeOut, auth="login", summary="The signed-in user")
def me():
    return ok(operations.serialize_me(current_user))


@bp.post("/logout")
@endpoint(summary="Sign out")
def logout():
    operations.end_session()
    return ok(None)


@bp.post("/dev-login")
@limiter.limit(_login_limit, key_func=_ip)
@endpoint(body=DevLoginBody, response=MeOut, summary="Development sign-in (never in production)")
def dev_login(body: DevLoginBody):
    if not current_app.config["DEV_LOGIN_ENABLED"]:
        raise NotFound("Development login is not enabled.")
    user = operations.get_or_create_user(
        sub=f"dev:{body.email.lower()}", email=body.email, username_hint=body.username, exact_username=True
    )
    operations.start_session(user)
    return ok(operations.serialize_me(user))


@bp.get("/google/login")
@limiter.limit(_login_limit, key_func=_ip)
@endpoint(summary="Start Google sign-in (a full-page navigation; answers 302 to Google)")
def google_login():
    """State, nonce and the PKCE verifier are kept in the session for the callback."""
    client = google_client()
    if client is None:
        raise NotFound("Google sign-in is not configured.")
    return client.authorize_redirect(url_for("auth.google_callback", _external=True))


@bp.get("/google/callback")
@endpoint(summary="Google returns here: 302 to / when signed in, to /login?error=CODE otherwise")
def google_callback():
    client = google_client()
    if client is None:
        raise NotFound("Google sign-in is not configured.")
    try:
        # Checks state (against the session), exchanges the code with the PKCE verifier, and
        # verifies the ID token: signature against the JWKS, iss, aud, exp, at_hash and our nonce.
        token = client.authorize_access_token()
    except _REFUSED as error:
        current_app.logger.warning("google login refused", extra={"error": repr(error)[:300]})
        return _to_login_page("LOGIN_FAILED")
    claims = token.get("userinfo") or {}
    if not claims.get("sub") or not claims.get("email"):
        return _to_login_page("LOGIN_FAILED")
    try:
        user = operations.get_or_create_user(
            sub=f"google:{claims['sub']}", email=claims["email"], username_hint=claims["email"].split("@")[0]
        )
        db.session.flush()
    except APIError as error:  # e.g. ACCOUNT_DEACTIVATED
        db.session.rollback()
        return _to_login_page(error.code)
    except IntegrityError:  # the same first login racing in two tabs: the other one won
        db.session.rollback()
        return _to_login_page("LOGIN_FAILED")
    operations.start_session(user)
    return redirect("/")
