"""The SPA's request mix for bench/load_bench.py (run by it through locust; not a test module).

Signed-in users (3 of 4) and anonymous visitors (1 of 4) browse like the SPA does: feed pages,
style lists, search, a style page, a profile; signed-in ones also load `me`, poll notifications and
the balance, open My Page and like/unlike an image. 1–3 s between a user's requests, or none in the
saturation mode. What to ask for comes from the JSON file in ``LOAD_BENCH_DATA`` (written by the
bench from the seeded database); ``LOAD_BENCH_MODE`` is ``mix``, ``saturate``, ``floor`` or ``endpoint``
(one request of the mix alone, named by ``LOAD_BENCH_ENDPOINT``, no think time: what it costs).
"""

from __future__ import annotations

import json
import os
import random

from load_mix import ALONE
from locust import between, constant, task
from locust.contrib.fasthttp import FastHttpUser

MODE = os.environ.get("LOAD_BENCH_MODE", "mix")
DATA = json.loads(open(os.environ["LOAD_BENCH_DATA"]).read()) if os.environ.get("LOAD_BENCH_DATA") else {}
WAIT = constant(0) if MODE in ("saturate", "floor-saturate", "endpoint") else between(1, 3)


class _Browsing(FastHttpUser):
    abstract = True
    wait_time = WAIT
    # One connection per user, kept alive between requests like a browser's.
    concurrency = 1

    def on_start(self) -> None:
        self.feed_cursor = None

    def _get(self, path: str, name: str, **params) -> dict | None:
        with self.client.get(path, params=params or None, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return None
            try:
                return response.json().get("data")
            except ValueError:
                response.failure("not JSON")
                return None

    @task(6)
    def feed(self) -> None:
        data = self._get("/api/generations/feed", "feed")
        self.feed_cursor = data.get("next_cursor") if data else None

    @task(2)
    def feed_next_page(self) -> None:
        if not self.feed_cursor:
            return self.feed()
        data = self._get("/api/generations/feed", "feed next page", cursor=self.feed_cursor)
        self.feed_cursor = data.get("next_cursor") if data else None

    @task(2)
    def styles_recent(self) -> None:
        self._get("/api/styles", "styles recent", sort="recent")

    @task(2)
    def styles_popular(self) -> None:
        self._get("/api/styles", "styles popular", sort="popular")

    @task(2)
    def search(self) -> None:
        q, kind = random.choice(DATA["searches"])
        self._get("/api/search", "search", q=q, type=kind)

    @task(3)
    def style_page(self) -> None:
        self._get(f"/api/styles/{random.choice(DATA['style_ids'])}", "style page")

    @task(2)
    def profile(self) -> None:
        self._get(f"/api/users/{random.choice(DATA['artist_user_ids'])}", "profile")


class Visitor(_Browsing):
    weight = 1


class SignedIn(_Browsing):
    weight = 3

    def on_start(self) -> None:
        super().on_start()
        email = random.choice(DATA["emails"])
        with self.client.get("/api/auth/csrf", name="(sign-in) csrf", catch_response=True) as response:
            self.csrf = response.json()["data"]["csrf_token"] if response.status_code == 200 else ""
        self.client.post(
            "/api/auth/dev-login",
            json={"email": email, "username": email.split("@")[0]},
            headers={"X-CSRFToken": self.csrf},
            name="(sign-in) dev-login",
        )
        # Signing in starts a new session, and the CSRF token belongs to the session (as in the SPA).
        with self.client.get("/api/auth/csrf", name="(sign-in) csrf", catch_response=True) as response:
            self.csrf = response.json()["data"]["csrf_token"] if response.status_code == 200 else ""

    @task(3)
    def me(self) -> None:
        self._get("/api/auth/me", "me")

    @task(2)
    def notifications(self) -> None:
        self._get("/api/notifications", "notifications")

    @task(2)
    def balance(self) -> None:
        self._get("/api/tokens/balance", "balance")

    @task(1)
    def my_generations(self) -> None:
        self._get("/api/generations/me", "my generations")

    @task(1)
    def like_unlike(self) -> None:
        generation = random.choice(DATA["generation_ids"])
        headers = {"X-CSRFToken": self.csrf}
        # Demo data already has likes (and two locust users may share an account): a 409 (already
        # liked) is an answer, not an error.
        with self.client.post(
            f"/api/generations/{generation}/like", name="like", headers=headers, catch_response=True
        ) as response:
            if response.status_code in (201, 409):
                response.success()  # without it, locust counts any 4xx as a failure
            else:
                response.failure(f"{response.status_code}")
        with self.client.delete(
            f"/api/generations/{generation}/like", name="unlike", headers=headers, catch_response=True
        ) as response:
            if response.status_code in (200, 404):
                response.success()
            else:
                response.failure(f"{response.status_code}")


if MODE == "endpoint":
    _who_name, _task = ALONE[os.environ["LOAD_BENCH_ENDPOINT"]]
    _who = {"Visitor": Visitor, "SignedIn": SignedIn}[_who_name]

    class OneEndpoint(_who):
        pass

    # Set after the class exists: locust's metaclass adds the base class's tasks to any declared here.
    OneEndpoint.tasks = [getattr(_who, _task)]
    del Visitor, SignedIn


if MODE in ("floor", "floor-saturate"):
    # The trivial endpoint only: replace the mix.
    class Floor(FastHttpUser):
        wait_time = WAIT
        concurrency = 1

        @task
        def ping(self) -> None:
            self.client.get("/api/ping", name="floor /api/ping")

    del Visitor, SignedIn
