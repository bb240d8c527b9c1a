"""Flower asks for a login in every profile: `make run` (credentials generated into the instance
folder), any `celery -A workers flower` from the repository, and production (refuses to start
without FLOWER_BASIC_AUTH; the compose file requires it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flower(tmp_path: Path, port: int, **env: str) -> subprocess.Popen:
    environment = {
        **os.environ,
        "STYLELICENSE_INSTANCE": str(tmp_path / "instance"),
        "CELERY_BROKER_URL": "memory://",
        "STYLELICENSE_ENV": "development",
        **env,
    }
    if "FLOWER_BASIC_AUTH" not in env:
        environment.pop("FLOWER_BASIC_AUTH", None)
    log = open(tmp_path / "flower.log", "wb")  # (a pipe nobody reads would fill up and block Flower)
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers", "flower", f"--port={port}", "--address=127.0.0.1"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _get(port: int, auth=None):
    try:
        return requests.get(f"http://127.0.0.1:{port}/", auth=auth, timeout=5)
    except requests.ConnectionError:
        return None


def test_local_flower_requires_the_generated_login(tmp_path):
    port = _free_port()
    process = _flower(tmp_path, port)
    try:
        # (a Response is falsy when not ok: wait for "answered", not for the response itself)
        wait_for(lambda: _get(port) is not None, timeout=180, message="flower to listen")
        refused = _get(port)
        assert refused.status_code == 401
        user, password = (tmp_path / "instance" / "flower_basic_auth").read_text().strip().split(":", 1)
        assert len(password) >= 20
        assert _get(port, ("operator", "wrong")).status_code == 401
        assert _get(port, (user, password)).status_code == 200
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)


def test_production_flower_refuses_to_start_without_credentials(tmp_path):
    process = _flower(tmp_path, _free_port(), STYLELICENSE_ENV="production")
    process.wait(180)
    assert process.returncode != 0
    assert "FLOWER_BASIC_AUTH" in (tmp_path / "flower.log").read_text()


def test_compose_requires_flower_credentials(tmp_path):
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose (Debian package) is required; .ci/run installs it"
    env_file = tmp_path / "no-flower.env"
    env_file.write_text(
        "\n".join(
            line
            for line in (ROOT / "deploy/.env.example").read_text().splitlines()
            if not line.startswith("FLOWER_BASIC_AUTH=")
        )
    )
    result = subprocess.run(
        [compose, "-f", "deploy/docker-compose.yml", "--env-file", str(env_file), "config"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "FLOWER_BASIC_AUTH" in result.stderr
