"""Flower's configuration (read by `celery -A workers flower` from the working directory).

Flower shows every job's arguments and can revoke or kill tasks, so it always asks for a login:
``FLOWER_BASIC_AUTH`` (``user:password``) from the environment; without it, production refuses to
start and a local run uses ``operator:<random>`` generated once into the instance folder
(``instance/flower_basic_auth``, printed by ``make run``).
"""

import os
import secrets
import sys
from pathlib import Path


def _credentials() -> str:
    given = os.environ.get("FLOWER_BASIC_AUTH", "").strip()
    if given:
        if ":" not in given or given.endswith(":"):
            sys.exit("FLOWER_BASIC_AUTH must be user:password")
        return given
    if os.environ.get("STYLELICENSE_ENV") == "production":
        sys.exit("production requires FLOWER_BASIC_AUTH (user:password) for Flower")
    instance = Path(os.environ.get("STYLELICENSE_INSTANCE") or Path(__file__).resolve().parent / "instance")
    path = instance / "flower_basic_auth"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(f"operator:{secrets.token_urlsafe(18)}\n")
        path.chmod(0o600)
    return path.read_text().strip()


basic_auth = [_credentials()]
