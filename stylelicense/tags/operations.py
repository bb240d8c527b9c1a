"""Tag rules shared by styles, artworks, generations and search."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..errors import ValidationError
from ..extensions import db
from .models import Tag

TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9 \-]*$")
MAX_TAG_LENGTH = 50
MAX_TAGS = 20


def normalize_tags(raw: list[str], *, field: str = "tags", max_tags: int = MAX_TAGS) -> list[str]:
    """Lowercase, collapse spaces, deduplicate (order kept); English letters, digits, space and hyphen
    only. Raises VALIDATION_ERROR naming the offending tag."""
    tags: list[str] = []
    for value in raw:
        if not isinstance(value, str):
            raise ValidationError("Tags must be text.", details={"fields": [{"field": field, "message": "not text"}]})
        tag = " ".join(value.strip().lower().split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH or not TAG_PATTERN.match(tag):
            raise ValidationError(
                f"Tags must be English letters, digits, spaces or hyphens (at most {MAX_TAG_LENGTH} characters): "
                f"{value!r}",
                details={
                    "fields": [{"field": field, "message": "invalid tag", "tag": value, "type": "tag_not_english"}]
                },
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > max_tags:
        raise ValidationError(
            f"At most {max_tags} tags.", details={"fields": [{"field": field, "message": "too many tags"}]}
        )
    return tags


def get_or_create_tags(names: list[str]) -> list[Tag]:
    """Tag rows for already-normalized names, creating missing ones (flush only)."""
    if not names:
        return []
    existing = {tag.name: tag for tag in db.session.scalars(select(Tag).where(Tag.name.in_(names)))}
    missing = [name for name in dict.fromkeys(names) if name not in existing]
    if missing:
        dialect = db.session.get_bind().dialect.name
        if dialect in ("postgresql", "sqlite"):
            # Two requests creating the same new tag at once: the loser's insert is a no-op instead of
            # an IntegrityError (which would turn its whole request into a 409).
            insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            db.session.execute(
                insert(Tag).values([{"name": name} for name in missing]).on_conflict_do_nothing(index_elements=["name"])
            )
            existing.update({tag.name: tag for tag in db.session.scalars(select(Tag).where(Tag.name.in_(missing)))})
        else:
            for name in missing:
                existing[name] = Tag(name=name)
                db.session.add(existing[name])
            db.session.flush()
    return [existing[name] for name in names]
