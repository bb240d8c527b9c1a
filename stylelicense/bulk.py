"""Bulk loading in the session's transaction: ``COPY`` on PostgreSQL (a million rows in seconds), plain
multi-row inserts elsewhere, ids reserved from the tables' sequences first so rows can point at each other
without reading anything back. Used by the demo data command (``demo.py``) and the benchmarks."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Table, text

from .extensions import db

CHUNK = 50_000


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | dict):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Writer:
    """Inserts many rows fast in the session's transaction (nothing is committed here)."""

    def __init__(self) -> None:
        self.connection = db.session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        raw = self.connection.connection.dbapi_connection
        self.copy = self.postgres and hasattr(raw.cursor(), "copy_expert")  # psycopg2

    def reserve_ids(self, table: Table, count: int) -> list[int]:
        """``count`` fresh primary keys for ``table`` (taken from its sequence on PostgreSQL)."""
        if count == 0:
            return []
        if self.postgres:
            rows = (
                self.connection.execute(
                    text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
                    {"t": table.name, "n": count},
                )
                .scalars()
                .all()
            )
            return sorted(rows)
        start = (self.connection.execute(text(f"SELECT max(id) FROM {table.name}")).scalar() or 0) + 1
        return list(range(start, start + count))

    def insert(self, table: Table, columns: Sequence[str], rows: Iterable[tuple]) -> int:
        total = 0
        iterator = iter(rows)
        while chunk := list(itertools.islice(iterator, CHUNK)):
            total += len(chunk)
            if self.copy:
                buffer = io.StringIO()
                for row in chunk:
                    buffer.write("\t".join(_copy_value(v) for v in row))
                    buffer.write("\n")
                buffer.seek(0)
                cursor = self.connection.connection.dbapi_connection.cursor()
                cursor.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN", buffer)
            else:
                self.connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in chunk])
        return total


def analyze() -> None:
    """After a bulk load (PostgreSQL, after the commit): fresh planner statistics, and a vacuum so the
    visibility map allows index-only scans at once (as autovacuum would do later)."""
    if db.session.get_bind().dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(
                text(
                    "VACUUM ANALYZE users, artists, styles, tags, style_tags, generations, "
                    "generation_tags, likes, comments, follows, notifications"
                )
            )
