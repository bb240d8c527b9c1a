"""Search styles (by tag or title) and artists (by artist name or username).

Matching is case-insensitive substring matching, ranked: exact > prefix > substring, then
popularity (a style's generation count, an artist's follower count), then newest id. A style hit
says whether its title (``matched_by: "name"``) or one of its tags (``"tag"``, with
``matched_tag``) matched; on equal rank the title wins. Only completed styles of active artists
are found; flagged or inactive tags are never matched (and a style whose title is itself such a tag
is not found by its title either: the title is a tag, SPEC §4.7). Artists are active users with an
artist profile.

All of it is one SQL statement (a UNION of the three kinds of hits with a computed score), so a
keyset cursor pages through one consistent order. Scores: ``rank * 2 + 1`` for name hits and
``rank * 2`` for tag hits, rank 3/2/1 for exact/prefix/substring.
"""

from __future__ import annotations

from sqlalchemy import case, exists, func, literal_column, or_, select, union_all

from ..api import PageQuery, paginate
from ..community.operations import artist_cards, style_card, visible_tags_by_style
from ..extensions import db
from ..styles.models import Style
from ..tags.models import Tag, style_tags
from ..users.models import Artist, User

STYLE, ARTIST = 1, 0  # the `kind` column; on equal score and popularity styles come first


def _rank(column, q: str):
    return case((column == q, 3), (column.startswith(q, autoescape=True), 2), else_=1)


def rank_text(text: str, q: str) -> int:
    """The same ranking in Python (0 = no match)."""
    text = text.lower()
    return 3 if text == q else 2 if text.startswith(q) else 1 if q in text else 0


def _style_hits(q: str):
    title = func.lower(Style.title)
    blocked_title = exists().where(Tag.name == title, or_(Tag.is_flagged.is_(True), Tag.is_active.is_(False)))
    by_name = select(Style.id.label("id"), (_rank(title, q) * 2 + 1).label("score")).where(
        title.contains(q, autoescape=True), ~blocked_title)
    by_tag = (select(style_tags.c.style_id.label("id"), (func.max(_rank(Tag.name, q)) * 2).label("score"))
              .join(Tag, Tag.id == style_tags.c.tag_id)
              .where(Tag.name.contains(q, autoescape=True), Tag.is_active.is_(True), Tag.is_flagged.is_(False))
              .group_by(style_tags.c.style_id))
    hits = union_all(by_name, by_tag).subquery("style_hits")
    best = select(hits.c.id, func.max(hits.c.score).label("score")).group_by(hits.c.id).subquery("best")
    return (select(literal_column(str(STYLE)).label("kind"), best.c.id, best.c.score,
                   Style.generation_count.label("popularity"))
            .join(Style, Style.id == best.c.id).join(Artist, Artist.id == Style.artist_id)
            .join(User, User.id == Artist.user_id)
            .where(Style.training_status == "completed", Style.is_paused.is_(False), User.is_active.is_(True)))


def _artist_hits(q: str):
    name, username = func.lower(Artist.artist_name), func.lower(User.username)
    rank = case((or_(name == q, username == q), 3),
                (or_(name.startswith(q, autoescape=True), username.startswith(q, autoescape=True)), 2), else_=1)
    return (select(literal_column(str(ARTIST)).label("kind"), User.id.label("id"), (rank * 2 + 1).label("score"),
                   Artist.follower_count.label("popularity"))
            .join(User, User.id == Artist.user_id)
            .where(User.is_active.is_(True),
                   or_(name.contains(q, autoescape=True), username.contains(q, autoescape=True))))


def search(q: str, kind: str, page: PageQuery, viewer: User | None = None) -> dict:
    """Ranked hits for ``q`` (already 1–100 characters); ``kind`` is ``all``, ``styles`` or ``artists``.
    Each result is ``{"type": "style", "matched_by", "matched_tag", "style"}`` or
    ``{"type": "artist", "matched_by": "name", "artist"}``."""
    q = " ".join(q.lower().split())
    parts = []
    if kind in ("all", "styles"):
        parts.append(_style_hits(q))
    if kind in ("all", "artists"):
        parts.append(_artist_hits(q))
    hits = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("hits")
    stmt = select(hits.c.kind, hits.c.id, hits.c.score, hits.c.popularity)
    result = paginate(stmt, [hits.c.score, hits.c.popularity, hits.c.kind, hits.c.id], lambda row: row, page)
    result["results"] = _serialize(result["results"], q, viewer)
    return result


def _serialize(rows, q: str, viewer: User | None) -> list[dict]:
    style_ids = [row.id for row in rows if row.kind == STYLE]
    user_ids = [row.id for row in rows if row.kind == ARTIST]
    styles = {s.id: s for s in db.session.scalars(select(Style).where(Style.id.in_(style_ids)))} if style_ids else {}
    artists = {a.id: a for a in db.session.scalars(
        select(Artist).where(Artist.id.in_({s.artist_id for s in styles.values()})))} if styles else {}
    tags = visible_tags_by_style(style_ids)
    users = list(db.session.scalars(select(User).where(User.id.in_(user_ids)))) if user_ids else []
    cards = artist_cards(users, viewer)
    out = []
    for row in rows:
        if row.kind == STYLE:
            style = styles[row.id]
            by_name = row.score % 2 == 1
            matched_tag = None
            if not by_name:
                matched_tag = max((t for t in tags.get(style.id, []) if rank_text(t, q)),
                                  key=lambda t: (rank_text(t, q), -len(t)), default=None)
            out.append({"type": "style", "matched_by": "name" if by_name else "tag", "matched_tag": matched_tag,
                        "style": style_card(style, artists[style.artist_id], tags.get(style.id, []))})
        elif row.id in cards:
            out.append({"type": "artist", "matched_by": "name", "artist": cards[row.id]})
    return out
