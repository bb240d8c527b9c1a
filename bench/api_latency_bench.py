"""API latency through real HTTP: median and p95 of feed, search, notifications and style list.

Two ways to run it:

    # against an API that is already running (sign in with the dev login as EMAIL)
    python bench/api_latency_bench.py --url http://127.0.0.1:5000 --email someone@demo.example.com

    # or let the script serve the app itself on a loopback port, on a given database
    python bench/api_latency_bench.py --database-url postgresql+psycopg2://postgres@127.0.0.1/sl_bench

Fill the database first, e.g. `flask --app wsgi demo create --styles 10000 --generations 100000
--likes 1000000`. Requests run one after another (latency, not throughput) after a short warm-up.
With --database-url the accounts default to the user with the most notifications and a typical one.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEARCHES = [
    ("portrait", "all"),
    ("water", "styles"),
    ("neon", "all"),
    ("ink", "styles"),
    ("dr", "all"),
    ("city", "styles"),
    ("anna", "artists"),
    ("kim", "artists"),
    ("golden dreams", "all"),
    ("z", "all"),
    ("art nouveau", "styles"),
    ("leo", "all"),
]


class Api:
    def __init__(self, base: str):
        self.base = base.rstrip("/")
        self.http = requests.Session()

    def get(self, path: str, **params) -> requests.Response:
        response = self.http.get(self.base + path, params=params, timeout=60)
        if response.status_code != 200:
            raise SystemExit(f"GET {path} {params} -> {response.status_code}: {response.text[:300]}")
        return response

    def sign_in(self, email: str) -> None:
        token = self.get("/api/auth/csrf").json()["data"]["csrf_token"]
        response = self.http.post(
            self.base + "/api/auth/dev-login",
            json={"email": email, "username": email.split("@")[0][:30]},
            headers={"X-CSRFToken": token},
            timeout=60,
        )
        if response.status_code != 200:
            raise SystemExit(f"dev login as {email} failed: {response.status_code} {response.text[:300]}")


def serve(database_url: str) -> tuple[str, Callable[[], None], dict]:
    """The app on a loopback port (threaded werkzeug server), rate limits off, dev login on."""
    from werkzeug.serving import make_server

    from stylelicense.app import create_app

    folder = Path(tempfile.mkdtemp(prefix="sl-bench-"))
    os.environ.setdefault("STYLELICENSE_INSTANCE", str(folder / "instance"))
    app = create_app(
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "STYLELICENSE_ENV": "development",
            "RATELIMIT_ENABLED": "0",
            "STYLELICENSE_DEV_LOGIN": "1",
            "CELERY_BROKER_URL": "memory://",
            "STORAGE_URL": os.environ.get("STORAGE_URL", (folder / "storage").as_uri()),
        }
    )
    import logging

    logging.getLogger("stylelicense.access").disabled = True  # keep the table readable
    logging.getLogger("werkzeug").disabled = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown, {"app": app}


def most_commented(app) -> int:
    """The public image with the most comments (the heaviest comment thread)."""
    from sqlalchemy import select

    from stylelicense.extensions import db
    from stylelicense.generations.models import Generation

    with app.app_context():
        return db.session.scalar(
            select(Generation.id)
            .where(Generation.is_public.is_(True))
            .order_by(Generation.comment_count.desc())
            .limit(1)
        )


def pick_accounts(app) -> tuple[str, str]:
    """The user with the most notifications and one with the median number (among users with any)."""
    from sqlalchemy import func, select

    from stylelicense.extensions import db
    from stylelicense.notifications.models import Notification
    from stylelicense.users.models import User

    with app.app_context():
        rows = db.session.execute(
            select(Notification.recipient_id, func.count())
            .group_by(Notification.recipient_id)
            .order_by(func.count().desc())
        ).all()
        if not rows:
            raise SystemExit("no notifications in this database: run `flask --app wsgi demo create` first")
        busiest, typical = rows[0][0], rows[len(rows) // 2][0]
        emails = dict(db.session.execute(select(User.id, User.email).where(User.id.in_([busiest, typical]))).all())
        counts = dict(rows)
        print(
            f"accounts: busiest {emails[busiest]} ({counts[busiest]:,} notifications), "
            f"typical {emails[typical]} ({counts[typical]:,})"
        )
        return emails[busiest], emails[typical]


def measure(name: str, call: Callable[[int], None], n: int, warmup: int = 5) -> dict:
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "name": name,
        "n": n,
        "median": statistics.median(samples),
        "p95": samples[min(n - 1, int(round(0.95 * n)) - 1)],
        "max": samples[-1],
    }


def deep_cursor(api: Api, path: str, pages: int, **params) -> str | None:
    cursor = None
    for _ in range(pages):
        data = api.get(path, **params, **({"cursor": cursor} if cursor else {})).json()["data"]
        cursor = data["next_cursor"]
        if not cursor:
            break
    return cursor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="base URL of a running API")
    target.add_argument("--database-url", help="serve the app here on this database")
    parser.add_argument("--email", help="dev-login e-mail for notifications (busiest user by default)")
    parser.add_argument("--typical-email", help="a second, ordinary account for notifications")
    parser.add_argument("-n", "--requests", type=int, default=200, help="requests per scenario (default 200)")
    args = parser.parse_args()

    stop, thread = None, None
    if args.database_url:
        base, stop, context = serve(args.database_url)
        busiest, typical = pick_accounts(context["app"])
        busiest, typical = args.email or busiest, args.typical_email or typical
        thread = most_commented(context["app"])
    else:
        base, busiest, typical = args.url, args.email, args.typical_email
    anonymous, heavy, ordinary = Api(base), Api(base), Api(base)
    if busiest:
        heavy.sign_in(busiest)
    if typical:
        ordinary.sign_in(typical)
    reader = heavy if busiest else anonymous

    feed_deep = deep_cursor(reader, "/api/generations/feed", 10)
    recent_deep = deep_cursor(anonymous, "/api/styles", 10, sort="recent")
    popular_deep = deep_cursor(anonymous, "/api/styles", 10, sort="popular")
    searches = itertools.cycle(SEARCHES)
    scenarios: list[tuple[str, Callable[[int], None]]] = [
        ("feed, first page (signed in)", lambda i: reader.get("/api/generations/feed")),
        ("feed, first page (anonymous)", lambda i: anonymous.get("/api/generations/feed")),
        ("feed, page 11 (cursor)", lambda i: reader.get("/api/generations/feed", cursor=feed_deep)),
        (
            "search (12 queries, mixed types)",
            lambda i: anonymous.get("/api/search", **dict(zip(("q", "type"), next(searches), strict=True))),
        ),
        ("styles ?sort=recent", lambda i: anonymous.get("/api/styles", sort="recent")),
        ("styles ?sort=popular", lambda i: anonymous.get("/api/styles", sort="popular")),
        (
            "styles ?sort=popular, page 11",
            lambda i: anonymous.get("/api/styles", sort="popular", cursor=popular_deep),
        ),
        (
            "styles ?sort=recent, page 11",
            lambda i: anonymous.get("/api/styles", sort="recent", cursor=recent_deep),
        ),
    ]
    if thread is None:
        first = anonymous.get("/api/generations/feed").json()["data"]["results"]
        thread = first[0]["id"] if first else None
    if thread is not None:
        scenarios.append(("comments of an image", lambda i: anonymous.get(f"/api/generations/{thread}/comments")))
    if busiest:
        scenarios.append(("following (busiest user)", lambda i: heavy.get("/api/users/me/following")))
        scenarios.append(("notifications (busiest user)", lambda i: heavy.get("/api/notifications")))
        scenarios.append(
            (
                "notifications unread_only (busiest)",
                lambda i: heavy.get("/api/notifications", unread_only="true"),
            )
        )
    if typical:
        scenarios.append(("notifications (typical user)", lambda i: ordinary.get("/api/notifications")))
    results = [measure(name, call, args.requests) for name, call in scenarios]

    width = max(len(r["name"]) for r in results)
    print(f"\n{'scenario':<{width}}  {'n':>5}  {'median ms':>9}  {'p95 ms':>8}  {'max ms':>8}")
    print("-" * (width + 38))
    for r in results:
        print(f"{r['name']:<{width}}  {r['n']:>5}  {r['median']:>9.1f}  {r['p95']:>8.1f}  {r['max']:>8.1f}")
    if stop:
        stop()


if __name__ == "__main__":
    main()
