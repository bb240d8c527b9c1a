"""Tag rules shared by styles, artworks, generations and search."""

from __future__ import annotations

import re

from sqlalchemy import select

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
                f"{value!r}", details={"fields": [{"field": field, "message": "invalid tag", "tag": value}]})
        if tag not in tags:
            tags.append(tag)
    if len(tags) > max_tags:
        raise ValidationError(f"At most {max_tags} tags.", details={"fields": [{"field": field,
                                                                                 "message": "too many tags"}]})
    return tags


def get_or_create_tags(names: list[str]) -> list[Tag]:
    """Tag rows for already-normalized names, creating missing ones (flush only)."""
    if not names:
        return []
    existing = {tag.name: tag for tag in db.session.scalars(select(Tag).where(Tag.name.in_(names)))}
    for name in names:
        if name not in existing:
            existing[name] = Tag(name=name)
            db.session.add(existing[name])
    db.session.flush()
    return [existing[name] for name in names]
