"""Demo data for local runs and measurements (`flask --app wsgi demo create`).

Everything is planned in Python from one seeded random generator, then written in bulk: ``COPY``
on PostgreSQL (a million likes in seconds), plain multi-row inserts elsewhere (SQLite for
``make run``). Ids are reserved from the tables' sequences first, so rows can point at each other
without reading anything back and without ever colliding with rows written concurrently.

Realism: popularity is Zipf-like — a few styles get most generations, a few images most likes, a
few artists most followers, some users are far more active than others. Counters are computed
from the planned rows, so ``like_count``, ``comment_count``, ``follower_count`` and
``generation_count`` equal their rows exactly. Each like, comment and follow has the notification
the API would have created (plus system notifications for finished generations and trainings).

Demo users sign in with the dev login (``<username>@demo.example.com``). Demo styles have no
trained LoRA file (generating with one fails and is refunded), demo generations were not charged
(``cost_tokens`` 0, no ledger rows, every balance 0), so the token ledger stays consistent.
"""

from __future__ import annotations

import io
import itertools
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update

from .bulk import Writer
from .community.models import Comment, Follow, Like
from .extensions import db
from .generations.models import Generation
from .models import utcnow
from .notifications.models import Notification
from .styles.models import Style
from .tags.models import Tag, generation_tags, style_tags
from .users.models import Artist, User

EMAIL_DOMAIN = "demo.example.com"
SMALL = {"users": 40, "styles": 12, "generations": 240, "likes": 1200}

FIRST = (
    "anna mina jun sora yuki leo max eva noah liam mia ella lucas hana jisoo minho ara theo iris nora "
    "felix ivy otto ruby kai luna omar zoe ravi nina hugo lena emil ada taro rin kenji mei"
).split()
LAST = (
    "kim lee park choi tanaka sato mori berg novak silva rossi weber costa smith brown garcia lopez "
    "martin moreau fischer jensen nakamura ito kang yoon han lim cho shin hwang"
).split()
ADJECTIVES = (
    "watercolor ink neon pastel gothic dreamy vintage retro cyber misty golden crimson azure "
    "velvet lunar solar rustic noir vivid soft bold silent wild frozen electric paper chalk "
    "oil cosmic floral urban ancient"
).split()
NOUNS = (
    "dreams portraits landscapes cities forests oceans skies gardens stories memories whispers "
    "shadows lights echoes horizons legends spirits journeys seasons machines creatures castles "
    "streets tides blossoms mountains rivers islands"
).split()
# fmt: off
# Most used first (tags are drawn with a Zipf-like skew over this order).
VOCABULARY = (
    "portrait", "landscape", "anime", "watercolor", "fantasy", "character", "digital art", "sketch", "cute",
    "cityscape", "oil painting", "flowers", "night", "girl", "cat", "ink", "pastel", "concept art", "manga",
    "colorful", "sunset", "forest", "ocean", "dark", "moody", "soft light", "line art", "sci-fi", "cyberpunk",
    "woman", "man", "dragon", "city", "street", "rain", "snow", "winter", "summer", "autumn", "spring", "moon",
    "stars", "space", "planet", "castle", "village", "cafe", "interior", "food", "tea", "coffee", "book",
    "music", "guitar", "piano", "robot", "witch", "knight", "princess", "astronaut", "warrior", "boy", "child",
    "couple", "family", "festival", "dog", "bird", "train", "car", "boat", "bicycle", "mountain", "sunrise",
    "fog", "surreal", "abstract", "minimalism", "noir", "steampunk", "pop art", "comic", "chibi", "pixel art",
    "isometric", "low poly", "flat design", "gouache", "charcoal", "pencil", "woodcut", "ukiyo-e",
    "art nouveau", "art deco", "impressionism", "expressionism", "baroque", "bright", "monochrome", "sepia",
    "neon", "dramatic lighting", "hanbok", "kimono", "traditional", "modern", "futuristic", "retro",
    "vintage", "y2k", "vaporwave", "glitch", "texture", "grain", "halftone", "thick lines", "thin lines",
    "children book", "editorial", "poster", "album cover", "logo", "icon", "sticker", "tattoo",
)
PHRASES = ("Love the colours!", "This is stunning.", "How did you get this light?", "So dreamy.",
           "The texture is amazing", "Wow, the details!", "Using this as my wallpaper.", "Beautiful mood.",
           "The artist's style really shows here.", "Great composition!", "I want a print of this.",
           "Thanks!", "Agreed!", "Same here.", "This made my day.", "Perfect for my zine.")
# fmt: on


@dataclass
class Sizes:
    users: int
    styles: int
    generations: int
    likes: int

    @classmethod
    def build(cls, users: int | None, styles: int | None, generations: int | None, likes: int | None) -> Sizes:
        """Missing sizes: the small default set, except that users scale with the styles (an artist
        per style plus twice as many other users)."""
        styles = SMALL["styles"] if styles is None else styles
        sizes = cls(
            users=users if users is not None else max(SMALL["users"], styles * 3),
            styles=styles,
            generations=SMALL["generations"] if generations is None else generations,
            likes=SMALL["likes"] if likes is None else likes,
        )
        if sizes.styles < 1 or sizes.users <= sizes.styles or sizes.generations < 0 or sizes.likes < 0:
            raise ValueError("need at least 1 style and more users than styles (every style has its own artist)")
        return sizes


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=dict)
    busiest_email: str = ""
    typical_email: str = ""
    seconds: float = 0.0


# --- planning helpers ---------------------------------------------------------------------------


def _zipf_cum(n: int, s: float) -> list[float]:
    return list(itertools.accumulate((k + 1) ** -s for k in range(n)))


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    return start + (end - start) * rng.random()


def _demo_images(seed: int) -> dict[str, list[str]]:
    """A small pool of placeholder pictures every demo row points at (public, like real outputs)."""
    from PIL import Image, ImageDraw

    from .storage import get_storage

    storage = get_storage()
    rng = random.Random(seed)
    keys: dict[str, list[str]] = {"generation": [], "generation_thumb": [], "style": [], "avatar": []}

    def picture(size: int) -> Image.Image:
        a = tuple(rng.randrange(40, 230) for _ in range(3))
        b = tuple(rng.randrange(40, 230) for _ in range(3))
        image = Image.new("RGB", (size, size))
        draw = ImageDraw.Draw(image)
        for y in range(size):
            t = y / size
            draw.line([(0, y), (size, y)], fill=tuple(int(a[i] * (1 - t) + b[i] * t) for i in range(3)))
        for _ in range(6):
            x, y, r = rng.randrange(size), rng.randrange(size), rng.randrange(size // 16, size // 4)
            draw.ellipse([x - r, y - r, x + r, y + r], outline=(255, 255, 255), width=max(2, size // 128))
        return image

    def store(key: str, image: Image.Image) -> None:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        storage.put(key, buffer.getvalue(), public=True, content_type="image/png")

    for k in range(16):
        image = picture(512)
        store(f"demo/generation-{k}.png", image)
        store(f"demo/generation-{k}-thumb.png", image.resize((256, 256)))
        keys["generation"].append(f"demo/generation-{k}.png")
        keys["generation_thumb"].append(f"demo/generation-{k}-thumb.png")
    for k in range(12):
        store(f"demo/style-{k}-thumb.png", picture(256))
        keys["style"].append(f"demo/style-{k}-thumb.png")
        store(f"demo/avatar-{k}.png", picture(128))
        keys["avatar"].append(f"demo/avatar-{k}.png")
    return keys


def demo_exists() -> bool:
    return bool(db.session.scalar(select(exists().where(User.email.like(f"%@{EMAIL_DOMAIN}")))))


# --- the plan -----------------------------------------------------------------------------------


def create_demo_data(sizes: Sizes, *, seed: int = 1, images: bool = True, progress=lambda message: None) -> Summary:
    """Write the demo data set in the current transaction (the caller commits)."""
    import time

    started = time.monotonic()
    rng = random.Random(seed)
    writer = Writer()
    now = utcnow()
    keys = (
        _demo_images(seed)
        if images
        else {
            "generation": ["demo/generation-0.png"],
            "generation_thumb": ["demo/generation-0-thumb.png"],
            "style": ["demo/style-0-thumb.png"],
            "avatar": [],
        }
    )
    summary = Summary()
    U, S = sizes.users, sizes.styles  # noqa: N806 - sizes read like the maths they are

    # users: the first S are artists (one style each)
    user_ids = writer.reserve_ids(User.__table__, U)
    usernames, user_created, artist_names = [], [], []
    for i in range(U):
        if i < S:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            artist_names.append(f"{first.title()} {last.title()}")
            name = f"{first}{last}{i}"
        else:
            name = f"{rng.choice(FIRST)}_{rng.choice(NOUNS)[:8]}{i}"
        usernames.append(name[:30])
        user_created.append(now - timedelta(days=rng.uniform(60, 400)))
    inactive_artists = {i for i in range(S) if rng.random() < 0.01}
    avatars = keys["avatar"]
    summary.counts["users"] = writer.insert(
        User.__table__,
        (
            "id",
            "google_sub",
            "email",
            "username",
            "bio",
            "profile_image_key",
            "role",
            "token_balance",
            "is_active",
            "deactivated_at",
            "created_at",
            "updated_at",
        ),
        (
            (
                user_ids[i],
                f"dev:{usernames[i]}@{EMAIL_DOMAIN}",
                f"{usernames[i]}@{EMAIL_DOMAIN}",
                usernames[i],
                "Demo account.",
                rng.choice(avatars) if avatars and rng.random() < 0.3 else None,
                "artist" if i < S else "user",
                0,
                i not in inactive_artists,
                now - timedelta(days=1) if i in inactive_artists else None,
                user_created[i],
                user_created[i],
            )
            for i in range(U)
        ),
    )
    progress(f"users: {U}")

    # styles, with a popularity order that generations, likes and follows share
    artist_ids = writer.reserve_ids(Artist.__table__, S)
    style_ids = writer.reserve_ids(Style.__table__, S)
    statuses = rng.choices(("completed", "training", "pending", "failed"), weights=(94, 2, 2, 2), k=S)
    titles = [f"{rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS).title()}" for _ in range(S)]
    style_created = [_between(rng, user_created[i], now - timedelta(days=30)) for i in range(S)]
    completed = [i for i in range(S) if statuses[i] == "completed" and i not in inactive_artists]
    rng.shuffle(completed)  # popularity rank -> style index (independent of ids)

    # generations: popular styles get most, active users make most
    G = sizes.generations  # noqa: N806
    gen_style = rng.choices(completed, cum_weights=_zipf_cum(len(completed), 1.0), k=G) if completed and G else []
    G = len(gen_style)  # noqa: N806
    user_order = list(range(U))
    rng.shuffle(user_order)
    gen_user = rng.choices(user_order, cum_weights=_zipf_cum(U, 0.8), k=G)
    gen_status = rng.choices(("completed", "failed"), weights=(97, 3), k=G)
    gen_public = [gen_status[g] == "completed" and rng.random() < 0.55 for g in range(G)]
    gen_created = [
        _between(rng, style_created[gen_style[g]] + timedelta(hours=1), now - timedelta(minutes=5)) for g in range(G)
    ]
    public = [g for g in range(G) if gen_public[g]]
    rng.shuffle(public)

    # likes: a set of distinct (generation, user) pairs drawn with Zipf-like skew on both sides
    pairs: set[int] = set()
    if public and sizes.likes:
        if sizes.likes > len(public) * U // 2:
            raise ValueError(f"{sizes.likes} likes do not fit {len(public)} public images and {U} users")
        gen_cum, user_cum = _zipf_cum(len(public), 0.7), _zipf_cum(U, 0.6)
        for _ in range(200):
            missing = sizes.likes - len(pairs)
            if missing <= 0:
                break
            draw = int(missing * 1.2) + 10
            for g, u in zip(
                rng.choices(public, cum_weights=gen_cum, k=draw),
                rng.choices(user_order, cum_weights=user_cum, k=draw),
                strict=True,
            ):
                pairs.add(g * U + u)
        while len(pairs) > sizes.likes:
            pairs.pop()
        if len(pairs) < sizes.likes:
            raise ValueError("could not place that many distinct likes; add users or generations")
    like_count = Counter(code // U for code in pairs)

    # comments: top-level ones on liked images, a third get a reply
    top_n = len(pairs) // 25 if public else 0
    top_gen = rng.choices(public, cum_weights=_zipf_cum(len(public), 0.7), k=top_n) if top_n else []
    top_author = rng.choices(user_order, cum_weights=_zipf_cum(U, 0.6), k=top_n)
    reply_parent = [rng.randrange(top_n) for _ in range(top_n // 3)] if top_n else []
    comment_ids = writer.reserve_ids(Comment.__table__, top_n + len(reply_parent))
    comments = []  # (id, generation index, author index, parent id, created)
    for c in range(top_n):
        g = top_gen[c]
        comments.append((comment_ids[c], g, top_author[c], None, _between(rng, gen_created[g], now)))
    for r, parent in enumerate(reply_parent):
        _, g, _, _, parent_created = comments[parent]
        comments.append(
            (comment_ids[top_n + r], g, rng.choice(user_order), comment_ids[parent], _between(rng, parent_created, now))
        )
    comment_count = Counter(c[1] for c in comments)

    # follows: everyone follows a few artists, popular artists (of popular styles) most
    artist_rank = completed + [i for i in range(S) if i not in set(completed)]
    artist_cum = _zipf_cum(S, 0.9)
    follows: set[tuple[int, int]] = set()
    for u in range(U):
        wanted = min(S, int(rng.expovariate(1 / 3)))
        for a in rng.choices(artist_rank, cum_weights=artist_cum, k=wanted):
            if a != u:
                follows.add((u, a))
    follower_count = Counter(a for _, a in follows)

    # now write, parents first
    summary.counts["artists"] = writer.insert(
        Artist.__table__,
        (
            "id",
            "user_id",
            "artist_name",
            "contact_email",
            "signature_image_key",
            "earned_token_balance",
            "follower_count",
            "created_at",
            "updated_at",
        ),
        (
            (
                artist_ids[i],
                user_ids[i],
                artist_names[i],
                f"studio@{EMAIL_DOMAIN}",
                "",
                0,
                follower_count[i],
                user_created[i],
                user_created[i],
            )
            for i in range(S)
        ),
    )
    generation_count = Counter(gen_style)
    summary.counts["styles"] = writer.insert(
        Style.__table__,
        (
            "id",
            "artist_id",
            "title",
            "description",
            "generation_cost_tokens",
            "training_status",
            "training_attempts",
            "failure_reason",
            "thumbnail_key",
            "generation_count",
            "training_started_at",
            "training_finished_at",
            "created_at",
            "updated_at",
        ),
        (
            (
                style_ids[i],
                artist_ids[i],
                titles[i],
                f"{titles[i]} — a demo style (no trained model).",
                rng.choice((1, 2, 3, 5, 5, 8, 10, 10, 15, 20, 30, 50)),
                statuses[i],
                0 if statuses[i] == "pending" else 1,
                "Demo failure" if statuses[i] == "failed" else None,
                rng.choice(keys["style"]),
                generation_count[i],
                None if statuses[i] == "pending" else style_created[i] + timedelta(minutes=2),
                style_created[i] + timedelta(minutes=25) if statuses[i] in ("completed", "failed") else None,
                style_created[i],
                style_created[i],
            )
            for i in range(S)
        ),
    )
    progress(f"artists and styles: {S}")

    tag_names = set(VOCABULARY) | {title.lower() for title in titles}
    tag_ids = dict(db.session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(tag_names))).all())
    missing = sorted(tag_names - set(tag_ids))
    for name, tag_id in zip(missing, writer.reserve_ids(Tag.__table__, len(missing)), strict=True):
        tag_ids[name] = tag_id
    writer.insert(
        Tag.__table__,
        ("id", "name", "usage_count", "is_active", "is_flagged", "created_at", "updated_at"),
        ((tag_ids[name], name, 0, True, False, now, now) for name in missing),
    )
    vocab_cum = _zipf_cum(len(VOCABULARY), 1.0)
    usage: Counter[int] = Counter()
    style_links = []
    for i in range(S):
        names = {titles[i].lower(), *rng.choices(VOCABULARY, cum_weights=vocab_cum, k=rng.randint(4, 8))}
        style_links += [(style_ids[i], tag_ids[name]) for name in sorted(names)]
    usage.update(tag for _, tag in style_links)
    summary.counts["style_tags"] = writer.insert(style_tags, ("style_id", "tag_id"), style_links)

    gen_ids = writer.reserve_ids(Generation.__table__, G)
    prompts = [sorted(set(rng.choices(VOCABULARY, cum_weights=vocab_cum, k=rng.randint(2, 4)))) for _ in range(G)]

    def generation_rows() -> Iterator[tuple]:
        for g in range(G):
            done = gen_status[g] == "completed"
            k = rng.randrange(len(keys["generation"]))
            yield (
                gen_ids[g],
                user_ids[gen_user[g]],
                style_ids[gen_style[g]],
                prompts[g],
                "",
                rng.choices(("1:1", "2:2", "1:2"), weights=(80, 10, 10))[0],
                rng.randrange(2**32),
                gen_status[g],
                1,
                None if done else "GENERATION_FAILED",
                None if done else "Demo failure",
                keys["generation"][k] if done else None,
                keys["generation_thumb"][k] if done else None,
                gen_public[g],
                like_count[g],
                comment_count[g],
                0,
                gen_created[g] + timedelta(seconds=12) if done else None,
                gen_created[g],
                gen_created[g],
            )

    summary.counts["generations"] = writer.insert(
        Generation.__table__,
        (
            "id",
            "user_id",
            "style_id",
            "prompt_tags",
            "description",
            "aspect_ratio",
            "seed",
            "status",
            "attempts",
            "error_code",
            "error_message",
            "result_key",
            "thumbnail_key",
            "is_public",
            "like_count",
            "comment_count",
            "cost_tokens",
            "completed_at",
            "created_at",
            "updated_at",
        ),
        generation_rows(),
    )
    generation_links = [(gen_ids[g], tag_ids[name]) for g in range(G) for name in prompts[g]]
    usage.update(tag for _, tag in generation_links)
    writer.insert(generation_tags, ("generation_id", "tag_id"), generation_links)
    for n, group in itertools.groupby(sorted(usage.items(), key=lambda item: item[1]), key=lambda item: item[1]):
        db.session.execute(
            update(Tag)
            .where(Tag.id.in_([tag for tag, _ in group]))
            .values(usage_count=Tag.usage_count + n)
            .execution_options(synchronize_session=False)
        )
    progress(f"generations: {G}")

    # likes and their notifications, streamed
    like_created = {code: _between(rng, gen_created[code // U], now) for code in pairs}
    summary.counts["likes"] = writer.insert(
        Like.__table__,
        ("user_id", "generation_id", "created_at", "updated_at"),
        ((user_ids[code % U], gen_ids[code // U], like_created[code], like_created[code]) for code in pairs),
    )
    progress(f"likes: {len(pairs)}")
    summary.counts["comments"] = writer.insert(
        Comment.__table__,
        ("id", "generation_id", "author_id", "parent_id", "body", "is_deleted", "created_at", "updated_at"),
        (
            (cid, gen_ids[g], user_ids[a], parent, rng.choice(PHRASES), False, created, created)
            for cid, g, a, parent, created in comments
        ),
    )
    follow_created = {pair: _between(rng, max(user_created[pair[0]], user_created[pair[1]]), now) for pair in follows}
    summary.counts["follows"] = writer.insert(
        Follow.__table__,
        ("follower_id", "following_id", "created_at", "updated_at"),
        ((user_ids[u], user_ids[a], follow_created[(u, a)], follow_created[(u, a)]) for u, a in follows),
    )

    unread_after = now - timedelta(days=3)
    parent_author = {c[0]: c[2] for c in comments}

    def notification_rows() -> Iterator[tuple]:
        def row(recipient, kind, target_type, target_id, actor, created, dedupe=None):
            return (
                user_ids[recipient],
                user_ids[actor] if actor is not None else None,
                kind,
                target_type,
                target_id,
                created < unread_after,
                dedupe,
                created,
                created,
            )

        for code in pairs:
            g, u = divmod(code, U)
            if gen_user[g] != u:
                yield row(
                    gen_user[g],
                    "like",
                    "generation",
                    gen_ids[g],
                    u,
                    like_created[code],
                    f"like:{user_ids[u]}:{gen_ids[g]}",
                )
        for cid, g, a, parent, created in comments:
            recipients = [gen_user[g]] + ([parent_author[parent]] if parent is not None else [])
            for recipient in dict.fromkeys(recipients):
                if recipient != a:
                    yield row(recipient, "comment", "comment", cid, a, created)
        for u, a in follows:
            yield row(
                a, "follow", "user", user_ids[u], u, follow_created[(u, a)], f"follow:{user_ids[u]}:{user_ids[a]}"
            )
        for g in range(G):
            kind = "generation_complete" if gen_status[g] == "completed" else "generation_failed"
            yield row(gen_user[g], kind, "generation", gen_ids[g], None, gen_created[g] + timedelta(seconds=12))
        for i in range(S):
            if statuses[i] in ("completed", "failed"):
                kind = "style_training_complete" if statuses[i] == "completed" else "style_training_failed"
                yield row(i, kind, "style", style_ids[i], None, style_created[i] + timedelta(minutes=25))

    summary.counts["notifications"] = writer.insert(
        Notification.__table__,
        (
            "recipient_id",
            "actor_id",
            "type",
            "target_type",
            "target_id",
            "is_read",
            "dedupe_key",
            "created_at",
            "updated_at",
        ),
        notification_rows(),
    )
    progress(f"notifications: {summary.counts['notifications']}")

    received = Counter(gen_user[code // U] for code in pairs)
    if received:
        busiest = received.most_common(1)[0][0]
        ordered = sorted(received.values())
        median = ordered[len(ordered) // 2]
        typical = next(u for u, n in received.items() if n == median)
        summary.busiest_email = f"{usernames[busiest]}@{EMAIL_DOMAIN}"
        summary.typical_email = f"{usernames[typical]}@{EMAIL_DOMAIN}"
    summary.seconds = time.monotonic() - started
    return summary
