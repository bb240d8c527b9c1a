"""Rate limits of SPEC §6 with Flask-Limiter, on in-memory storage and on the machine's Redis.

Login: 5 per 5 minutes per IP. Signed-in calls: 100 per minute per user. Anonymous calls: 50 per
minute per IP. Over the limit: 429 RATE_LIMITED in the envelope, with Retry-After. Internal
webhooks are never limited.
"""

from __future__ import annotations

import os

import pytest
import redis

from stylelicense.extensions import limiter
from tests.conftest import ApiClient, base_env

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture(params=["memory", "redis"])
def limited_app(request, database_url, tmp_path):
    """A fresh app with rate limiting on (the shared test app runs with it off)."""
    from stylelicense.app import create_app

    if request.param == "redis":
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as error:  # fail loudly: the Redis profile is part of the contract
            pytest.fail(f"Redis is required at {REDIS_URL} for the Redis rate-limit tests: {error}")
        uri = REDIS_URL
    else:
        uri = "memory://"
    app = create_app(env=base_env(tmp_path, database_url, RATELIMIT_ENABLED="1", RATELIMIT_STORAGE_URI=uri))
    app.test_client_class = ApiClient
    limiter.reset()  # counters of an earlier test (same user ids after the table truncation)
    yield app
    limiter.reset()


def browser(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def assert_rate_limited(response, window_seconds: int):
    assert response.status_code == 429
    body = response.get_json()
    assert body["success"] is False and body["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(response.headers["Retry-After"]) <= window_seconds


def hit_until_limited(send, limit: int) -> list[int]:
    return [send().status_code for _ in range(limit + 1)]


def test_storage_backend_is_the_configured_one(limited_app):
    storage = type(limiter.storage).__name__.lower()
    expected = "redis" if limited_app.config["RATELIMIT_STORAGE_URI"].startswith("redis") else "memory"
    assert expected in storage


def test_login_is_limited_to_5_per_5_minutes_per_ip(limited_app):
    client = browser(limited_app, "10.0.0.1")
    statuses = [
        client.post("/api/auth/dev-login", json={"email": f"u{i}@example.com", "username": f"user{i}"}).status_code
        for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]
    assert_rate_limited(client.post("/api/auth/dev-login", json={"email": "x@example.com", "username": "xuser"}), 300)
    # Google sign-in shares the per-IP login budget rules (its own counter).
    assert hit_until_limited(lambda: client.get("/api/auth/google/login"), 5)[-1] == 429
    # Another address is not affected.
    other = browser(limited_app, "10.0.0.2")
    assert other.post("/api/auth/dev-login", json={"email": "y@example.com", "username": "yuser"}).status_code == 200


def test_anonymous_calls_are_limited_to_50_per_minute_per_ip(limited_app):
    client = browser(limited_app, "10.0.1.1")
    statuses = hit_until_limited(lambda: client.get("/api/users/1"), 50)
    assert statuses[:50] == [404] * 50  # counted even when the answer is an error
    assert_rate_limited(client.get("/api/users/1"), 60)
    assert browser(limited_app, "10.0.1.2").get("/api/users/1").status_code == 404


def test_the_budget_is_shared_by_all_routes(limited_app):
    """50 calls per minute in total, not 50 on each endpoint."""
    client = browser(limited_app, "10.0.1.3")
    statuses = [client.get(path).status_code for path in ["/api/users/1", "/api/auth/csrf"] * 25]
    assert 429 not in statuses
    assert_rate_limited(client.get("/api/auth/me"), 60)


def test_signed_in_calls_are_limited_to_100_per_minute_per_user(limited_app):
    ana = browser(limited_app, "10.0.2.1")
    assert ana.post("/api/auth/dev-login", json={"email": "ana@example.com", "username": "ana"}).status_code == 200
    statuses = hit_until_limited(lambda: ana.get("/api/auth/me"), 100)
    assert statuses == [200] * 100 + [429]
    assert_rate_limited(ana.get("/api/auth/me"), 60)

    # Per user, not per address: someone else behind the same IP (an office NAT) still gets through,
    # and so does an anonymous visitor from there.
    ben = browser(limited_app, "10.0.2.1")
    assert ben.post("/api/auth/dev-login", json={"email": "ben@example.com", "username": "ben"}).status_code == 200
    assert ben.get("/api/auth/me").status_code == 200
    assert browser(limited_app, "10.0.2.1").get("/api/users/1").status_code == 200


def test_limited_responses_carry_rate_limit_headers(limited_app):
    response = browser(limited_app, "10.0.3.1").get("/api/users/1")
    assert response.headers["X-RateLimit-Limit"] == "50"
    assert response.headers["X-RateLimit-Remaining"] == "49"


def test_internal_webhooks_are_never_limited(limited_app):
    worker = browser(limited_app, "10.0.4.1")
    statuses = {worker.patch("/api/webhooks/training/progress", json={}, csrf=False).status_code for _ in range(80)}
    assert 429 not in statuses
    assert statuses == {401}  # refused by the bearer check, every single time


def test_health_probes_are_never_limited(limited_app):
    probe = browser(limited_app, "10.0.5.1")
    assert {probe.get("/healthz").status_code for _ in range(80)} == {200}


def test_media_and_app_files_are_not_api_calls(limited_app):
    """A feed page loads dozens of images: /media and the SPA's files do not use the API budget."""
    from stylelicense.storage import get_storage

    with limited_app.app_context():
        get_storage().put("feed/thumb.jpg", b"jpeg-bytes", public=True)
    visitor = browser(limited_app, "10.0.6.1")
    assert {visitor.get("/media/feed/thumb.jpg").status_code for _ in range(60)} == {200}
    assert {visitor.get("/").status_code for _ in range(10)} == {200}
    assert visitor.get("/api/users/1").headers["X-RateLimit-Remaining"] == "49"


def test_each_app_keeps_its_own_switch(limited_app, app):
    """Flask-Limiter's switch is process-wide; an app with limits off (the shared test app) stays
    unlimited next to one with limits on, and the other way round."""
    unlimited = app.test_client()
    statuses = [
        unlimited.post(
            "/api/auth/dev-login", json={"email": f"n{i}@example.com", "username": f"nolimit{i}"}
        ).status_code
        for i in range(7)
    ]
    assert statuses == [200] * 7
    limited = browser(limited_app, "10.0.7.1")
    statuses = [
        limited.post("/api/auth/dev-login", json={"email": f"l{i}@example.com", "username": f"limited{i}"}).status_code
        for i in range(6)
    ]
    assert statuses == [200] * 5 + [429]
