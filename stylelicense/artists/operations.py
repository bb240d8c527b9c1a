"""The artist dashboard: what the artist's styles earned, per day and per style, and the licences
recently sold. Every figure comes from the ledger (``artist_credit`` rows) and the licences, so it
agrees with the balances (``ledger verify``)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from ..api import iso
from ..extensions import db
from ..generations.models import Generation
from ..models import utcnow
from ..provenance.models import Licence
from ..provenance.serials import format_serial
from ..styles.models import Style
from ..tokens.models import Transaction
from ..users.models import User

RECENT_LICENCES = 10


def _day(value: Any) -> str:
    """A SQL ``date()`` result as YYYY-MM-DD (PostgreSQL gives a date, SQLite a string)."""
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def artist_dashboard(user: User, days: int = 30) -> dict[str, Any]:
    """SPEC §13 dashboard of ``user``'s artist profile over the last ``days`` days (UTC, today included)."""
    artist = user.artist
    today = utcnow().date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, time.min, tzinfo=utcnow().tzinfo)
    credits = (Transaction.user_id == user.id, Transaction.transaction_type == "artist_credit")

    # UTC days whatever the database session's time zone (SQLite stores UTC text already).
    stamp = Transaction.created_at
    day = func.date(func.timezone("UTC", stamp) if db.engine.dialect.name == "postgresql" else stamp)
    per_day = {
        _day(d): (int(tokens or 0), int(count))
        for d, tokens, count in db.session.execute(
            select(day, func.sum(Transaction.amount), func.count(Transaction.id))
            .where(*credits, Transaction.created_at >= since)
            .group_by(day)
        )
    }
    daily = []
    for offset in range(days):
        key = (first_day + timedelta(days=offset)).isoformat()
        tokens, count = per_day.get(key, (0, 0))
        daily.append({"date": key, "tokens": tokens, "generations": count})

    per_style = {
        style_id: (int(count), int(earned or 0))
        for style_id, count, earned in db.session.execute(
            select(Generation.style_id, func.count(Transaction.id), func.sum(Transaction.amount))
            .join(Generation, Generation.id == Transaction.related_generation_id)
            .where(*credits)
            .group_by(Generation.style_id)
        )
    }
    styles = [
        {
            "id": style.id,
            "title": style.title,
            "training_status": style.training_status,
            "is_paused": style.is_paused,
            "generation_cost_tokens": style.generation_cost_tokens,
            "generations": per_style.get(style.id, (0, 0))[0],
            "earned": per_style.get(style.id, (0, 0))[1],
        }
        for style in db.session.scalars(
            select(Style).where(Style.artist_id == artist.id).order_by(Style.created_at.desc(), Style.id.desc())
        )
    ]

    licences = db.session.execute(
        select(Licence.serial, Licence.created_at, Licence.style_id, User.id, User.username)
        .join(User, User.id == Licence.buyer_id)
        .where(Licence.artist_id == artist.id, Licence.delivered_at.is_not(None))
        .order_by(Licence.delivered_at.desc(), Licence.id.desc())
        .limit(RECENT_LICENCES)
    ).all()
    return {
        "earned_total": artist.earned_token_balance,
        "earned_in_period": sum(item["tokens"] for item in daily),
        "daily": daily,
        "styles": styles,
        "recent_licences": [
            {
                "serial": format_serial(serial),
                "created_at": iso(created),
                "style_id": style_id,
                "licensee": {"id": buyer_id, "username": username},
            }
            for serial, created, style_id, buyer_id, username in licences
        ],
    }
