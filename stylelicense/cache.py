"""The public read cache: answers that are the same for everyone (anonymous feed pages, style lists,
style pages, search, public profiles), kept for a few seconds and shared by every API process.

- Backend: Redis when ``CACHE_URL`` (or ``REDIS_URL``) is set — production, shared by all gunicorn
  workers and containers; otherwise a small in-process dictionary (``make run``). Off when
  ``PUBLIC_CACHE_SECONDS`` is 0 (the default in tests, which enable it where they test it).
- What is stored is always built for an anonymous viewer; per-user parts (a feed's ``is_liked``)
  are added after the lookup and never stored. Private data never enters it.
- Invalidation: every key carries a version number. A commit that changed public content through
  the ORM (a style, a user's public fields, an artist name, a tag's moderation flags, an image made
  public or private or edited) increments the version, so every cached answer is dropped at once.
  Counters that move with ``UPDATE … SET n = n + 1`` (likes, comments, followers, generations) are
  not worth that: they may lag by at most ``PUBLIC_CACHE_SECONDS``. The response to the like
  itself carries the fresh count.
- HTTP: an anonymous answer carries ``Cache-Control: public, max-age=N`` and an ``ETag`` (nginx
  micro-caches it; ``If-None-Match`` gets a 304); a signed-in answer is ``private, no-cache``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from flask import Flask, Response, current_app, request, session
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .replica import replica_reads

VERSION_KEY = "public:version"
BUMPED_KEY = "public:bumped_at"
MEMORY_ENTRIES = 4096


class MemoryBackend:
    """One process's dictionary with expiry and a size bound (least recently stored goes first)."""

    def __init__(self, max_entries: int = MEMORY_ENTRIES) -> None:
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._version = 0
        self._bumped_at = 0.0
        self._max = max_entries

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._data[key]
                return None
            return item[1]

    def set(self, key: str, value: bytes, seconds: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + seconds, value)
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def lookup(self, key: str) -> tuple[bytes | None, int, float]:
        """The stored value of ``key`` (or None), the version of every key and when it last changed
        (epoch seconds)."""
        return self.get(key), self._version, self._bumped_at

    def bump(self) -> None:
        with self._lock:
            self._version += 1
            self._bumped_at = time.time()
            self._data.clear()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisBackend:
    """Shared by every process: entries expire on their own, the version is one counter."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._prefix = prefix

    def get(self, key: str) -> bytes | None:
        return self._redis.get(self._prefix + key)

    def set(self, key: str, value: bytes, seconds: int) -> None:
        self._redis.set(self._prefix + key, value, ex=seconds)

    def lookup(self, key: str) -> tuple[bytes | None, int, float]:
        # One round trip for the entry and the version it must match (a hit costs one MGET).
        version, bumped_at, value = self._redis.mget(
            self._prefix + VERSION_KEY, self._prefix + BUMPED_KEY, self._prefix + key
        )
        return value, int(version or 0), float(bumped_at or 0)

    def bump(self) -> None:
        with self._redis.pipeline() as pipe:
            pipe.incr(self._prefix + VERSION_KEY)
            pipe.set(self._prefix + BUMPED_KEY, repr(time.time()))
            pipe.execute()

    def clear(self) -> None:
        self.bump()


def init_cache(app: Flask) -> None:
    """Bind the backend to the app (no connection is made here)."""
    url = app.config.get("CACHE_URL")
    seconds = int(app.config.get("PUBLIC_CACHE_SECONDS") or 0)
    backend = None
    if seconds > 0:
        backend = RedisBackend(url, app.config.get("CACHE_KEY_PREFIX", "sl:")) if url else MemoryBackend()
    app.extensions["public_cache"] = backend


def _backend():
    return current_app.extensions.get("public_cache")


def viewer_id() -> int | None:
    """The signed-in user's id from the session cookie, without loading the user (Flask-Login's key)."""
    value = session.get("_user_id")
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _logger():
    return current_app.logger


class Entry(NamedTuple):
    """A public answer's JSON and the ids a per-viewer step needs without parsing it: the style's
    owner (answered from the database instead, they see more), the feed page's images (hearts)."""

    body: bytes
    ids: tuple[int, ...] = ()


def cached_data(name: str, build: Callable[[], Any]) -> bytes:
    """The JSON of ``build()`` (data for an anonymous viewer) for this request's path and query, from
    the cache or built and stored. A failing cache is skipped, never an error for the client."""
    return cached_entry(name, build).body


def cached_entry(name: str, build: Callable[[], Any], ids: Callable[[Any], Iterable[int]] | None = None) -> Entry:
    """:func:`cached_data` with ``ids(data)`` kept next to the answer.

    An entry is stored under its path alone, headed by the version it was built at: a lookup reads
    the entry and the current version in one round trip and drops an entry of an older version."""
    backend = _backend()
    if backend is None:
        return _entry(build(), ids)
    key, version, bumped_at = None, 0, time.time()
    try:
        key = f"{name}:{request.full_path}"
        value, version, bumped_at = backend.lookup(key)
        if value is not None:
            header, _, body = value.partition(b"\n")
            stored_version, _, stored_ids = header.partition(b" ")
            if int(stored_version) == version:
                return Entry(body, tuple(int(i) for i in stored_ids.split(b",") if i))
    except Exception as error:  # noqa: BLE001 - the cache is an optimisation; the database answers
        _logger().warning("public cache unavailable", extra={"error": str(error)[:200]})
        key = None
    # A replica that may not have the latest public change yet is not asked right after one.
    settled = time.time() - bumped_at > int(current_app.config.get("REPLICA_GRACE_SECONDS") or 0)
    with replica_reads(enabled=settled and key is not None):
        entry = _entry(build(), ids)
    if key is not None:
        try:
            header = f"{version} {','.join(map(str, entry.ids))}\n".encode()
            backend.set(key, header + entry.body, int(current_app.config["PUBLIC_CACHE_SECONDS"]))
        except Exception as error:  # noqa: BLE001
            _logger().warning("public cache unavailable", extra={"error": str(error)[:200]})
    return entry


def _entry(data: Any, ids: Callable[[Any], Iterable[int]] | None) -> Entry:
    return Entry(dumps(data), tuple(ids(data)) if ids else ())


def dumps(data: Any) -> bytes:
    """JSON as the cache stores it (compact, UTF-8)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def respond(data_json: bytes, *, personal: bool) -> Response:
    """The success envelope around already-serialised data, with validators and caching headers."""
    body = b'{"success":true,"data":' + data_json + b"}"
    etag = hashlib.blake2b(body, digest_size=12).hexdigest()
    if personal:
        cache_control = "private, no-cache"
    else:
        cache_control = f"public, max-age={int(current_app.config.get('PUBLIC_CACHE_SECONDS') or 0)}"
    if request.if_none_match and etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = cache_control
    response.vary.add("Cookie")
    return response


def clear() -> None:
    """Drop every cached answer (operators, tests)."""
    backend = _backend()
    if backend is not None:
        backend.clear()


# --- invalidation ------------------------------------------------------------------------------

# Per model: the attributes whose change alters a public answer (None = any attribute).
_IGNORED_STYLE_FIELDS = {"progress", "updated_at", "training_attempts", "training_started_at"}


def _public_change(obj: Any, is_new: bool, is_deleted: bool) -> bool:
    name = type(obj).__name__
    if name not in ("Generation", "Style", "User", "Artist", "Tag"):
        return False
    if name == "Generation":
        if is_new or is_deleted:
            return bool(getattr(obj, "is_public", False))
        return _changed(obj, {"is_public", "description", "result_key", "thumbnail_key"}) or (
            bool(obj.is_public) and _changed(obj, {"status"})
        )
    if is_new or is_deleted:
        return name != "User"  # a new account shows nowhere until it acts
    if name == "Style":
        state = inspect(obj)
        return any(attr.history.has_changes() for attr in state.attrs if attr.key not in _IGNORED_STYLE_FIELDS)
    if name == "User":
        return _changed(obj, {"username", "bio", "profile_image_key", "is_active", "role", "deactivated_at"})
    if name == "Artist":
        return _changed(obj, {"artist_name"})
    return _changed(obj, {"is_active", "is_flagged", "name"})  # Tag


def _changed(obj: Any, keys: set[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(key in attrs and attrs[key].history.has_changes() for key in keys)


@event.listens_for(Session, "after_flush")
def _note_public_changes(session: Session, _context) -> None:
    if session.info.get("public_changed"):
        return
    for objects, is_new, is_deleted in (
        (session.new, True, False),
        (session.dirty, False, False),
        (session.deleted, False, True),
    ):
        for obj in objects:
            if _public_change(obj, is_new, is_deleted):
                session.info["public_changed"] = True
                return


@event.listens_for(Session, "after_commit")
def _invalidate(session: Session) -> None:
    if not session.info.pop("public_changed", False):
        return
    try:
        backend = _backend()
    except RuntimeError:  # no app context (a script): nothing cached in this process
        return
    if backend is not None:
        try:
            backend.bump()
        except Exception as error:  # noqa: BLE001 - entries then expire on their own within seconds
            _logger().warning("public cache invalidation failed", extra={"error": str(error)[:200]})


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("public_changed", None)
