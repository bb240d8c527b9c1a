"""Request and response shapes of ``GET /api/artists/me/dashboard`` (SPEC §13)."""

from __future__ import annotations

from pydantic import Field

from ..api import Schema

MAX_DAYS = 365


class DashboardQuery(Schema):
    days: int = Field(30, ge=1, le=MAX_DAYS, description="Length of the period, in days (UTC), ending today")


class DailyOut(Schema):
    date: str = Field(description="YYYY-MM-DD (UTC)")
    tokens: int
    generations: int


class DashboardStyleOut(Schema):
    id: int
    title: str
    training_status: str
    is_paused: bool
    generation_cost_tokens: int
    generations: int = Field(description="Delivered (paid) generations, all time")
    earned: int = Field(description="Tokens earned from this style, all time")


class LicenseeOut(Schema):
    id: int
    username: str


class RecentLicenceOut(Schema):
    serial: str
    created_at: str | None
    style_id: int
    licensee: LicenseeOut


class DashboardOut(Schema):
    earned_total: int
    earned_in_period: int
    daily: list[DailyOut]
    styles: list[DashboardStyleOut]
    recent_licences: list[RecentLicenceOut]
