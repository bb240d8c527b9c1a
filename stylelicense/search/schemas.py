"""Request and response shapes of search (SPEC §6.1)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..api import Schema
from ..community.schemas import StyleCardOut

MAX_LIMIT = 50


class SearchQuery(Schema):
    q: str = Field(
        min_length=1, max_length=100, description="Case-insensitive; a substring from 3 characters, a prefix below that"
    )
    type: Literal["all", "styles", "artists"] = "all"
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT, description="Hits per list")


class StyleHitOut(StyleCardOut):
    matched_by: Literal["tag", "name"]
    matched_tag: str | None = Field(default=None, description="The tag that matched (hits by tag)")


class ArtistHitOut(BaseModel):
    id: int = Field(description="The artist's user id (profile and follow target)")
    user_id: int
    username: str
    artist_name: str
    follower_count: int
    profile_image_url: str | None
    matched_by: Literal["name"]


class SearchOut(BaseModel):
    styles: list[StyleHitOut]
    artists: list[ArtistHitOut]
