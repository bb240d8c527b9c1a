"""Configuration from the environment (SPEC §12).

Everything is optional for a local run; production refuses to start without the secrets it needs.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

ENVIRONMENTS = ("development", "testing", "production")


class ConfigError(RuntimeError):
    """The environment describes a configuration the platform must not run with."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _instance_secret(instance_path: Path, name: str) -> str:
    """A random secret generated once per instance folder, so local restarts keep sessions."""
    path = instance_path / name
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    path.write_text(value)
    path.chmod(0o600)
    return value


_C2PA_FILES = {
    "C2PA_SIGNING_KEY_PATH": "c2pa-signer.key",
    "C2PA_CERT_CHAIN_PATH": "c2pa-chain.pem",
    "C2PA_TRUST_ANCHORS_PATH": "c2pa-root.pem",
}


def _c2pa_paths(instance_path: Path, env: dict[str, str], mode: str) -> dict[str, str | None]:
    """The C2PA signing chain: the environment's, or in development a local chain created once per
    instance folder (as the secret key is), so every output of a local run carries Content
    Credentials. Production and testing never get one implicitly (production must configure its own)."""
    configured = {name: env.get(name) or None for name in _C2PA_FILES}
    if mode != "development" or configured["C2PA_SIGNING_KEY_PATH"] or configured["C2PA_CERT_CHAIN_PATH"]:
        return configured
    folder = instance_path / "c2pa"
    if not all((folder / file).exists() for file in _C2PA_FILES.values()):
        from .provenance.c2pa_manifest import generate_dev_chain  # c2pa's native library: only when needed

        generate_dev_chain(folder)
    return {name: configured[name] or str(folder / file) for name, file in _C2PA_FILES.items()}


def load_config(instance_path: str | os.PathLike, env: dict[str, str] | None = None) -> dict:
    """Build the Flask config mapping from environment variables.

    `env` defaults to ``os.environ``; tests pass their own mapping.
    """
    env = dict(os.environ if env is None else env)
    instance = Path(instance_path)
    mode = env.get("STYLELICENSE_ENV", "development")
    if mode not in ENVIRONMENTS:
        raise ConfigError(f"STYLELICENSE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {mode!r}")
    production = mode == "production"

    if production:
        missing = [name for name in ("SECRET_KEY", "INTERNAL_API_TOKEN") if not env.get(name)]
        if missing:
            raise ConfigError(f"production requires {', '.join(missing)}")
        if _flag(env.get("STYLELICENSE_DEV_LOGIN"), False):
            raise ConfigError("STYLELICENSE_DEV_LOGIN is never allowed in production")
        for name in ("TOSS_CLIENT_KEY", "TOSS_SECRET_KEY"):
            if env.get(name, "").startswith("test_"):
                raise ConfigError(f"{name} is a Toss test key; production needs live keys")

    secret_key = env.get("SECRET_KEY") or _instance_secret(instance, "secret_key")
    internal_token = env.get("INTERNAL_API_TOKEN") or _instance_secret(instance, "internal_api_token")
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'stylelicense.db'}"
    storage_url = env.get("STORAGE_URL") or (instance / "storage").as_uri()
    broker_url = env.get("CELERY_BROKER_URL") or "filesystem://"
    dev_login = False if production else _flag(env.get("STYLELICENSE_DEV_LOGIN"), mode == "development")
    toss_secret = env.get("TOSS_SECRET_KEY") or None
    # Connections per API process: one per gunicorn thread plus a little headroom (docs/DEPLOYMENT.md).
    engine_options: dict = {"pool_pre_ping": _flag(env.get("DB_POOL_PRE_PING"), True)}
    if not database_url.startswith("sqlite"):
        engine_options.update(
            pool_size=int(env.get("DB_POOL_SIZE") or 5),
            max_overflow=int(env.get("DB_MAX_OVERFLOW") or 10),
            pool_timeout=int(env.get("DB_POOL_TIMEOUT") or 30),
            pool_recycle=1800,
        )
    replica_url = env.get("DATABASE_REPLICA_URL") or None
    # Redis (CACHE_URL, REDIS_URL, or the rate limiter's Redis) shares the public cache between all
    # API processes. Without it: in-process for a local run, off in production (several workers would
    # each keep their own copy and miss each other's invalidations), off in tests unless asked for.
    limiter_uri = env.get("RATELIMIT_STORAGE_URI") or ""
    cache_url = (
        env.get("CACHE_URL")
        or env.get("REDIS_URL")
        or (limiter_uri if limiter_uri.startswith(("redis://", "rediss://")) else None)
    )
    cache_seconds = 0 if mode == "testing" or (production and not cache_url) else 10
    allow_list = [ip.strip() for ip in env.get("INTERNAL_IP_ALLOWLIST", "").split(",") if ip.strip()]

    return {
        "ENV_NAME": mode,
        "TESTING": mode == "testing",
        "SECRET_KEY": secret_key,
        "INTERNAL_API_TOKEN": internal_token,
        "INTERNAL_IP_ALLOWLIST": allow_list,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        **({"SQLALCHEMY_BINDS": {"replica": {"url": replica_url, **engine_options}}} if replica_url else {}),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_FILESYSTEM_FOLDER": env.get("CELERY_FILESYSTEM_FOLDER") or str(instance / "broker"),
        "STORAGE_URL": storage_url,
        "PUBLIC_STORAGE_URL": env.get("PUBLIC_STORAGE_URL") or None,
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "API_BASE_URL": env.get("API_BASE_URL") or "http://127.0.0.1:5000",
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or env.get("API_BASE_URL") or "http://127.0.0.1:5000",
        "BASE_MODEL": env.get("STYLELICENSE_BASE_MODEL") or "tiny",
        "DEV_LOGIN_ENABLED": dev_login,
        "GOOGLE_CLIENT_ID": env.get("GOOGLE_CLIENT_ID") or None,
        "GOOGLE_CLIENT_SECRET": env.get("GOOGLE_CLIENT_SECRET") or None,
        # Overridable so tests can point Authlib at a loopback OIDC provider.
        "GOOGLE_METADATA_URL": env.get("GOOGLE_METADATA_URL")
        or "https://accounts.google.com/.well-known/openid-configuration",
        "TOSS_CLIENT_KEY": env.get("TOSS_CLIENT_KEY") or None,
        "TOSS_SECRET_KEY": toss_secret,
        "TOSS_API_BASE": env.get("TOSS_API_BASE") or "https://api.tosspayments.com",
        # Without Toss keys, development gets a clearly labelled local sandbox checkout.
        "SANDBOX_CHECKOUT": toss_secret is None and not production,
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI") or "memory://",
        # Redis down (a restart, a failover) must not take the API down: the limiter counts in each
        # process's memory until Redis answers again, and never waits long for it.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_STORAGE_OPTIONS": (
            {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
            if limiter_uri.startswith(("redis://", "rediss://"))
            else {}
        ),
        # The public read cache (stylelicense/cache.py).
        "CACHE_URL": cache_url,
        "CACHE_KEY_PREFIX": env.get("CACHE_KEY_PREFIX")
        or "sl:" + hashlib.blake2b(database_url.encode(), digest_size=4).hexdigest() + ":",
        "PUBLIC_CACHE_SECONDS": int(env.get("PUBLIC_CACHE_SECONDS") or cache_seconds),
        # Read replica for the cached public reads (off unless set): see stylelicense/replica.py.
        "DATABASE_REPLICA_URL": replica_url,
        "REPLICA_GRACE_SECONDS": int(env.get("REPLICA_GRACE_SECONDS") or 5),
        "RATELIMIT_ENABLED": _flag(env.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "SENTRY_DSN": env.get("SENTRY_DSN") or None,
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH") or 1100 * 1024 * 1024),
        "MAX_JSON_BYTES": 64 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",  # Strict would break the OAuth return navigation
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        "PERMANENT_SESSION_LIFETIME": 14 * 24 * 3600,
        # Re-issued once a day instead (auth.operations.extend_session_daily).
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead of a clock
        "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
        # Only tools may switch CSRF off, and never in production.
        "WTF_CSRF_ENABLED": True if production else _flag(env.get("WTF_CSRF_ENABLED"), True),
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "FRONTEND_DIST": env.get("FRONTEND_DIST") or str(Path(__file__).resolve().parent.parent / "frontend" / "dist"),
        "TRAINING_MAX_STEPS": int(env["TRAINING_MAX_STEPS"]) if env.get("TRAINING_MAX_STEPS") else None,
        "LICENSE_TERMS_URL": env.get("LICENSE_TERMS_URL") or None,
        **_c2pa_paths(instance, env, mode),
    }
