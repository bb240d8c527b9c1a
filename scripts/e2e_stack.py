"""The real stack for the browser end-to-end tests (Playwright's `webServer` runs this).

Starts, on one port, what `make run` starts, but on throwaway resources so runs never mix:
a fresh PostgreSQL database migrated with `flask db upgrade`, a private RabbitMQ virtual host,
local storage in a temp folder, the Flask app serving `frontend/dist` (development mode: dev
login, sandbox checkout because no Toss keys are passed, tiny model) and one real
`celery -A workers worker` for both queues. Ready when `/readyz` answers 200.

SIGTERM/SIGINT (or the parent process going away) stops the worker and the app, drops the
database and the vhost and removes the temp folder.

    .venv/bin/python scripts/e2e_stack.py --port 5187

Environment: TEST_POSTGRES_URL (admin URL, default postgresql+psycopg2://postgres@127.0.0.1:5432/postgres),
TEST_RABBITMQ_HOST (127.0.0.1), E2E_LOG_DIR (keep the app/worker logs there instead of the temp folder),
TRAINING_MAX_STEPS (6), TRAINING_RESOLUTION (128), GENERATION_STEPS (12).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
RABBIT_HOST = os.environ.get("TEST_RABBITMQ_HOST", "127.0.0.1")
# Limits stay on, sized for one test run that signs in a handful of users within a minute.
APP_FACTORY = ("stylelicense.app:create_app(RATELIMIT_LOGIN='100 per minute', RATELIMIT_GENERATION='30 per minute', "
               "RATELIMIT_SIGNED_IN='300 per minute')")
# Variables of the caller that would change what is being tested (real Toss, Google, another database...).
DROPPED_ENV = (
    "TOSS_CLIENT_KEY", "TOSS_SECRET_KEY", "GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "DATABASE_URL",
    "STORAGE_URL", "PUBLIC_STORAGE_URL", "S3_ENDPOINT_URL", "CELERY_BROKER_URL", "RATELIMIT_ENABLED",
    "RATELIMIT_STORAGE_URI", "WTF_CSRF_ENABLED", "STYLELICENSE_FAULTS", "TRAINING_FAULTS", "SENTRY_DSN",
    "FLASK_DEBUG", "FLASK_APP",
)


def log(message: str) -> None:
    print(f"[e2e-stack] {message}", file=sys.stderr, flush=True)


class Stopping(Exception):
    """A signal asked the stack to stop."""


class Stack:
    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="stylelicense-e2e-"))
        self.log_dir = Path(os.environ.get("E2E_LOG_DIR") or self.tmp / "logs")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.suffix = f"{os.getpid()}_{secrets.token_hex(3)}"
        self.db_name = f"sl_e2e_{self.suffix}"
        self.vhost = f"sl_e2e_{self.suffix}"
        self.db_created = False
        self.vhost_created = False
        self.processes: dict[str, subprocess.Popen] = {}
        self.env: dict[str, str] = {}

    # --- resources -------------------------------------------------------------------------------

    def _admin(self):
        from sqlalchemy import create_engine

        return create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")

    def create_database(self) -> str:
        from sqlalchemy import text

        engine = self._admin()
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        engine.dispose()
        self.db_created = True
        return ADMIN_URL.rsplit("/", 1)[0] + f"/{self.db_name}"

    def drop_database(self) -> None:
        if not self.db_created:
            return
        from sqlalchemy import text

        engine = self._admin()
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        engine.dispose()
        self.db_created = False

    def create_vhost(self) -> str:
        subprocess.run(["rabbitmqctl", "add_vhost", self.vhost], check=True, capture_output=True, timeout=60)
        self.vhost_created = True
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        return f"amqp://guest:guest@{RABBIT_HOST}:5672/{self.vhost}"

    def delete_vhost(self) -> None:
        if self.vhost_created:
            subprocess.run(["rabbitmqctl", "delete_vhost", self.vhost], capture_output=True, timeout=60)
            self.vhost_created = False

    # --- processes -------------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        out = open(self.log_dir / f"{name}.log", "ab")
        # Own session: this script decides the stop order (worker first, then the API it calls).
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        out.close()
        self.processes[name] = process
        return process

    def _stop(self, name: str, timeout: float) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        except ProcessLookupError:
            pass

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}")

    def wait_for(self, what: str, predicate, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if predicate():
                return
            time.sleep(0.5)
        raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _worker_ready(self) -> bool:
        text = (self.log_dir / "worker.log").read_text(errors="replace")
        return " ready." in text

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        base = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        database_url = self.create_database()
        broker_url = self.create_vhost()
        self.env = {
            **base,
            "STYLELICENSE_ENV": "development",
            "STYLELICENSE_INSTANCE": str(self.tmp / "instance"),
            "SECRET_KEY": secrets.token_urlsafe(32),
            "INTERNAL_API_TOKEN": secrets.token_urlsafe(32),
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "STORAGE_URL": (self.tmp / "storage").as_uri(),
            "STYLELICENSE_DEV_LOGIN": "1",
            "STYLELICENSE_BASE_MODEL": "tiny",
            "TRAINING_MAX_STEPS": os.environ.get("TRAINING_MAX_STEPS") or "6",
            # The worker's test knobs: a smaller training size and fewer denoising steps on CPU.
            "TRAINING_RESOLUTION": os.environ.get("TRAINING_RESOLUTION") or "128",
            "GENERATION_STEPS": os.environ.get("GENERATION_STEPS") or "12",
            "API_BASE_URL": self.url,
            "PUBLIC_BASE_URL": self.url,
            "FRONTEND_DIST": str(ROOT / "frontend" / "dist"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        if not (ROOT / "frontend" / "dist" / "index.html").is_file():
            log("warning: frontend/dist is not built (run `make frontend`); pages will be 404")
        log(f"database {self.db_name}, vhost {self.vhost}, logs in {self.log_dir}")
        migrate = subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                                 env=self.env, capture_output=True, text=True, timeout=300)
        if migrate.returncode != 0:
            raise RuntimeError(f"flask db upgrade failed:\n{migrate.stdout}{migrate.stderr}")
        # The tiny model is built once per machine (cached); doing it here keeps the first test fast.
        if not _tiny_model_cached():
            log("building the tiny model cache (first run on this machine)")
            subprocess.run([PYTHON, "-c", "from workers.pipelines.base_model import ensure_tiny_model as e; e()"],
                           cwd=ROOT, env=self.env, check=True, timeout=600)
        self._spawn("worker", [
            PYTHON, "-m", "celery", "-A", "workers", "worker", "-Q", "model_training,image_generation",
            "-c", "1", "--pool", "prefork", "--without-gossip", "--without-mingle", "-l", "info",
            "-n", f"e2e-{self.suffix}@%h",
        ])
        self.wait_for("the worker", self._worker_ready, 180)
        self._spawn("api", [PYTHON, "-m", "flask", "--app", APP_FACTORY, "run", "--host", "127.0.0.1",
                            "--port", str(self.port), "--no-reload", "--no-debugger", "--with-threads"])
        self.wait_for(f"{self.url}/readyz", self._ready, 120)
        log(f"ready at {self.url} in {time.monotonic() - started:.1f}s")

    def stop(self) -> None:
        self._stop("worker", 20)
        self._stop("api", 10)
        for step in (self.drop_database, self.delete_vhost):
            try:
                step()
            except Exception as error:  # keep cleaning up the rest
                log(f"cleanup: {step.__name__} failed: {error}")
        shutil.rmtree(self.tmp, ignore_errors=True)  # logs survive only in E2E_LOG_DIR
        log("stopped")

    def tail_logs(self) -> None:
        for path in sorted(self.log_dir.glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-40:]
            log(f"--- last lines of {path.name} ---\n" + "\n".join(lines))


def _tiny_model_cached() -> bool:
    """Same place as workers.pipelines.base_model.tiny_model_dir(), without importing torch here."""
    folder = os.environ.get("STYLELICENSE_MODEL_CACHE")
    path = Path(folder).expanduser() if folder else Path.home() / ".cache" / "stylelicense" / "models" / "tiny-sd-v1"
    return (path / "model_index.json").is_file()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("E2E_PORT", "5187")))
    args = parser.parse_args()

    def _signal(signum, _frame):
        raise Stopping(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    parent = os.getppid()
    stack = Stack(args.port)
    code = 0
    try:
        stack.start()
        while True:
            stack.check_alive()
            if os.getppid() != parent:  # the test runner died without stopping us
                log("parent process went away")
                break
            time.sleep(1)
    except Stopping as reason:
        log(f"{reason}: stopping")
    except Exception as error:
        log(f"error: {error}")
        stack.tail_logs()
        code = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
