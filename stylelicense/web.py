"""The built SPA at / (history-mode routes fall back to index.html), local media, and /api/config."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, abort, current_app, request, send_from_directory
from pydantic import Field

from . import limits
from .api import Schema, endpoint, ok
from .storage import LocalStorage, get_storage

bp = Blueprint("web", __name__)

_PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>Style License</title></head>
<body><h1>Style License</h1><p>The web app is not built yet: run <code>make frontend</code>.
The API is at <a href="/api/docs">/api/docs</a>.</p></body></html>"""


class PackageOut(Schema):
    id: str
    tokens: int
    price: int
    currency: str


class ConfigOut(Schema):
    google_login: bool
    dev_login: bool
    toss_client_key: str | None
    sandbox_checkout: bool
    environment: str
    limits: dict[str, int] = Field(
        description="Every limit the server enforces (sizes in bytes, lengths in "
        "characters); the SPA validates with these, never its own copies"
    )
    packages: list[PackageOut] = Field(description="Token packages, cheapest first")
    error_codes: list[str] = Field(description="Every code an error envelope can carry (SPEC §6)")


@bp.get("/api/config")
@endpoint(response=ConfigOut, summary="What the SPA needs to know: login options, limits, packages, error codes")
def public_config():
    """What the SPA needs to know about this deployment (no secrets), with the server's limits."""
    config = current_app.config
    return ok(
        {
            "google_login": bool(config["GOOGLE_CLIENT_ID"]),
            "dev_login": config["DEV_LOGIN_ENABLED"],
            "toss_client_key": config["TOSS_CLIENT_KEY"],
            "sandbox_checkout": config["SANDBOX_CHECKOUT"],
            "environment": config["ENV_NAME"],
            "limits": limits.limits(),
            "packages": limits.packages(),
            "error_codes": limits.error_codes(),
        }
    )


@bp.get("/media/private/<path:key>")
def private_media(key: str):
    """Private objects of the local backend, only with a valid, unexpired signature."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    try:
        expires = int(request.args.get("expires", "0"))
    except ValueError:
        abort(403)
    if not storage.verify(key, expires, request.args.get("signature", "")):
        abort(403)
    return _send(storage, key, public=False)


@bp.get("/media/<path:key>")
def public_media(key: str):
    """Public objects (signed outputs, thumbnails) of the local backend."""
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    return _send(storage, key, public=True)


def _send(storage: LocalStorage, key: str, *, public: bool):
    try:
        path = storage._path(key, public)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    # ?download=<name>: save it under a name that says what it is (Content-Disposition: attachment).
    name = _download_name(request.args.get("download"), path.suffix)
    response = send_from_directory(
        path.parent, path.name, max_age=3600 if public else 0, as_attachment=name is not None, download_name=name
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not public:
        # A private image is for its owner's browser only: no shared cache keeps a copy.
        response.headers["Cache-Control"] = "private, no-store, max-age=0"
    return response


def _download_name(raw: str | None, suffix: str) -> str | None:
    """A safe file name from the query (letters of any script, digits, ``-`` and ``_``), with the
    stored file's own extension; None when none was asked for."""
    if not raw:
        return None
    stem = re.sub(r"[^\w-]+", "-", raw.rsplit(".", 1)[0], flags=re.UNICODE).strip("-_")[:100]
    return f"{stem or 'image'}{suffix}"


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def spa(path: str):
    if path.startswith(("api/", "media/")):
        abort(404)
    dist = Path(current_app.config["FRONTEND_DIST"])
    if path and (dist / path).is_file():
        return send_from_directory(dist, path)
    if (dist / "index.html").is_file():
        return send_from_directory(dist, "index.html", max_age=0)
    return _PLACEHOLDER
