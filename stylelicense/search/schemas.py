"""Request and response shapes of search."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..api import PageQuery
from ..community.schemas import ArtistCardOut, StyleCardOut


class SearchQuery(PageQuery):
    q: str = Field(min_length=1, max_length=100, description="Case-insensitive; matched as a substring")
    type: Literal["all", "styles", "artists"] = "all"


class SearchHitOut(BaseModel):
    type: Literal["style", "artist"]
    matched_by: Literal["tag", "name"]
    matched_tag: str | None = Field(default=None, description="The tag that matched (style hits by tag)")
    style: StyleCardOut | None = None
    artist: ArtistCardOut | None = None
