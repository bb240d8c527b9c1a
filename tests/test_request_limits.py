"""Bodies and the order of checks: body size limits hold for chunked requests too (413, over real
HTTP), the rate limit runs before the CSRF check and before any body is parsed, and CSRF failures
count against the anonymous budget."""

from __future__ import annotations

import json

import pytest
import requests

from stylelicense.extensions import limiter
from tests.conftest import ApiClient, base_env


def _session(live_server: str) -> tuple[requests.Session, dict]:
    http = requests.Session()
    token = http.get(f"{live_server}/api/auth/csrf").json()["data"]["csrf_token"]
    return http, {"X-CSRFToken": token}


def _chunks(payload: bytes, size: int = 8192):
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def test_a_chunked_json_body_over_the_limit_is_413(app, live_server):
    http, headers = _session(live_server)
    big = json.dumps({"email": "a@example.com", "username": "chunky", "x": "y" * 200_000}).encode()
    response = http.post(
        f"{live_server}/api/auth/dev-login", data=_chunks(big), headers={**headers, "Content-Type": "application/json"}
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    # A small chunked body still works (the cap is on size, not on the transfer encoding).
    small = json.dumps({"email": "chunky@example.com", "username": "chunky"}).encode()
    response = http.post(
        f"{live_server}/api/auth/dev-login",
        data=_chunks(small, 16),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["username"] == "chunky"


def test_a_chunked_upload_over_the_routes_cap_is_413(app, live_server):
    http, headers = _session(live_server)
    http.post(
        f"{live_server}/api/auth/dev-login", json={"email": "up@example.com", "username": "uploader"}, headers=headers
    )
    headers = {"X-CSRFToken": http.get(f"{live_server}/api/auth/csrf").json()["data"]["csrf_token"]}
    boundary = "xyzzy"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="profile_image"; filename="a.png"\r\n'
        f"Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + b"\0" * (11 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    response = http.patch(
        f"{live_server}/api/users/me",
        data=_chunks(body, 256 * 1024),
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_declared_length_over_the_json_cap_is_refused_unread(client, login):
    login(client, "bob")
    response = client.patch("/api/users/me", data=b"{" + b" " * 70_000 + b"}", content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.fixture
def limited_app(database_url, tmp_path):
    from stylelicense.app import create_app

    app = create_app(env=base_env(tmp_path, database_url, RATELIMIT_ENABLED="1"))
    app.test_client_class = ApiClient
    limiter.reset()
    yield app
    limiter.reset()


def test_csrf_failures_count_against_the_anonymous_budget(limited_app):
    """50 anonymous calls per minute per IP, forged ones included: the 51st is 429 even though
    every earlier one was refused by the CSRF check."""
    attacker = limited_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    codes = [attacker.post("/api/auth/logout", csrf=False).status_code for _ in range(50)]
    assert codes == [403] * 50
    response = attacker.post("/api/auth/logout", csrf=False)
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "RATE_LIMITED"
    # Another client keeps its own budget.
    neighbour = limited_app.test_client()
    neighbour.environ_base["REMOTE_ADDR"] = "203.0.113.10"
    assert neighbour.get("/api/auth/csrf").status_code == 200


def test_the_rate_limit_and_csrf_refuse_before_the_body_is_parsed(limited_app, monkeypatch):
    """A multipart body sent without a CSRF header is refused without being parsed: the token is
    only read from the header (a token in the form is ignored)."""
    from werkzeug import formparser

    parsed = []
    original = formparser.FormDataParser.parse

    def spy(self, *args, **kwargs):
        parsed.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(formparser.FormDataParser, "parse", spy)
    attacker = limited_app.test_client()
    attacker.environ_base["REMOTE_ADDR"] = "203.0.113.11"
    data = {"csrf_token": "forged", "artist_name": "x"}
    response = attacker.post(
        "/api/users/me/upgrade-to-artist", data=data, csrf=False, content_type="multipart/form-data"
    )
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "CSRF_FAILED"
    assert parsed == []
