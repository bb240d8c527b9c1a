"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db, limiter
from .jobs import client as jobs
from .storage import get_storage

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """The process is alive (no dependencies checked)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """Database, broker and storage reachable; 503 with the failing part otherwise."""
    checks: dict[str, str] = {}
    for name, probe in (
        ("database", lambda: db.session.execute(text("SELECT 1"))),
        ("broker", jobs.broker_reachable),
        ("storage", lambda: get_storage().check()),
    ):
        try:
            probe()
            checks[name] = "ok"
        except Exception as error:  # report, never raise: this is a probe
            current_app.logger.warning("readiness check failed", extra={"check": name, "error": str(error)})
            checks[name] = f"error: {type(error).__name__}"
    db.session.rollback()
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), 200 if ready else 503
