"""Test fixtures: a real PostgreSQL database per test session (built by running the migrations),
a Flask test client that speaks CSRF, factories, and — for end-to-end tests — a live HTTP server,
a RabbitMQ virtual host and a real Celery worker process.

Required services fail loudly (never skip): PostgreSQL at TEST_POSTGRES_URL
(default postgresql+psycopg2://postgres@127.0.0.1:5432/postgres) and, for e2e tests, RabbitMQ.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
INTERNAL_TOKEN = "test-internal-token-" + "x" * 16


def _admin_engine():
    return create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def database_url():
    """A fresh PostgreSQL database for this test session, migrated with Alembic, dropped at the end."""
    name = f"sl_test_{os.getpid()}_{secrets.token_hex(3)}"
    engine = _admin_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # fail loudly: these tests need the real database
        pytest.exit(f"PostgreSQL is required at {ADMIN_URL}: {error}", returncode=3)
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _run_migrations(url)
    yield url
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _run_migrations(url: str) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "STYLELICENSE_ENV": "testing",
        "STYLELICENSE_INSTANCE": str(Path("/tmp") / f"sl-migrate-{os.getpid()}"),
    }
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


def base_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "STYLELICENSE_ENV": "testing",
        "SECRET_KEY": "test-secret-key",
        "INTERNAL_API_TOKEN": INTERNAL_TOKEN,
        "DATABASE_URL": database_url,
        "STORAGE_URL": (tmp_path / "storage").as_uri(),
        "CELERY_BROKER_URL": "memory://",
        "STYLELICENSE_DEV_LOGIN": "1",
        "RATELIMIT_ENABLED": "0",
        "STYLELICENSE_BASE_MODEL": "tiny",
    }
    env.update(extra)
    return env


class ApiClient(FlaskClient):
    """Test client that sends the CSRF token on state-changing requests, as the SPA does.
    Pass ``csrf=False`` to send none."""

    _csrf: str | None = None

    def open(self, *args, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        use_csrf = kwargs.pop("csrf", True)
        if use_csrf and method in ("POST", "PUT", "PATCH", "DELETE"):
            headers = dict(kwargs.pop("headers", None) or {})
            if "X-CSRFToken" not in headers:
                if self._csrf is None:
                    response = super().open("/api/auth/csrf")
                    self._csrf = response.get_json()["data"]["csrf_token"]
                headers["X-CSRFToken"] = self._csrf
            kwargs["headers"] = headers
        response = super().open(*args, **kwargs)
        path = str(args[0] if args else kwargs.get("path", ""))
        if ("/api/auth/" in path and method == "POST") or (path == "/api/users/me" and method == "DELETE"):
            self._csrf = None  # login/logout/account deletion clear the session, and with it the token
        return response


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    from stylelicense.app import create_app

    tmp = tmp_path_factory.mktemp("app")
    os.environ["STYLELICENSE_INSTANCE"] = str(tmp / "instance")
    application = create_app(env=base_env(tmp, database_url))
    application.test_client_class = ApiClient
    return application


@pytest.fixture(autouse=True)
def _clean_database(request, database_url):
    """Every test starts from empty tables (tests commit for real: requests and threads need it)."""
    yield
    if "database_url" not in request.fixturenames and "app" not in request.fixturenames:
        return
    engine = _cached_engine(database_url)
    with engine.begin() as connection:
        tables = (
            connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
            .scalars()
            .all()
        )
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


_ENGINES: dict[str, object] = {}


def _cached_engine(url: str):
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(url)
    return _ENGINES[url]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_client(app):
    """More than one browser at once: ``make_client()`` returns a fresh client (own cookies)."""
    return app.test_client


@pytest.fixture
def db_session(app):
    from stylelicense.extensions import db

    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture
def login():
    """``login(client, "ana")`` signs in through the dev login (creating the user with the welcome
    bonus like a first Google login) and returns the /api/auth/me payload."""

    def _login(client, username: str = "alice", email: str | None = None):
        response = client.post(
            "/api/auth/dev-login", json={"email": email or f"{username}@example.com", "username": username}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()["data"]

    return _login


@pytest.fixture
def png_bytes():
    """``png_bytes(w, h, color)`` → a real PNG."""
    from io import BytesIO

    from PIL import Image

    def _png(width: int = 600, height: int = 600, color=(200, 80, 40), fmt: str = "PNG") -> bytes:
        buffer = BytesIO()
        Image.new("RGB", (width, height), color).save(buffer, fmt)
        return buffer.getvalue()

    return _png


@pytest.fixture
def make_artist(client, login, png_bytes):
    """``make_artist(client, "bob")`` signs in and upgrades to artist; returns /api/auth/me."""
    from io import BytesIO

    def _make(client=client, username: str = "artist1", artist_name: str | None = None):
        login(client, username)
        response = client.post(
            "/api/users/me/upgrade-to-artist",
            data={
                "artist_name": artist_name or username.title(),
                "contact_email": f"{username}@studio.example",
                "signature_image": (BytesIO(png_bytes(300, 120, (10, 10, 10))), "signature.png"),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 200, response.get_json()
        return client.get("/api/auth/me").get_json()["data"]

    return _make


# --- end-to-end: live server, RabbitMQ vhost, real Celery worker --------------------------------


@pytest.fixture(scope="session")
def rabbitmq_url():
    """A private RabbitMQ virtual host for this session (queues of parallel runs never mix)."""
    vhost = f"sl_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    host = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1")
    try:
        subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except Exception as error:
        pytest.exit(f"RabbitMQ (rabbitmqctl) is required for end-to-end tests: {error}", returncode=3)
    yield f"amqp://guest:guest@{host}:5672/{vhost}"
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=60)


class LiveServer:
    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def live_server(app):
    """The shared test app over real HTTP (werkzeug's threaded server): for what a test client
    cannot show, e.g. chunked request bodies. Yields the base URL."""
    server = LiveServer(app).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def e2e_env(database_url, rabbitmq_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    # The tiny model's cache: the workers' default (per-user, shared by runs), or STYLELICENSE_MODEL_CACHE
    # from the environment. (Pointing it at the parent "models" folder made the first save fail.)
    return base_env(tmp, database_url, CELERY_BROKER_URL=rabbitmq_url, TRAINING_MAX_STEPS="6")


@pytest.fixture(scope="session")
def live_app(e2e_env):
    """The API served over real HTTP (workers call its webhooks), on the e2e broker."""
    from stylelicense.app import create_app

    application = create_app(env=e2e_env)
    application.test_client_class = ApiClient
    server = LiveServer(application).start()
    application.config["LIVE_URL"] = server.url
    yield application
    server.stop()


class WorkerProcess:
    """A real `celery -A workers worker` process on the e2e vhost."""

    def __init__(self, env: dict[str, str], queues: str, log_path: Path, celery: list[str] | None = None):
        self.env, self.queues, self.log_path = env, queues, log_path
        self.celery = celery or [sys.executable, "-m", "celery"]
        self.process: subprocess.Popen | None = None
        # The generation worker runs as deployed: a threads pool feeding one batching GPU thread.
        threads = queues == "image_generation"
        self.pool = (
            ["--pool", "threads", "-c", env.get("GENERATION_CONCURRENCY", "8")]
            if threads
            else ["--pool", "prefork", "-c", "1"]
        )

    def start(self) -> WorkerProcess:
        self.log = open(self.log_path, "ab")
        # As documented: from the repository root, nothing set but the settings (no PYTHONPATH).
        env = {key: value for key, value in {**os.environ, **self.env}.items() if key != "PYTHONPATH"}
        self.process = subprocess.Popen(
            [
                *self.celery,
                "-A",
                "workers",
                "worker",
                "-Q",
                self.queues,
                *self.pool,
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
                "-n",
                f"test-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashed host would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


@pytest.fixture
def start_worker(live_app, e2e_env, tmp_path):
    """``start_worker()`` launches a worker for both queues; all are stopped after the test."""
    workers: list[WorkerProcess] = []

    def _start(
        queues: str = "model_training,image_generation", celery: list[str] | None = None, **extra_env
    ) -> WorkerProcess:
        env = {**e2e_env, "API_BASE_URL": live_app.config["LIVE_URL"], **extra_env}
        worker = WorkerProcess(env, queues, tmp_path / f"worker-{len(workers)}.log", celery).start()
        workers.append(worker)
        return worker

    yield _start
    for worker in workers:
        worker.stop()


def wait_for(predicate, timeout: float = 120.0, interval: float = 0.5, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def http():
    return requests.Session()
