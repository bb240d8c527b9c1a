"""An optional PostgreSQL read replica for the public read path (``DATABASE_REPLICA_URL``, off
unless set).

Only the public answers the cache builds (feed pages, style lists, style pages, search, public
profiles) read from the replica: they are already allowed to be a few seconds old. Everything a user
does to their own data, every write and every money movement stays on the primary. Right after a
write that changed public content (the cache's invalidation) the public reads go to the primary for
``REPLICA_GRACE_SECONDS``, so a replica that lags cannot put the old answer back into the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g, has_app_context
from flask_sqlalchemy.session import Session

BIND = "replica"


class RoutingSession(Session):
    """Flask-SQLAlchemy's session, sending reads to the replica inside ``replica_reads()``."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if bind is None and not self._flushing and has_app_context() and g.get("_read_replica"):
            return self._db.engines[BIND]
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def configured() -> bool:
    return bool(current_app.config.get("DATABASE_REPLICA_URL"))


@contextmanager
def replica_reads(enabled: bool = True) -> Iterator[None]:
    """Reads in this block go to the replica when one is configured (and ``enabled``)."""
    if not (enabled and configured()):
        yield
        return
    previous = g.get("_read_replica", False)
    g._read_replica = True
    try:
        yield
    finally:
        g._read_replica = previous
