"""Search styles (by tag or title) and artists (by artist name or username).

Answer (SPEC §6.1): ``{"styles": [style card + matched_by (+ matched_tag)], "artists": [{"id",
"username", "artist_name", "follower_count", "profile_image_url", "matched_by"}]}``, each list the
best ``limit`` hits. Nothing in it depends on who asks, so the public cache can serve it.

Matching is case-insensitive: queries of 3 or more characters match anywhere in a name (substring),
shorter ones only at its start (a one- or two-letter substring matches nearly everything and no
index can serve it). Ranking: exact > prefix > substring, then popularity (a style's generation
count, an artist's follower count), then newest id; a style found by both its title and a tag says
``matched_by: "name"`` unless the tag ranks higher. Only completed styles of active artists are
found (not paused ones); flagged or inactive tags are never matched (and a style whose title is itself such a tag is
not found by its title either: the title is a tag, SPEC §4.7). Artists are active users with an
artist profile.

Cost: on PostgreSQL every ``ILIKE`` is served by a trigram GIN index (migration ``perf_0001``:
``styles.title``, ``tags.name``, ``artists.artist_name``, ``users.username``),
so the candidates come from the index, not from a scan of the catalogue; only the candidates are
ranked and only the top ``limit`` leave the database. Three statements per search (styles, their
tags, artists). SQLite (``make run``) runs the same SQL without the indexes.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import case, exists, func, literal, literal_column, or_, select, union, union_all

from ..api import iso
from ..cards import public_url, visible_tags_by_style
from ..extensions import db
from ..styles.models import Style
from ..tags.models import Tag, style_tags
from ..users.models import Artist, User

SUBSTRING_FROM = 3  # shorter queries match prefixes only


def _rank(column, q: str):
    return case((column == q, 3), (column.startswith(q, autoescape=True), 2), else_=1)


def _matches(column, q: str):
    """``column ILIKE '%q%'`` (or ``'q%'`` for short queries) on the plain column, so PostgreSQL can
    use the column's trigram index; SQLAlchemy renders ``lower(column) LIKE lower(…)`` on SQLite."""
    escaped = q.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = f"%{escaped}%" if len(q) >= SUBSTRING_FROM else f"{escaped}%"
    return column.ilike(pattern, escape="/")


def rank_text(text: str, q: str) -> int:
    """The same ranking in Python (0 = no match)."""
    text = text.lower()
    if text == q:
        return 3
    if text.startswith(q):
        return 2
    return 1 if len(q) >= SUBSTRING_FROM and q in text else 0


def normalize_query(q: str) -> str:
    """Lowercase, inner whitespace collapsed (what the ranking compares against)."""
    return " ".join(q.lower().split())


def _listed(stmt):
    """Only completed, unpaused styles of active artists."""
    return (
        stmt.join(Artist, Artist.id == Style.artist_id)
        .join(User, User.id == Artist.user_id)
        .where(Style.training_status == "completed", Style.is_paused.is_(False), User.is_active.is_(True))
    )


def search_styles(q: str, limit: int) -> list[dict]:
    """The best ``limit`` completed styles whose title or a visible tag matches ``q`` (normalized).

    Scores: rank * 2 + 1 for a title hit, rank * 2 for a tag hit (on equal rank the title wins).
    Ranking is limited to the top hits: the matching tags are grouped by rank first (a few rows, from
    the trigram index), then each group contributes only its ``limit`` most used styles, and so does
    the title match — a tag on 7,000 styles costs a walk down the popularity index, not a sort of 7,000.
    """
    tiers: dict[int, list[int]] = defaultdict(list)
    for tag_id, name in db.session.execute(
        select(Tag.id, Tag.name).where(_matches(Tag.name, q), Tag.is_active.is_(True), Tag.is_flagged.is_(False))
    ):
        tiers[rank_text(name, q)].append(tag_id)
    title = func.lower(Style.title)
    blocked_title = exists().where(Tag.name == title, or_(Tag.is_flagged.is_(True), Tag.is_active.is_(False)))
    order = (Style.generation_count.desc(), Style.id.desc())
    parts = [
        _listed(select(Style.id.label("id"), (_rank(title, q) * 2 + 1).label("score")))
        .where(_matches(Style.title, q), ~blocked_title)
        .order_by(literal_column("score").desc(), *order)
        .limit(limit)
    ]
    for rank, tag_ids in tiers.items():
        tagged = exists().where(style_tags.c.style_id == Style.id, style_tags.c.tag_id.in_(tag_ids))
        parts.append(
            _listed(select(Style.id.label("id"), literal(rank * 2).label("score")))
            .where(tagged)
            .order_by(*order)
            .limit(limit)
        )
    hits = union_all(*[part.subquery().select() for part in parts]).subquery("style_hits")
    best = select(hits.c.id, func.max(hits.c.score).label("score")).group_by(hits.c.id).subquery("best")
    rows = db.session.execute(
        select(
            best.c.score,
            Style.id,
            Style.title,
            Style.description,
            Style.generation_cost_tokens,
            Style.training_status,
            Style.thumbnail_key,
            Style.generation_count,
            Style.created_at,
            Artist.user_id,
            Artist.artist_name,
        )
        .join(Style, Style.id == best.c.id)
        .join(Artist, Artist.id == Style.artist_id)
        .order_by(best.c.score.desc(), *order)
        .limit(limit)
    ).all()
    tags = visible_tags_by_style(row.id for row in rows)
    out = []
    for row in rows:
        style_tag_names = tags.get(row.id, [])
        by_name = row.score % 2 == 1
        matched_tag = (
            None
            if by_name
            else max(
                (t for t in style_tag_names if rank_text(t, q)), key=lambda t: (rank_text(t, q), -len(t)), default=None
            )
        )
        out.append(
            {
                "id": row.id,
                "title": row.title,
                "description": row.description,
                "generation_cost_tokens": row.generation_cost_tokens,
                "training_status": row.training_status,
                "thumbnail_url": public_url(row.thumbnail_key),
                "tags": style_tag_names,
                "artist": {"id": row.user_id, "user_id": row.user_id, "artist_name": row.artist_name},
                "generations_count": row.generation_count,
                "created_at": iso(row.created_at),
                "matched_by": "name" if by_name else "tag",
                "matched_tag": matched_tag,
            }
        )
    return out


def search_artists(q: str, limit: int) -> list[dict]:
    """The best ``limit`` active artists whose artist name or username matches ``q`` (normalized)."""
    name, username = func.lower(Artist.artist_name), func.lower(User.username)
    rank = case(
        (or_(name == q, username == q), 3),
        (or_(name.startswith(q, autoescape=True), username.startswith(q, autoescape=True)), 2),
        else_=1,
    )
    # Two index-driven halves (a condition spanning both tables could use neither table's index).
    by_name = select(Artist.user_id.label("id")).where(_matches(Artist.artist_name, q))
    by_username = select(User.id.label("id")).where(_matches(User.username, q))  # non-artists drop out below
    hits = union(by_name, by_username).subquery("artist_hits")
    rows = db.session.execute(
        select(User.id, User.username, User.profile_image_key, Artist.artist_name, Artist.follower_count)
        .select_from(hits)
        .join(User, User.id == hits.c.id)
        .join(Artist, Artist.user_id == User.id)
        .where(User.is_active.is_(True))
        .order_by(rank.desc(), Artist.follower_count.desc(), User.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": row.id,
            "user_id": row.id,
            "username": row.username,
            "artist_name": row.artist_name,
            "follower_count": row.follower_count,
            "profile_image_url": public_url(row.profile_image_key),
            "matched_by": "name",
        }
        for row in rows
    ]


def search(q: str, kind: str = "all", limit: int = 20) -> dict:
    """``{"styles": [...], "artists": [...]}`` for ``q`` (1–100 characters); ``kind`` is ``all``,
    ``styles`` or ``artists`` (the list of a kind not asked for is empty)."""
    q = normalize_query(q)
    return {
        "styles": search_styles(q, limit) if kind in ("all", "styles") else [],
        "artists": search_artists(q, limit) if kind in ("all", "artists") else [],
    }
