"""Where one request's time goes, per endpoint of the load bench's mix: SQL statements per request
(a SQLAlchemy event counter), SQL time vs. the rest, this process's CPU time, and optionally a
cProfile of one endpoint (CPU time).

    python bench/profile_requests.py --database-url postgresql+psycopg2://postgres@127.0.0.1/sl_load_bench
    python bench/profile_requests.py --database-url … --profile feed   # cProfile (CPU time) of one endpoint
    python bench/profile_requests.py --explain --env PUBLIC_CACHE_SECONDS=0   # each read's plan (EXPLAIN ANALYZE)

Runs the real app in-process through Flask's test client (no HTTP server, no network), on a database
seeded by bench/load_bench.py. Numbers are per request, medians of ``-n`` runs after a warm-up;
"app CPU" is this process's CPU time (test client included): the figure that does not depend on how
busy the machine is.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/sl_load_bench")
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--profile", help="endpoint name to profile (cProfile, CPU time)")
    parser.add_argument("--top", type=int, default=40, help="functions to show with --profile")
    parser.add_argument("--env", action="append", default=[], help="extra NAME=VALUE for the app")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE every SELECT of each endpoint (use with the cache off)"
    )
    args = parser.parse_args()

    from sqlalchemy import event, select

    from stylelicense.app import create_app
    from stylelicense.extensions import db

    folder = Path(tempfile.mkdtemp(prefix="sl-profile-"))
    app = create_app(
        env={
            **os.environ,
            "DATABASE_URL": args.database_url,
            "STYLELICENSE_ENV": "development",
            "RATELIMIT_ENABLED": "0",
            "STYLELICENSE_DEV_LOGIN": "1",
            "SECRET_KEY": "p",
            "INTERNAL_API_TOKEN": "p",
            "CELERY_BROKER_URL": "memory://",
            "STORAGE_URL": (folder / "storage").as_uri(),
            **dict(item.split("=", 1) for item in args.env),
        }
    )
    import logging

    logging.getLogger("stylelicense.access").disabled = True

    stats = {"statements": 0, "sql_seconds": 0.0}
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, parameters, context, executemany):
            conn.info["started"] = time.perf_counter()
            if "captured" in stats and statement.lstrip().upper().startswith(("SELECT", "WITH")):
                stats["captured"].append((statement, parameters))

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, parameters, context, executemany):
            stats["statements"] += 1
            stats["sql_seconds"] += time.perf_counter() - conn.info.pop("started", time.perf_counter())

        from stylelicense.generations.models import Generation
        from stylelicense.styles.models import Style
        from stylelicense.users.models import Artist, User

        email = db.session.scalar(
            select(User.email).where(User.email.like("%@demo.example.com")).order_by(User.id.desc()).limit(1)
        )
        style_id = db.session.scalar(
            select(Style.id)
            .where(Style.training_status == "completed")
            .order_by(Style.generation_count.desc())
            .limit(1)
        )
        artist_user = db.session.scalar(select(Artist.user_id).order_by(Artist.follower_count.desc()).limit(1))
        generation_id = db.session.scalar(select(Generation.id).where(Generation.is_public.is_(True)).limit(1))
        db.session.remove()

    anonymous, signed = app.test_client(), app.test_client()
    token = signed.get("/api/auth/csrf").get_json()["data"]["csrf_token"]
    signed.post(
        "/api/auth/dev-login", json={"email": email, "username": email.split("@")[0]}, headers={"X-CSRFToken": token}
    )
    token = signed.get("/api/auth/csrf").get_json()["data"]["csrf_token"]
    cursor = anonymous.get("/api/generations/feed").get_json()["data"]["next_cursor"]

    def like_unlike(client):
        client.post(f"/api/generations/{generation_id}/like", headers={"X-CSRFToken": token})
        return client.delete(f"/api/generations/{generation_id}/like", headers={"X-CSRFToken": token})

    cases = {
        "feed (anonymous)": (anonymous, "/api/generations/feed"),
        "feed (signed in)": (signed, "/api/generations/feed"),
        "feed next page": (anonymous, f"/api/generations/feed?cursor={cursor}"),
        "styles recent": (anonymous, "/api/styles?sort=recent"),
        "styles popular": (anonymous, "/api/styles?sort=popular"),
        "search 'portrait'": (anonymous, "/api/search?q=portrait"),
        "search 'an' (prefix)": (anonymous, "/api/search?q=an"),
        "style page": (anonymous, f"/api/styles/{style_id}"),
        "profile": (anonymous, f"/api/users/{artist_user}"),
        "me": (signed, "/api/auth/me"),
        "notifications": (signed, "/api/notifications"),
        "unread count (badge)": (signed, "/api/notifications/unread-count"),
        "balance": (signed, "/api/tokens/balance"),
        "my generations": (signed, "/api/generations/me"),
        "like + unlike": (signed, like_unlike),
    }
    print(f"{'endpoint':<24} {'statements':>10} {'total ms':>9} {'SQL ms':>7} {'other ms':>9} {'app CPU ms':>10}")
    for name, (client, target) in cases.items():

        def call(name=name, client=client, target=target):
            response = target(client) if callable(target) else client.get(target)
            assert response.status_code in (200, 201), (name, response.status_code, response.get_data()[:200])

        for _ in range(3):
            call()
        totals, sqls, counts, cpus = [], [], [], []
        for _ in range(args.n):
            stats.update(statements=0, sql_seconds=0.0)
            started, cpu_started = time.perf_counter(), time.process_time()
            call()
            totals.append((time.perf_counter() - started) * 1000)
            cpus.append((time.process_time() - cpu_started) * 1000)
            sqls.append(stats["sql_seconds"] * 1000)
            counts.append(stats["statements"])
        total, sql = statistics.median(totals), statistics.median(sqls)
        print(
            f"{name:<24} {statistics.median(counts):>10.0f} {total:>9.1f} {sql:>7.1f} {total - sql:>9.1f} "
            f"{statistics.median(cpus):>10.2f}"
        )
        if args.explain:
            stats["captured"] = []
            call()
            for statement, parameters in stats.pop("captured"):
                print("    " + explain(engine, statement, parameters))
        if args.profile and args.profile in name:
            import cProfile
            import pstats

            # CPU time, not wall time: on a shared machine, waiting for a core is not our cost.
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(args.n):
                call()
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def explain(engine, statement: str, parameters) -> str:
    """One line per statement: its execution time and every scan of its plan (EXPLAIN ANALYZE)."""
    with engine.connect() as connection:
        plan = connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar()
        connection.rollback()
    scans: list[str] = []

    def walk(node: dict) -> None:
        if "Scan" in node["Node Type"]:
            where = node.get("Index Name") or node.get("Relation Name") or ""
            scans.append(f"{node['Node Type']} {where} ({node.get('Actual Rows', 0)} rows)")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    found = re.search(r"\bFROM\s+([a-z_]+)", statement)
    table = found.group(1) if found else "?"
    return f"{plan[0]['Execution Time']:7.2f} ms  {table:<22} " + "; ".join(scans)


if __name__ == "__main__":
    main()
