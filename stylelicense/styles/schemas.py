"""Request and response shapes of the styles API (SPEC §6.1) and of the training webhooks."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..api import PageQuery, Schema
from ..provenance.schemas import ProvenanceReport
from ..queueing.schemas import QueueOut

MIN_IMAGES = 10
MAX_IMAGES = 100
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MIN_IMAGE_SIDE = 512
MAX_TITLE = 100
MAX_DESCRIPTION = 2000
MIN_PRICE = 1
MAX_PRICE = 10_000

_PRICE_HELP = f"Tokens per generated image, {MIN_PRICE}–{MAX_PRICE:,}"


class StyleCreateForm(Schema):
    """Multipart fields of ``POST /api/styles`` (the files come as repeated ``images``).

    ``image_tags`` is a JSON array with one array of English tags per image, in upload order
    (optional: without it every image is tagged with the title only)."""

    title: str = Field(min_length=1, max_length=MAX_TITLE, description="Free text in any language")
    trigger: str | None = Field(
        None,
        max_length=MAX_TITLE,
        description=(
            "Optional English tag of the style (lowercase letters, digits, spaces, hyphens): added to every "
            "image and prefixed to prompts. Without it an English title is used; otherwise there is none."
        ),
    )
    description: str = Field("", max_length=MAX_DESCRIPTION * 4)  # checked again after HTML is stripped
    generation_cost_tokens: int = Field(ge=MIN_PRICE, le=MAX_PRICE, description=_PRICE_HELP)
    image_tags: list[list[str]] | None = Field(None, description="JSON array of tag arrays, one per image")

    @field_validator("image_tags", mode="before")
    @classmethod
    def _json(cls, value):
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("image_tags must be a JSON array of tag arrays") from None
        return value


class StylePatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=MAX_TITLE)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION * 4)
    generation_cost_tokens: int | None = Field(None, ge=MIN_PRICE, le=MAX_PRICE, description=_PRICE_HELP)
    is_paused: bool | None = Field(None, description="Pause (true) or resume (false) sales of the style")

    @model_validator(mode="after")
    def _something(self):
        if (
            self.title is None
            and self.description is None
            and self.generation_cost_tokens is None
            and self.is_paused is None
        ):
            raise ValueError("send at least one of title, description, generation_cost_tokens, is_paused")
        return self


class StyleListQuery(PageQuery):
    sort: Literal["recent", "popular"] = "recent"
    tag: str | None = Field(None, max_length=100)


class TrainingProgressOut(Schema):
    current_epoch: int
    total_epochs: int
    progress_percent: int
    estimated_seconds: int | None
    last_updated: str | None


class SampleOut(Schema):
    url: str
    thumbnail_url: str
    prompt: str
    seed: int
    width: int
    height: int
    without_style_url: str


class TrainingReportOut(Schema):
    loss: list[list[float]] = Field(description="[step, loss] pairs, sampled over the run")
    steps: int
    seconds: float
    images: int
    resolution: int


class ArtistRef(Schema):
    id: int = Field(description="The artist's user id (profile: GET /api/users/:id)")
    artist_name: str


class StyleOut(Schema):
    id: int
    title: str
    description: str
    generation_cost_tokens: int
    training_status: Literal["pending", "training", "completed", "failed"]
    progress: TrainingProgressOut | None = Field(description="Only while training")
    queue: QueueOut | None = Field(None, description="Only while pending: place in the training queue and ETA")
    thumbnail_url: str | None
    tags: list[str]
    artist: ArtistRef
    generations_count: int
    created_at: str | None
    is_paused: bool
    samples: list[SampleOut] = Field(description="Preview images (with and without the style), once trained")
    training_report: TrainingReportOut | None = Field(description="Owner only, once trained")


# --- training webhooks (the worker's reports) ---------------------------------------------------


class TrainingProgressBody(Schema):
    """``starting: true`` opens an attempt (counted; refused past the limit); other reports update the
    progress of the run ``run_id``. A report for a finished style answers 409: the worker stops."""

    style_id: int = Field(gt=0)
    current_epoch: int = Field(0, ge=0)
    total_epochs: int = Field(0, ge=0)
    progress_percent: int = Field(0, ge=0, le=100)
    estimated_seconds: int | None = Field(None, ge=0)
    starting: bool = False
    run_id: str | None = Field(None, max_length=64)


class SampleIn(Schema):
    """One preview the worker stored (public, signed): with the style, its thumbnail, and without it."""

    key: str = Field(min_length=1, max_length=255)
    thumbnail_key: str = Field(min_length=1, max_length=255)
    without_key: str = Field(min_length=1, max_length=255)
    prompt: str = Field(min_length=1, max_length=500)
    seed: int = Field(ge=0, le=2**32 - 1)
    width: int = Field(ge=64, le=2048)
    height: int = Field(ge=64, le=2048)
    provenance: ProvenanceReport | None = None
    without_provenance: ProvenanceReport | None = None


class TrainingReportIn(Schema):
    loss: list[tuple[int, float]] = Field(default_factory=list, max_length=1000)
    steps: int = Field(0, ge=0)
    seconds: float = Field(0, ge=0)
    images: int = Field(0, ge=0)
    resolution: int = Field(0, ge=0)


class TrainingCompleteBody(Schema):
    style_id: int = Field(gt=0)
    lora_key: str = Field(min_length=1, max_length=255)
    steps: int = Field(0, ge=0)
    seconds: float = Field(0, ge=0)
    run_id: str | None = Field(None, max_length=64)
    worker: str | None = Field(None, max_length=120)
    samples: list[SampleIn] = Field(
        default_factory=list, max_length=16, description="At least 4 previews: a style is completed only with them"
    )
    report: TrainingReportIn | None = None


class TrainingFailedBody(Schema):
    style_id: int = Field(gt=0)
    reason: str = Field("", max_length=2000)
    run_id: str | None = Field(None, max_length=64)


class TrainingStateOut(Schema):
    style_id: int
    training_status: str
    training_attempts: int
    changed: bool
