"""Queue shapes: the API's ``queue`` field and the workers' service-time report."""

from __future__ import annotations

from pydantic import Field

from ..api import Schema


class QueueOut(Schema):
    position: int = Field(ge=1, description="1-based place among the waiting jobs of the same queue")
    eta_seconds: int | None = Field(
        description="Estimated seconds until the result is ready (measured service "
        "times); null until workers have reported any"
    )


class ServiceReport(Schema):
    """What a worker measured for one job (sent with its completion webhook)."""

    seconds: float = Field(ge=0, le=86400, description="From the attempt's start to the stored result")
    batch_size: int = Field(1, ge=1, le=256)
    batch_seconds: float | None = Field(None, ge=0, le=86400, description="Wall time of the batch it ran in")
    worker: str | None = Field(None, max_length=120)
