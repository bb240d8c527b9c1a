"""The production profile's files: compose file validates, every SPEC §12 variable is documented."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC_VARIABLES = [
    "STYLELICENSE_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "STORAGE_URL",
    "S3_ENDPOINT_URL",
    "PUBLIC_STORAGE_URL",
    "INTERNAL_API_TOKEN",
    "API_BASE_URL",
    "STYLELICENSE_BASE_MODEL",
    "STYLELICENSE_DEV_LOGIN",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "TOSS_CLIENT_KEY",
    "TOSS_SECRET_KEY",
    "TOSS_API_BASE",
    "RATELIMIT_STORAGE_URI",
    "SENTRY_DSN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
]


def test_env_example_lists_every_variable():
    names = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / "deploy/.env.example").read_text(), re.M))
    assert not [name for name in SPEC_VARIABLES if name not in names]


def test_env_example_is_a_valid_production_config(tmp_path):
    from stylelicense.config import ConfigError, load_config

    env = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", (ROOT / "deploy/.env.example").read_text(), re.M))
    config = load_config(tmp_path, env)
    assert config["ENV_NAME"] == "production" and not config["DEV_LOGIN_ENABLED"]
    env["TOSS_SECRET_KEY"] = "test_sk_123"
    with pytest.raises(ConfigError):
        load_config(tmp_path, env)


def test_compose_file_validates():
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose (Debian package) is required; .ci/run installs it"
    result = subprocess.run(
        [compose, "-f", "deploy/docker-compose.yml", "--env-file", "deploy/.env.example", "config"],
        cwd=ROOT,
        env={**os.environ, "ENV_FILE": ".env.example"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for service in (
        "postgres",
        "rabbitmq",
        "redis",
        "minio",
        "api",
        "worker-training",
        "worker-inference",
        "flower",
        "nginx",
    ):
        assert f"  {service}:" in result.stdout
    # GPU workers are pinned to one GPU each.
    assert "CUDA_VISIBLE_DEVICES: '0'" in result.stdout and "CUDA_VISIBLE_DEVICES: '1'" in result.stdout


def test_the_sweeps_ship_as_a_scheduled_service():
    """Stuck purchases and stale jobs are swept by a container of the stack, not only by a documented command:
    the `sweeper` service runs deploy/sweeper.sh, which runs each sweep command the app really has."""
    import yaml
    from click import Group

    from stylelicense.app import create_app

    compose = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text())
    sweeper = compose["services"]["sweeper"]
    assert sweeper["command"] == ["deploy/sweeper.sh"] and sweeper["restart"] == "unless-stopped"
    assert sweeper["image"] == compose["services"]["api"]["image"]
    assert "deploy/sweeper.sh" in (ROOT / "deploy/Dockerfile.api").read_text()
    assert "sweeper" in (ROOT / "deploy/deploy.sh").read_text()
    script = (ROOT / "deploy/sweeper.sh").read_text()
    assert os.access(ROOT / "deploy/sweeper.sh", os.X_OK)
    commands = re.findall(r'"\$FLASK" --app wsgi (\S+) (\S+)', script)
    assert sorted(commands) == [
        ("generations", "sweep-stale"),
        ("purchases", "sweep-confirming"),
        ("purchases", "sweep-paid"),
        ("styles", "sweep-stale"),
    ]
    cli = create_app(env={"STYLELICENSE_ENV": "testing", "SECRET_KEY": "x", "INTERNAL_API_TOKEN": "y" * 32}).cli
    for group, name in commands:
        assert isinstance(cli.commands[group], Group) and name in cli.commands[group].commands
