"""gunicorn settings of the API (docs/DEPLOYMENT.md "API server settings"); every value can be
overridden by an environment variable, so one file serves a 2-core box and a bigger one.

- ``gthread`` workers: a request that waits on PostgreSQL or Redis lets another thread run, and
  idle keep-alive connections cost a socket, not a worker (sync workers cannot keep connections
  alive at all).
- Keep-alive longer than the SPA's idle gaps between calls (1–3 s, polling every 5 s) and shorter
  than nginx's upstream keep-alive timeout: a 2 s keep-alive raced clients that idled 1–3 s and
  showed up as connection resets under load.
- No gunicorn access log: the app writes one JSON line per request (stylelicense/logs.py); two
  logs per request cost CPU for nothing.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core (PostgreSQL and nginx share the box); threads cover the I/O waits.
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count())
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = _int("GUNICORN_THREADS", 4)
keepalive = _int("GUNICORN_KEEPALIVE", 75)
timeout = _int("GUNICORN_TIMEOUT", 120)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
backlog = _int("GUNICORN_BACKLOG", 2048)
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
# Recycle workers now and then (with jitter, so they never all restart at once).
max_requests = _int("GUNICORN_MAX_REQUESTS", 20000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 2000)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# Off by default: each worker builds its own app, so no connection or client made at import time can
# ever be shared across a fork.
preload_app = os.environ.get("GUNICORN_PRELOAD", "0") == "1"
