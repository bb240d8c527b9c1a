"""Request and response shapes of the generations API (SPEC §6.1) and of the inference webhooks."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api import PageQuery, Schema
from ..provenance.schemas import ProvenanceReport
from ..queueing.schemas import QueueOut, ServiceReport

MAX_SEED = 2**32 - 1
MAX_DESCRIPTION = 500
MAX_PROMPT_TAGS = 20

AspectRatio = Literal["1:1", "2:2", "1:2"]


class GenerationCreate(Schema):
    """``prompt_tags`` are English tags (normalized like every tag); ``description`` loses its HTML."""

    style_id: int = Field(gt=0)
    prompt_tags: list[str] = Field(min_length=1, max_length=MAX_PROMPT_TAGS * 2)
    description: str = Field("", max_length=5000)  # checked again after HTML is stripped
    aspect_ratio: AspectRatio = "1:1"
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="Random when omitted")
    expected_cost_tokens: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="The price the client showed; a different current price answers 409 PRICE_CHANGED",
    )


class GenerationPatch(Schema):
    is_public: bool | None = None
    description: str | None = Field(None, max_length=5000)


class FeedQuery(PageQuery):
    style_id: int | None = Field(None, description="Only images made in this style (the style page's gallery)")


class MyGenerationsQuery(PageQuery):
    visibility: Literal["all", "public", "private"] = "all"


class ProgressOut(Schema):
    current_step: int
    total_steps: int
    progress_percent: int
    estimated_seconds: int | None
    last_updated: str | None


class StyleRef(Schema):
    id: int
    title: str
    is_paused: bool = False


class ArtistRef(Schema):
    id: int = Field(description="The artist's user id")
    artist_name: str


class OwnerRef(Schema):
    id: int
    username: str


class GenerationOut(Schema):
    id: int
    style_id: int
    status: Literal["queued", "processing", "retrying", "completed", "failed", "cancelled"]
    progress: ProgressOut | None = Field(description="Only while processing or retrying")
    queue: QueueOut | None = Field(None, description="Only while queued: place in the queue and estimated seconds")
    prompt_tags: list[str]
    description: str
    aspect_ratio: AspectRatio
    width: int
    height: int
    seed: int
    is_public: bool
    result_url: str | None
    thumbnail_url: str | None
    display_url: str | None = Field(
        None, description="Web-sized WebP copy for pages (the signed PNG at result_url is the download)"
    )
    like_count: int
    comment_count: int
    cost_tokens: int
    attempts: int
    error_code: str | None = Field(description="Why it failed (owner only)")
    created_at: str | None
    completed_at: str | None
    style: StyleRef
    artist: ArtistRef
    owner: OwnerRef
    licence_url: str
    is_liked: bool | None = Field(None, description="Whether the signed-in viewer likes it (lists and detail)")


# --- internal webhooks (inference worker → API) ------------------------------------------------


class InferenceProgressBody(Schema):
    """A progress report. ``current_step == 0`` announces the start of an attempt (``run_id`` tells a
    resent report from a new attempt); ``retrying`` says the attempt failed and another will follow."""

    generation_id: int
    current_step: int = Field(ge=0)
    total_steps: int = Field(ge=0)
    progress_percent: int = Field(0, ge=0, le=100)
    estimated_seconds: int | None = Field(None, ge=0)
    attempt: int = Field(1, ge=1)
    run_id: str | None = Field(None, max_length=64)
    retrying: bool = False
    error_code: str | None = Field(None, max_length=64)
    reason: str | None = Field(None, max_length=2000)


class InferenceCompleteBody(Schema):
    generation_id: int
    result_key: str = Field(min_length=1, max_length=255)
    thumbnail_key: str = Field(min_length=1, max_length=255)
    attempt: int | None = Field(None, ge=1)
    provenance: ProvenanceReport | None = None  # the stored file's licence serial and hashes
    service: ServiceReport | None = None  # what the worker measured (queue ETAs)


class InferenceFailedBody(Schema):
    generation_id: int
    error_code: str = Field(min_length=1, max_length=64)
    reason: str = Field("", max_length=2000)


class WebhookStateOut(Schema):
    generation_id: int
    status: str
    attempts: int
    changed: bool = Field(description="False when the call was a duplicate or arrived too late")
