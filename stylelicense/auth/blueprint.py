"""Sign-in routes: Google OIDC, development login, session, CSRF token."""

from __future__ import annotations

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, current_app, redirect, url_for
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf
from joserfc.errors import JoseError

from ..api import endpoint, ok
from ..errors import NotFound
from ..extensions import limiter, oauth
from . import operations
from .schemas import CsrfOut, DevLoginBody, MeOut

bp = Blueprint("auth", __name__, url_prefix="/api/auth")


def _login_limit() -> str:
    return current_app.config.get("RATELIMIT_LOGIN", "5 per 5 minutes")


def _ip() -> str:
    from flask import request

    return f"login-ip:{request.remote_addr}"


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
    from flask import session

    logout_user()
    session.clear()
    return ok(None)


@bp.post("/dev-login")
@limiter.limit(_login_limit, key_func=_ip)
@endpoint(body=DevLoginBody, response=MeOut, summary="Development sign-in (never in production)")
def dev_login(body: DevLoginBody):
    if not current_app.config["DEV_LOGIN_ENABLED"]:
        raise NotFound("Development login is not enabled.")
    user = operations.get_or_create_user(sub=f"dev:{body.email.lower()}", email=body.email,
                                         username_hint=body.username, exact_username=True)
    operations.start_session(user)
    return ok(operations.serialize_me(user))


@bp.get("/google/login")
@limiter.limit(_login_limit, key_func=_ip)
def google_login():
    """Full-page navigation to Google (state, nonce and PKCE kept in the session)."""
    if "google" not in oauth._registry:
        raise NotFound("Google sign-in is not configured.")
    redirect_uri = url_for("auth.google_callback", _external=True)
    return oauth.google.authorize_redirect(redirect_uri)


@bp.get("/google/callback")
def google_callback():
    """Google returns here; on success the browser goes to the SPA, on failure to /login?error=…"""
    if "google" not in oauth._registry:
        raise NotFound("Google sign-in is not configured.")
    try:
        token = oauth.google.authorize_access_token()
        # Authlib has already checked state, PKCE, the ID token's signature and its nonce here.
        claims = token.get("userinfo") or {}
    except (OAuthError, JoseError, KeyError, ValueError) as error:
        current_app.logger.warning("google login refused", extra={"error": repr(error)[:300]})
        return redirect("/login?error=LOGIN_FAILED")
    if not claims.get("sub") or not claims.get("email"):
        return redirect("/login?error=LOGIN_FAILED")
    try:
        user = operations.get_or_create_user(sub=f"google:{claims['sub']}", email=claims["email"],
                                             username_hint=claims["email"].split("@")[0])
        from ..extensions import db

        db.session.flush()
        operations.start_session(user)
        db.session.commit()
    except Exception as error:
        from ..extensions import db

        db.session.rollback()
        code = getattr(error, "code", "LOGIN_FAILED")
        return redirect(f"/login?error={code if isinstance(code, str) else 'LOGIN_FAILED'}")
    return redirect("/")
