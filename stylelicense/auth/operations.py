"""Sign-in rules: users keyed by Google `sub`; the first sign-in creates the account and pays the
welcome bonus once."""

from __future__ import annotations

import re
import secrets
import time

from flask import session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select, update

from ..errors import Conflict, Forbidden
from ..extensions import db
from ..storage import get_storage
from ..tokens import ledger
from ..users.models import User
from ..users.schemas import USERNAME_PATTERN


def _username_taken(username: str, exclude_id: int | None = None) -> bool:
    stmt = select(User.id).where(func.lower(User.username) == username.lower())
    if exclude_id is not None:
        stmt = stmt.where(User.id != exclude_id)
    return db.session.scalar(stmt) is not None


def _free_username(wanted: str) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", wanted.lower())[:24].strip("_") or "user"
    base = base if len(base) >= 3 else f"{base}_user"
    candidate = base
    while _username_taken(candidate):
        candidate = f"{base}_{secrets.token_hex(2)}"
    return candidate


def get_or_create_user(*, sub: str, email: str, username_hint: str, exact_username: bool = False) -> User:
    """Find the user by ``sub`` or create it (with the welcome bonus). With ``exact_username`` the
    requested username must be free (dev login), otherwise a free one is derived from the hint."""
    user = db.session.scalar(select(User).where(User.google_sub == sub))
    if user is not None:
        if not user.is_active:
            raise Forbidden("This account is deactivated.", code="ACCOUNT_DEACTIVATED")
        return user
    if exact_username:
        username = username_hint.lower()
        if not USERNAME_PATTERN.match(username):
            from ..errors import ValidationError

            raise ValidationError(
                "Usernames are 3–30 letters, digits or underscores.",
                details={"fields": [{"field": "username", "message": "invalid"}]},
            )
        if _username_taken(username):
            raise Conflict("This username is taken.", details={"fields": [{"field": "username", "message": "taken"}]})
    else:
        username = _free_username(username_hint)
    user = User(google_sub=sub, email=email.lower(), username=username)
    db.session.add(user)
    db.session.flush()
    ledger.credit_welcome_bonus(user)
    return user


# The session key holding the user's session_version at login.
SESSION_VERSION_KEY = "_sv"
# The session key holding the day (days since the epoch) the session cookie was last re-issued.
SESSION_DAY_KEY = "_day"


def start_session(user: User) -> None:
    """Session fixation: drop whatever the browser had before, then log in. The session records the
    user's current session version, so a later bump (revoke_sessions) invalidates it."""
    session.clear()
    login_user(user, remember=False)
    session[SESSION_VERSION_KEY] = user.session_version
    session[SESSION_DAY_KEY] = _today()
    session.permanent = True


def _today() -> int:
    return int(time.time() // 86400)


def extend_session_daily() -> None:
    """Sliding expiry without re-signing the cookie on every request (SESSION_REFRESH_EACH_REQUEST is
    off: signing and sending a cookie per signed-in call cost CPU for nothing): a signed-in session
    is re-issued, with a new expiry, once per day it is used."""
    if session.get(SESSION_VERSION_KEY) is not None and session.get(SESSION_DAY_KEY) != _today():
        session[SESSION_DAY_KEY] = _today()


def load_session_user(user_id: str) -> User | None:
    """Flask-Login's user loader: the session's user, only while it is active and the session's
    version is the user's current one (a copied cookie stops working once the version moves)."""
    if not user_id.isdigit() or len(user_id) > 18:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    if session.get(SESSION_VERSION_KEY) != user.session_version:
        return None
    return user


def revoke_sessions(user: User) -> None:
    """End every session of ``user`` at once (all browsers, copied cookies included)."""
    db.session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1),
        execution_options={"synchronize_session": False},
    )
    db.session.expire(user, ["session_version"])


def end_session() -> None:
    """Log out everywhere: revoke the user's sessions, then forget everything this one held (CSRF
    token included)."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        # A deleted account's row is gone already: nothing to bump (its sessions cannot load it).
        if db.session.get(User, user.id) is not None:
            revoke_sessions(user)
    logout_user()
    session.clear()


def serialize_me(user: User) -> dict:
    """The signed-in user as ``GET /api/auth/me`` returns it (SPEC §6.1)."""
    artist = user.artist
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "role": user.role,
        "token_balance": user.token_balance,
        "profile_image_url": get_storage().public_url(user.profile_image_key) if user.profile_image_key else None,
        "bio": user.bio,
        "artist": None
        if artist is None
        else {
            "id": artist.id,
            "artist_name": artist.artist_name,
            "earned_token_balance": artist.earned_token_balance,
            "follower_count": artist.follower_count,
        },
    }
