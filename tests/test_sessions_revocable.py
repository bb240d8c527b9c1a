"""Sessions are revocable server-side (SPEC §13): logging out, deleting or deactivating the account
ends every session of the user at once — a cookie copied before that gets 401 afterwards."""

from __future__ import annotations

from stylelicense.extensions import db
from stylelicense.users.models import User
from tests import factories


def copy_session(source, target) -> None:
    """A second browser (or a thief) holding the same session cookie."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def test_logout_ends_a_copied_session(client, make_client, login):
    me = login(client, "alice")
    thief = make_client()
    copy_session(client, thief)
    assert thief.get("/api/auth/me").get_json()["data"]["id"] == me["id"]

    assert client.post("/api/auth/logout").status_code == 200
    response = thief.get("/api/auth/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"
    # The copied cookie cannot spend either.
    assert thief.get("/api/tokens/balance").status_code == 401


def test_logout_ends_every_browser_of_the_user_and_a_new_login_works(client, make_client, login):
    login(client, "bob")
    laptop = make_client()
    login(laptop, "bob")
    assert client.post("/api/auth/logout").status_code == 200
    assert laptop.get("/api/auth/me").status_code == 401
    again = login(laptop, "bob")
    assert laptop.get("/api/auth/me").get_json()["data"]["id"] == again["id"]
    # Someone else's session is untouched by bob's logout.
    other = make_client()
    login(other, "carol")
    assert client.post("/api/auth/logout").status_code == 200
    assert other.get("/api/auth/me").status_code == 200


def test_deleting_the_account_ends_a_copied_session(client, make_client, login):
    login(client, "leaver")
    thief = make_client()
    copy_session(client, thief)
    assert client.delete("/api/users/me").get_json()["data"] == {"result": "deleted"}
    assert thief.get("/api/auth/me").status_code == 401


def test_deactivation_by_an_operator_ends_every_session(app, client, make_client, login):
    me = login(client, "dora")
    thief = make_client()
    copy_session(client, thief)
    result = app.test_cli_runner().invoke(args=["users", "deactivate", str(me["id"])])
    assert result.exit_code == 0, result.output
    assert client.get("/api/auth/me").status_code == 401
    assert thief.get("/api/auth/me").status_code == 401
    # Reactivating the row by hand does not bring an old cookie back: its version is stale.
    with app.app_context():
        db.session.get(User, me["id"]).is_active = True
        db.session.commit()
    assert thief.get("/api/auth/me").status_code == 401


def test_a_session_without_a_version_is_not_trusted(app, client):
    """A cookie forged or minted before this change (no version in it) does not sign anyone in."""
    with app.app_context():
        user = factories.create_user("eve")
        db.session.commit()
        user_id = user.id
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    assert client.get("/api/auth/me").status_code == 401
    with client.session_transaction() as session:
        session["_user_id"] = "9" * 40  # beyond any id: no crash, just signed out
        session["_sv"] = 0
    assert client.get("/api/auth/me").status_code == 401


def test_signed_in_reads_do_not_reissue_the_cookie_but_a_day_old_session_is_extended(client, login):
    """The session cookie is not re-signed on every call (CPU per request), yet a session in daily
    use keeps sliding forward: the first call of a new day re-issues it with a fresh expiry."""
    login(client, "carol")
    for path in ("/api/auth/me", "/api/tokens/balance", "/api/notifications"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path
    with client.session_transaction() as session:
        session["_day"] -= 1  # as if the cookie was last issued yesterday
    response = client.get("/api/auth/me")
    assert response.status_code == 200
    cookie = response.headers.get("Set-Cookie", "")
    assert cookie.startswith("session=") and "Expires=" in cookie
    assert "Set-Cookie" not in client.get("/api/auth/me").headers  # once a day, not on every call
