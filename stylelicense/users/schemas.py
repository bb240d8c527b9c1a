"""Request and response shapes of the users feature."""

from __future__ import annotations

import re

from pydantic import EmailStr, Field, field_validator

from ..api import Schema
from ..text import one_line, plain_text

USERNAME_MIN, USERNAME_MAX = 3, 30
USERNAME_PATTERN = re.compile(rf"^[a-z0-9_]{{{USERNAME_MIN},{USERNAME_MAX}}}$")
BIO_MAX_CHARS = 500
ARTIST_NAME_MAX_CHARS = 50


class ProfileUpdate(Schema):
    """``PATCH /api/users/me``: JSON for text edits, multipart when ``profile_image`` is attached."""

    username: str | None = Field(default=None, description="3–30 of a-z, 0-9, _ (stored lowercase)")
    bio: str | None = Field(default=None, description=f"Plain text, ≤ {BIO_MAX_CHARS} characters; HTML is removed")
    remove_profile_image: bool = False

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.lower()
        if not USERNAME_PATTERN.match(value):
            raise ValueError("usernames are 3–30 characters: letters a–z, digits and _")
        return value

    @field_validator("bio")
    @classmethod
    def _bio(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = plain_text(value)
        if len(value) > BIO_MAX_CHARS:
            raise ValueError(f"the bio is longer than {BIO_MAX_CHARS} characters")
        return value


class UpgradeToArtistForm(Schema):
    """``POST /api/users/me/upgrade-to-artist`` (multipart, with the ``signature_image`` file)."""

    artist_name: str = Field(min_length=1, max_length=ARTIST_NAME_MAX_CHARS)
    contact_email: EmailStr = Field(max_length=320)

    @field_validator("artist_name")
    @classmethod
    def _artist_name(cls, value: str) -> str:
        value = one_line(value)
        if not value:
            raise ValueError("the artist name is empty")
        return value


class StyleSummaryOut(Schema):
    id: int
    title: str
    thumbnail_url: str | None
    generation_cost_tokens: int
    generations_count: int


class ProfileArtistOut(Schema):
    id: int
    artist_name: str
    follower_count: int
    style: StyleSummaryOut | None


class ProfileStatsOut(Schema):
    public_generations: int
    likes_received: int


class PublicProfileOut(Schema):
    id: int
    username: str
    bio: str
    profile_image_url: str | None
    role: str
    created_at: str
    stats: ProfileStatsOut
    artist: ProfileArtistOut | None


class AccountDeletedOut(Schema):
    result: str = Field(description="`deleted`, or `deactivated` for an artist whose style was used")
