"""Redis holds the public cache and the rate-limit counters in production. When it goes away (a
restart, a failover) the API keeps answering: public pages come from the database, sign-in and
signed-in calls work, and the limits are still enforced, counted in each process's memory until
Redis is back. Redis is reached through a loopback proxy that refuses connections while "down".
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import redis
from factories import create_artist, create_style, seeded

from stylelicense.extensions import limiter
from tests.conftest import ApiClient, base_env
from tests.fakes.tcp_proxy import TcpProxy
from tests.test_rate_limits import REDIS_URL, browser


@pytest.fixture
def redis_proxy():
    redis_server = urlsplit(REDIS_URL)
    proxy = TcpProxy(redis_server.hostname, redis_server.port or 6379).start()
    yield proxy
    proxy.down()


@pytest.fixture
def outage_app(database_url, tmp_path, redis_proxy):
    from stylelicense.app import create_app

    url = f"redis://127.0.0.1:{redis_proxy.port}{urlsplit(REDIS_URL).path}"  # the same database
    app = create_app(
        env=base_env(
            tmp_path,
            database_url,
            RATELIMIT_ENABLED="1",
            RATELIMIT_STORAGE_URI=url,
            CACHE_URL=url,
            PUBLIC_CACHE_SECONDS="60",
        )
    )
    app.test_client_class = ApiClient
    limiter.reset()
    with seeded(app):
        create_style(create_artist("painter", "Painter"), title="Velvet Night")
    yield app
    redis_proxy.up()
    limiter.reset()


def test_the_api_answers_and_still_limits_while_redis_is_down(outage_app, redis_proxy):
    visitor, fan = browser(outage_app, "10.9.0.1"), browser(outage_app, "10.9.0.2")
    titles = [s["title"] for s in visitor.get("/api/styles").get_json()["data"]["results"]]
    assert titles == ["Velvet Night"]  # served, and stored in Redis

    redis_proxy.down()
    during = visitor.get("/api/styles")
    assert during.status_code == 200
    assert [s["title"] for s in during.get_json()["data"]["results"]] == ["Velvet Night"]
    signed_in = fan.post("/api/auth/dev-login", json={"email": "fan@example.com", "username": "fan"})
    assert signed_in.status_code == 200, signed_in.get_json()
    assert fan.get("/api/auth/me").get_json()["data"]["username"] == "fan"

    # The anonymous budget (50 a minute) still holds, counted in this process's memory.
    statuses = [visitor.get("/api/search?q=velvet").status_code for _ in range(51)]
    assert 500 not in statuses and statuses[-1] == 429

    # Back: the limiter returns to Redis at its next health check (after a second, then backing off).
    redis_proxy.up()
    time.sleep(2.5)
    assert browser(outage_app, "10.9.0.3").get("/api/styles").status_code == 200
    keys = redis.Redis.from_url(REDIS_URL).keys("*10.9.0.3*")
    assert keys, "the limiter should count in Redis again"
