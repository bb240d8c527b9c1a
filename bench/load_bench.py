"""Load bench of the API: the SPA's request mix under locust at 50, 100 and 200 users, and in the same
run a trivial Flask JSON endpoint (the floor) under the same gunicorn settings.

    python bench/load_bench.py            # full: 2,000 styles / 20,000 images / 200,000 likes, ~8 min
    python bench/load_bench.py --quick    # development: smaller data, 20 and 50 users, ~2 min

What it does, all on loopback: creates (or reuses) a PostgreSQL database, applies the migrations,
seeds demo data with `flask --app wsgi demo create` (bulk COPY), starts gunicorn with
deploy/gunicorn.conf.py (or ``--server-args``), runs locust headless (bench/locustfile.py) for a
bounded time per step, then does the same with bench/floor_app.py. Prints per-endpoint median/p95/
p99 and errors for each step, saturated req/s (no think time) of the API and of the floor, their
ratio, the gunicorn CPU time per request, and the load average of the machine at each step (other
processes on a shared box move absolute numbers; the ratio to the floor measured in the same run is
the comparable figure). Rate limits are off (every locust user comes from 127.0.0.1).

``--server-args "--workers 4 --access-logfile -"`` reproduces the server settings shipped before
issue 17 (sync workers, access log) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg2
import requests
from load_mix import ALONE, ORDER

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DEFAULT_DB = "postgresql+psycopg2://postgres@127.0.0.1:5432/sl_load_bench"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def database_exists(url: str, *, fresh: bool) -> bool:
    """Create the database if needed (drop it first with ``fresh``); True when it already existed."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme.split("+")[0], parts.netloc, "/postgres", "", ""))
    connection = psycopg2.connect(admin)
    connection.autocommit = True
    with connection.cursor() as cursor:
        if fresh:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        existed = cursor.fetchone() is not None
        if not existed:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return existed


def flask(env: dict, *args: str) -> None:
    subprocess.run([PY, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def bench_data(url: str, path: Path) -> dict:
    """Who signs in and what they ask for, sampled from the seeded database (plain SQL, no app)."""
    parts = urlsplit(url)
    connection = psycopg2.connect(urlunsplit((parts.scheme.split("+")[0], parts.netloc, parts.path, "", "")))
    with connection.cursor() as cursor:

        def column(sql: str) -> list:
            cursor.execute(sql)
            return [row[0] for row in cursor.fetchall()]

        data = {
            "emails": column(
                "SELECT email FROM users WHERE email LIKE '%%@demo.example.com' AND is_active "
                "ORDER BY random() LIMIT 1000"
            ),
            # Styles anyone may see (completed, not paused, artist active): a 404 would count as an error.
            "style_ids": column(
                "SELECT s.id FROM styles s JOIN artists a ON a.id = s.artist_id "
                "JOIN users u ON u.id = a.user_id WHERE s.training_status = 'completed' "
                "AND NOT s.is_paused AND u.is_active ORDER BY random() LIMIT 1000"
            ),
            "artist_user_ids": column(
                "SELECT a.user_id FROM artists a JOIN users u ON u.id = a.user_id "
                "WHERE u.is_active ORDER BY random() LIMIT 1000"
            ),
            # Images anyone may like (public, completed, owner active): a 404 would count as an error.
            "generation_ids": column(
                "SELECT g.id FROM generations g JOIN users u ON u.id = g.user_id "
                "WHERE g.is_public AND g.status = 'completed' AND u.is_active "
                "ORDER BY random() LIMIT 2000"
            ),
        }
        tags = column("SELECT name FROM tags WHERE is_active AND NOT is_flagged ORDER BY usage_count DESC LIMIT 40")
        names = column("SELECT artist_name FROM artists ORDER BY random() LIMIT 20")
    connection.close()
    searches = []
    for i, tag in enumerate(tags):
        searches.append((tag, "all"))
        searches.append((tag[: max(2, len(tag) // 2)], "styles" if i % 2 else "all"))
    for name in names:
        searches.append((name.split()[0].lower(), "artists" if len(searches) % 3 else "all"))
    searches += [("a", "all"), ("zzqx", "all"), ("water", "styles"), ("neon", "all")]
    data["searches"] = searches
    path.write_text(json.dumps(data))
    return data


class Server:
    """gunicorn on a loopback port; its output goes to a log file."""

    def __init__(self, app: str, port: int, env: dict, server_args: str | None, log: Path):
        args = shlex.split(server_args) if server_args else ["-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
        self.url = f"http://127.0.0.1:{port}"
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [PY, "-m", "gunicorn", *args, "--bind", f"127.0.0.1:{port}", app],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        probe = "/api/ping" if "floor" in app else "/healthz"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited ({self.process.returncode}); see {log}")
            try:
                if requests.get(self.url + probe, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer within 60 s; see {log}")

    def cpu_seconds(self) -> float:
        try:
            parent = psutil.Process(self.process.pid)
            total = 0.0
            for proc in [parent, *parent.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system
            return total
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def run_locust(
    server: Server,
    mode: str,
    users: int,
    seconds: int,
    data_path: Path,
    workdir: Path,
    label: str,
    endpoint: str | None = None,
) -> dict:
    """One bounded headless locust run; returns per-endpoint rows and the aggregate."""
    prefix = workdir / "".join(c if c.isalnum() else "_" for c in label)
    env = {**os.environ, "LOAD_BENCH_MODE": mode, "LOAD_BENCH_DATA": str(data_path)}
    if endpoint:
        env["LOAD_BENCH_ENDPOINT"] = endpoint
    spawn_rate = users if mode == "endpoint" else max(10, users // 4)
    cpu_before = server.cpu_seconds()
    subprocess.run(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "bench" / "locustfile.py"),
            "--headless",
            "--users",
            str(users),
            "--spawn-rate",
            str(spawn_rate),
            "--run-time",
            f"{seconds}s",
            "--host",
            server.url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--reset-stats",
            "--loglevel",
            "ERROR",
            "--stop-timeout",
            "5",
            "--exit-code-on-error",
            "0",
        ],
        cwd=ROOT,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / f"{prefix.name}.err").open("w"),
    )
    cpu = server.cpu_seconds() - cpu_before
    rows = {}
    with open(f"{prefix}_stats.csv") as handle:
        for row in csv.DictReader(handle):
            rows[row["Name"]] = {
                "count": int(row["Request Count"]),
                "errors": int(row["Failure Count"]),
                "median": float(row["50%"] or 0),
                "p95": float(row["95%"] or 0),
                "p99": float(row["99%"] or 0),
                "rps": float(row["Requests/s"] or 0),
            }
    total = rows.pop("Aggregated", {"count": 0, "errors": 0, "median": 0, "p95": 0, "p99": 0, "rps": 0})
    rows = {name: row for name, row in rows.items() if not name.startswith("(sign-in)")}
    total["cpu_ms_per_request"] = round(1000 * cpu / total["count"], 2) if total["count"] else None
    total["load"] = load_average()
    return {"label": label, "users": users, "endpoints": rows, "total": total}


def print_step(result: dict) -> None:
    total = result["total"]
    print(
        f"\n== {result['label']}: {result['users']} users — {total['rps']:.0f} req/s, "
        f"{total['errors']} errors of {total['count']}, p95 {total['p95']:.0f} ms, "
        f"gunicorn CPU {total['cpu_ms_per_request']} ms/request, load avg {total['load']}"
    )
    print(f"  {'endpoint':<16} {'n':>6} {'median':>7} {'p95':>7} {'p99':>7} {'errors':>6}")
    names = [n for n in ORDER if n in result["endpoints"]] + sorted(set(result["endpoints"]) - set(ORDER))
    for name in names:
        row = result["endpoints"][name]
        print(
            f"  {name:<16} {row['count']:>6} {row['median']:>7.0f} {row['p95']:>7.0f} {row['p99']:>7.0f} "
            f"{row['errors']:>6}"
        )


def endpoint_costs(server: Server, users: int, seconds: int, data_path: Path, workdir: Path) -> list[dict]:
    """Each request of the mix alone, no think time: its saturated req/s and gunicorn CPU per request
    (the cache hit rate is that of one endpoint at full rate, higher than in the mix)."""
    rows = []
    for name in ALONE:
        result = run_locust(server, "endpoint", users, seconds, data_path, workdir, f"alone {name}", endpoint=name)
        rows.append({"endpoint": name, **result["total"]})
    print(f"\n== each request alone ({users} users, {seconds} s each, no think time)")
    print(f"  {'endpoint':<16} {'req/s':>7} {'CPU ms':>7} {'p95':>6} {'errors':>6}")
    for row in rows:
        print(
            f"  {row['endpoint']:<16} {row['rps']:>7.0f} {row['cpu_ms_per_request']:>7} {row['p95']:>6.0f} "
            f"{row['errors']:>6}"
        )
    return rows


def summary_table(results: list[dict], saturated: dict, floor: dict) -> str:
    """The Markdown table the README and docs quote."""
    steps = [r for r in results if r["label"].startswith("mix")]
    if not steps:  # saturation only (--steps "")
        return f"saturated: {saturated['total']['rps']:.0f} req/s"
    lines = [
        "| | " + " | ".join(f"{r['users']} users" for r in steps) + " | saturated req/s |",
        "|---|" + "---|" * (len(steps) + 1),
    ]
    cells = [
        f"p95 {r['total']['p95']:.0f} ms, {r['total']['errors']} errors, {r['total']['rps']:.0f} req/s" for r in steps
    ]
    lines.append("| API (whole mix) | " + " | ".join(cells) + f" | {saturated['total']['rps']:.0f} |")
    names = [n for n in ORDER if any(n in r["endpoints"] for r in steps)]
    for name in names:
        lines.append(
            f"| · {name} p95 | "
            + " | ".join(f"{r['endpoints'][name]['p95']:.0f} ms" if name in r["endpoints"] else "—" for r in steps)
            + " | |"
        )
    if floor:
        floor_mix = floor.get("mix")
        lines.append(
            f"| floor (trivial endpoint) | {'— | ' * (len(steps) - 1)}"
            f"p95 {floor_mix['total']['p95']:.0f} ms at {floor_mix['users']} users | "
            f"{floor['saturated']['total']['rps']:.0f} |"
            if floor_mix
            else ""
        )
        ratio = (
            saturated["total"]["rps"] / floor["saturated"]["total"]["rps"] if floor["saturated"]["total"]["rps"] else 0
        )
        lines.append(
            f"\nsaturated throughput = {ratio:.0%} of the floor; load average during the run: "
            + ", ".join(r["total"]["load"].split()[0] for r in results)
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help=f"PostgreSQL database (default {DEFAULT_DB})")
    parser.add_argument("--fresh", action="store_true", help="drop and re-seed the database")
    parser.add_argument("--styles", type=int, default=2000)
    parser.add_argument("--generations", type=int, default=20000)
    parser.add_argument("--likes", type=int, default=200000)
    parser.add_argument("--steps", default="50,100,200", help="user counts of the mix steps")
    parser.add_argument("--step-seconds", type=int, default=60)
    parser.add_argument("--saturate-users", type=int, default=48)
    parser.add_argument("--saturate-seconds", type=int, default=30)
    parser.add_argument(
        "--endpoint-seconds", type=int, default=10, help="each request of the mix alone for this long (0: skip)"
    )
    parser.add_argument(
        "--server-args",
        default=None,
        help="gunicorn arguments instead of -c deploy/gunicorn.conf.py (same for the floor)",
    )
    parser.add_argument("--port", type=int, default=8871)
    parser.add_argument("--quick", action="store_true", help="small data, 20 and 50 users, 20 s steps")
    parser.add_argument("--no-floor", action="store_true", help="skip the floor (development only)")
    parser.add_argument("--json", help="write all results here")
    parser.add_argument(
        "--cache-url",
        default="redis://127.0.0.1:6379/0",
        help="Redis of the public cache, as in production ('' = in-process per worker)",
    )
    parser.add_argument("--env", action="append", default=[], help="extra NAME=VALUE for the API (repeatable)")
    args = parser.parse_args()
    if args.quick:
        args.styles, args.generations, args.likes = 300, 3000, 30000
        args.steps, args.step_seconds, args.saturate_seconds, args.endpoint_seconds = "20,50", 20, 15, 0
        args.database_url = args.database_url or DEFAULT_DB + "_quick"
    url = args.database_url or DEFAULT_DB

    workdir = Path(tempfile.mkdtemp(prefix="sl-load-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STYLELICENSE_ENV": "development",
        "STYLELICENSE_INSTANCE": str(workdir / "instance"),
        "SECRET_KEY": "load-bench",
        "INTERNAL_API_TOKEN": "load-bench",
        "RATELIMIT_ENABLED": "0",
        "STYLELICENSE_DEV_LOGIN": "1",
        "CELERY_BROKER_URL": "memory://",
        "STORAGE_URL": (workdir / "storage").as_uri(),
        "PYTHONPATH": str(ROOT),
        "CACHE_URL": args.cache_url,
        # No worker recycling during a run: a recycled worker takes its CPU counters with it (the floor's
        # 75,000 saturated requests crossed max_requests and read as negative CPU per request).
        "GUNICORN_MAX_REQUESTS": "0",
        **dict(item.split("=", 1) for item in args.env),
    }
    print(
        f"load average at start: {load_average()} ({os.cpu_count()} CPUs); work folder {workdir}; "
        f"server {args.server_args or 'deploy/gunicorn.conf.py'}; cache {args.cache_url or 'in-process'}"
    )
    existed = database_exists(url, fresh=args.fresh)
    flask(env, "db", "upgrade")
    if not existed or args.fresh:
        started = time.monotonic()
        flask(
            env,
            "demo",
            "create",
            "--styles",
            str(args.styles),
            "--generations",
            str(args.generations),
            "--likes",
            str(args.likes),
            "--no-images",
        )
        print(f"seeded in {time.monotonic() - started:.0f} s")
    data_path = workdir / "data.json"
    bench_data(url, data_path)

    results: list[dict] = []
    alone: list[dict] = []
    server = Server("wsgi:app", args.port, env, args.server_args, workdir / "api.log")
    try:
        for _ in range(3):  # warm every worker's imports and pools
            for path in ("/api/generations/feed", "/api/styles", "/api/search?q=ink"):
                requests.get(server.url + path, timeout=30)
        for users in [int(n) for n in args.steps.split(",") if n]:
            result = run_locust(server, "mix", users, args.step_seconds, data_path, workdir, f"mix {users}")
            print_step(result)
            results.append(result)
        saturated = run_locust(
            server, "saturate", args.saturate_users, args.saturate_seconds, data_path, workdir, "saturated"
        )
        print_step(saturated)
        results.append(saturated)
        if args.endpoint_seconds > 0:
            alone = endpoint_costs(server, args.saturate_users, args.endpoint_seconds, data_path, workdir)
    finally:
        server.stop()

    floor: dict = {}
    if not args.no_floor:
        floor_env = {**env, "PYTHONPATH": str(ROOT / "bench")}
        server = Server("floor_app:app", args.port + 1, floor_env, args.server_args, workdir / "floor.log")
        try:
            top = max([int(n) for n in args.steps.split(",") if n] or [args.saturate_users])
            floor["mix"] = run_locust(server, "floor", top, args.step_seconds, data_path, workdir, f"floor {top}")
            print_step(floor["mix"])
            floor["saturated"] = run_locust(
                server,
                "floor-saturate",
                args.saturate_users,
                args.saturate_seconds,
                data_path,
                workdir,
                "floor saturated",
            )
            print_step(floor["saturated"])
            results += [floor["mix"], floor["saturated"]]
        finally:
            server.stop()

    print("\n" + summary_table(results, saturated, floor))
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results, "alone": alone}, indent=1))


if __name__ == "__main__":
    main()
