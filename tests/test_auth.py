"""Sign-in: Google OIDC end to end against a loopback provider, dev login, sessions, CSRF."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from stylelicense.extensions import db
from stylelicense.tokens.models import Transaction
from stylelicense.users.models import User
from tests.conftest import ApiClient, base_env
from tests.fakes.oidc_provider import DEFAULT_USER, FakeOIDCProvider


@pytest.fixture(scope="module")
def provider():
    fake = FakeOIDCProvider().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def google_app(provider, database_url, tmp_path_factory):
    from stylelicense.app import create_app

    tmp = tmp_path_factory.mktemp("google")
    app = create_app(
        env=base_env(
            tmp,
            database_url,
            GOOGLE_CLIENT_ID=provider.client_id,
            GOOGLE_CLIENT_SECRET=provider.client_secret,
            GOOGLE_METADATA_URL=provider.metadata_url,
        )
    )
    app.test_client_class = ApiClient
    return app


@pytest.fixture
def browser(google_app):
    return google_app.test_client()


@pytest.fixture(autouse=True)
def _reset_provider(request):
    if "provider" in request.fixturenames:
        provider = request.getfixturevalue("provider")
        provider.next_user = dict(DEFAULT_USER)
        provider.next_error = None
        provider.tamper_nonce = provider.tamper_signature = False
    yield


def start_login(browser) -> str:
    """GET /api/auth/google/login → the provider's authorize URL (checked for OIDC + PKCE)."""
    response = browser.get("/api/auth/google/login")
    assert response.status_code == 302, response.data
    location = response.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge"][0]
    assert "openid" in query["scope"][0].split()
    return location


def authorize(location: str) -> str:
    """What the browser does at the provider: it answers 302 back to our callback."""
    response = requests.get(location, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    callback = urlsplit(response.headers["Location"])
    assert callback.path == "/api/auth/google/callback"
    return f"{callback.path}?{callback.query}"


def google_login(browser):
    return browser.get(authorize(start_login(browser)))


def users(app) -> list[User]:
    with app.app_context():
        found = list(db.session.scalars(select(User).order_by(User.id)))
        db.session.expunge_all()
        return found


def welcome_rows(app, user_id: int) -> list[Transaction]:
    with app.app_context():
        rows = list(db.session.scalars(select(Transaction).where(Transaction.user_id == user_id)))
        db.session.expunge_all()
        return rows


def refused(response, code: str = "LOGIN_FAILED") -> bool:
    return response.status_code == 302 and response.headers["Location"] == f"/login?error={code}"


def refusal_reason(caplog) -> str:
    """What the callback logged about the refusal (proves which check fired)."""
    return " ".join(getattr(r, "error", "") for r in caplog.records if r.getMessage() == "google login refused")


# --- Google -------------------------------------------------------------------------------------


def test_first_google_login_creates_user_with_welcome_bonus(google_app, browser, provider):
    response = google_login(browser)
    assert response.status_code == 302 and response.headers["Location"] == "/"

    me = browser.get("/api/auth/me").get_json()["data"]
    assert me["email"] == DEFAULT_USER["email"]
    assert me["username"] == "alice"
    assert me["token_balance"] == 100
    assert me["role"] == "user" and me["artist"] is None

    [user] = users(google_app)
    assert user.google_sub == f"google:{DEFAULT_USER['sub']}"
    [bonus] = welcome_rows(google_app, user.id)
    assert (bonus.transaction_type, bonus.amount, bonus.sender_id, bonus.memo) == (
        "welcome_bonus",
        100,
        None,
        "Welcome Bonus",
    )
    # The token exchange carried the PKCE verifier (the fake refuses it otherwise) and client auth.
    token_requests = [r for r in provider.requests if r["path"] == "/token"]
    assert token_requests[-1]["form"]["code_verifier"]


def test_second_login_is_the_same_account_without_a_second_bonus(google_app, browser, make_client, provider):
    assert google_login(browser).headers["Location"] == "/"
    # The e-mail changed at Google: the account follows the `sub`, never the e-mail.
    provider.next_user = {**DEFAULT_USER, "email": "alice.new@example.com"}
    other_browser = google_app.test_client()
    assert google_login(other_browser).headers["Location"] == "/"

    [user] = users(google_app)
    assert len(welcome_rows(google_app, user.id)) == 1
    assert user.token_balance == 100
    assert other_browser.get("/api/auth/me").get_json()["data"]["id"] == user.id


def test_users_are_keyed_by_sub_and_usernames_do_not_collide(google_app, browser, provider):
    google_login(browser)
    provider.next_user = {**DEFAULT_USER, "sub": "200000000000000000002"}  # another person, same local part
    second = google_app.test_client()
    google_login(second)
    first_user, second_user = users(google_app)
    assert first_user.google_sub != second_user.google_sub
    assert first_user.username == "alice" and second_user.username.startswith("alice_")
    assert re.fullmatch(r"[a-z0-9_]{3,30}", second_user.username)


def test_forged_state_is_refused(google_app, browser, caplog):
    callback = authorize(start_login(browser))
    forged = re.sub(r"state=[^&]+", "state=forged-state", callback)
    response = browser.get(forged)
    assert refused(response)
    assert "mismatching_state" in refusal_reason(caplog)
    assert browser.get("/api/auth/me").status_code == 401
    assert users(google_app) == []


def test_callback_in_a_browser_that_did_not_start_the_login_is_refused(google_app, browser):
    """Login CSRF: an attacker's valid code+state pasted into the victim's browser."""
    callback = authorize(start_login(browser))
    victim = google_app.test_client()
    assert refused(victim.get(callback))
    assert victim.get("/api/auth/me").status_code == 401
    assert users(google_app) == []


def test_wrong_nonce_is_refused(google_app, browser, provider, caplog):
    provider.tamper_nonce = True
    assert refused(google_login(browser))
    assert "nonce" in refusal_reason(caplog)
    assert browser.get("/api/auth/me").status_code == 401
    assert users(google_app) == []


def test_id_token_signed_by_an_unknown_key_is_refused(google_app, browser, provider, caplog):
    provider.tamper_signature = True
    assert refused(google_login(browser))
    assert "signature" in refusal_reason(caplog).lower()
    assert users(google_app) == []


def test_user_refusing_consent_is_refused(google_app, browser, provider):
    provider.next_error = "access_denied"
    assert refused(google_login(browser))
    assert users(google_app) == []


def test_replayed_callback_is_refused(google_app, browser):
    callback = authorize(start_login(browser))
    assert browser.get(callback).headers["Location"] == "/"
    browser.post("/api/auth/logout")
    assert refused(browser.get(callback))  # state is single-use and the code too
    assert browser.get("/api/auth/me").status_code == 401


def test_deactivated_user_cannot_sign_in(google_app, browser):
    google_login(browser)
    [user] = users(google_app)
    with google_app.app_context():
        db.session.get(User, user.id).is_active = False
        db.session.commit()
    # The open session dies with the account...
    assert browser.get("/api/auth/me").status_code == 401
    # ...and a new login is refused with its own code.
    again = google_app.test_client()
    assert refused(google_login(again), "ACCOUNT_DEACTIVATED")
    assert again.get("/api/auth/me").status_code == 401


def test_login_clears_the_previous_session(google_app, browser):
    """Session fixation: nothing from before the login survives it (the old CSRF token neither)."""
    old_token = browser.get("/api/auth/csrf").get_json()["data"]["csrf_token"]
    with browser.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    assert google_login(browser).headers["Location"] == "/"
    with browser.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session
    response = browser.post("/api/auth/logout", headers={"X-CSRFToken": old_token})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "CSRF_FAILED"
    assert browser.get("/api/auth/me").status_code == 200  # still signed in: the logout was refused


def test_session_cookie_flags(google_app, browser):
    start = browser.get("/api/auth/google/login")
    cookie = start.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_google_login_is_404_when_not_configured(client):
    response = client.get("/api/auth/google/login")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


# --- dev login, me, logout ----------------------------------------------------------------------


def test_dev_login_me_and_logout(app, client, login):
    me = login(client, "bob")
    assert me["username"] == "bob" and me["token_balance"] == 100
    assert client.get("/api/auth/me").get_json()["data"] == me
    # The second dev login of the same e-mail is the same account, without a second bonus.
    assert login(client, "bob")["id"] == me["id"]
    [user] = users(app)
    assert user.token_balance == 100
    assert len(welcome_rows(app, me["id"])) == 1

    assert client.post("/api/auth/logout").status_code == 200
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_dev_login_of_a_deactivated_account_is_forbidden(app, client, login):
    me = login(client, "carol")
    with app.app_context():
        db.session.get(User, me["id"]).is_active = False
        db.session.commit()
    response = client.post("/api/auth/dev-login", json={"email": "carol@example.com", "username": "carol"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "ACCOUNT_DEACTIVATED"
    assert client.get("/api/auth/me").status_code == 401


# --- CSRF ---------------------------------------------------------------------------------------


def test_csrf_endpoint_returns_a_token(client):
    body = client.get("/api/auth/csrf").get_json()
    assert body["success"] is True and len(body["data"]["csrf_token"]) > 20


def _state_changing_routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            path = re.sub(r"<(?:\w+:)?\w+>", "1", rule.rule)
            yield rule, method, path


def test_every_state_changing_route_requires_the_csrf_header(app, client, login):
    login(client, "dave")
    checked = 0
    for rule, method, path in _state_changing_routes(app):
        response = client.open(path, method=method, json={}, csrf=False)
        if rule.endpoint.startswith("webhooks."):
            # Internal webhooks authenticate with a bearer token instead (no session, no CSRF).
            assert response.status_code != 403 or response.get_json()["error"]["code"] != "CSRF_FAILED"
            continue
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.get_json() == {
            "success": False,
            "error": {"code": "CSRF_FAILED", "message": response.get_json()["error"]["message"], "details": {}},
        }
        checked += 1
    assert checked >= 5  # logout, dev-login, PATCH/DELETE users/me, upgrade-to-artist at least
    # A wrong token is refused as well, and nothing was changed along the way.
    response = client.patch("/api/users/me", json={"bio": "x"}, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 403
    assert client.get("/api/auth/me").get_json()["data"]["bio"] == ""


def test_csrf_refusal_changes_nothing(client, login):
    me = login(client, "erin")
    assert client.delete("/api/users/me", csrf=False).status_code == 403
    assert client.get("/api/auth/me").get_json()["data"]["id"] == me["id"]
