"""Request and response shapes of notifications (SPEC §6.1)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..api import PageQuery


class NotificationQuery(PageQuery):
    unread_only: bool = False


class ActorOut(BaseModel):
    id: int
    username: str
    profile_image_url: str | None


class NotificationOut(BaseModel):
    id: int
    type: str = Field(
        description="follow | like | comment | generation_complete | generation_failed | "
        "style_training_complete | style_training_failed"
    )
    actor: ActorOut | None = Field(description="None for system events")
    target_type: str = Field(description="generation | style | comment | user")
    target_id: int
    target: dict[str, Any] | None = Field(description="A summary of the target to link and show; None when gone")
    is_read: bool
    created_at: str


class NotificationListOut(BaseModel):
    results: list[NotificationOut]
    next_cursor: str | None
    has_more: bool
    unread_count: int


class NotificationReadOut(NotificationOut):
    unread_count: int


class ReadAllOut(BaseModel):
    updated: int
    unread_count: int


class UnreadCountOut(BaseModel):
    unread_count: int
