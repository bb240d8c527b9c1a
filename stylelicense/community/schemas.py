"""Request and response shapes of follows, likes and comments (SPEC §6.1)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..api import Schema


class UserSummaryOut(BaseModel):
    id: int
    username: str
    profile_image_url: str | None


class StyleArtistOut(BaseModel):
    id: int = Field(description="The artist's user id (as in the styles and generations APIs)")
    user_id: int = Field(description="The artist's user id (what /api/users/:id/follow takes)")
    artist_name: str


class StyleCardOut(BaseModel):
    id: int
    title: str
    description: str
    generation_cost_tokens: int
    training_status: str
    thumbnail_url: str | None
    tags: list[str]
    artist: StyleArtistOut
    generations_count: int
    created_at: str


class ArtistProfileOut(BaseModel):
    id: int
    artist_name: str
    follower_count: int


class ArtistCardOut(UserSummaryOut):
    """An artist: ``id`` is the user id (the one `/api/users/:id/follow` takes)."""

    artist: ArtistProfileOut
    style: StyleCardOut | None
    is_following: bool = Field(description="Whether the signed-in viewer follows this artist")


class FollowingOut(ArtistCardOut):
    followed_at: str


class FollowOut(BaseModel):
    following: bool
    follower_count: int


class LikeOut(BaseModel):
    liked: bool
    like_count: int


class CommentBody(Schema):
    # The 1–1,000 character limit applies to the text left after HTML is stripped (operations);
    # this cap only keeps absurd payloads out.
    body: str = Field(max_length=10_000)
    parent_id: int | None = None


class CommentPatch(Schema):
    body: str = Field(max_length=10_000)


class CommentOut(BaseModel):
    id: int
    generation_id: int
    parent_id: int | None
    body: str = Field(description="Plain text; empty when is_deleted")
    author: UserSummaryOut | None = Field(description="None when is_deleted")
    is_deleted: bool
    is_mine: bool
    created_at: str
    updated_at: str
    replies: list[CommentOut] | None = Field(default=None, description="Top-level comments only, oldest first")


class CommentDeletedOut(BaseModel):
    id: int
    deleted: bool
    kept_as_placeholder: bool
    comment_count: int
