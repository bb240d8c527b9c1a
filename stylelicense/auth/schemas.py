from __future__ import annotations

from pydantic import EmailStr, Field

from ..api import Schema


class DevLoginBody(Schema):
    email: EmailStr
    username: str = Field(min_length=3, max_length=30)


class ArtistOut(Schema):
    id: int
    artist_name: str
    earned_token_balance: int
    follower_count: int


class MeOut(Schema):
    id: int
    username: str
    email: str
    role: str
    token_balance: int
    profile_image_url: str | None
    bio: str
    artist: ArtistOut | None


class CsrfOut(Schema):
    csrf_token: str
