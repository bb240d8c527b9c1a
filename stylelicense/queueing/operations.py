"""Queue position and ETA (SPEC §13).

Position comes from the database: the waiting rows of the same queue ordered by creation. The ETA comes
from what the workers measured and reported with their completion webhooks (rolling averages in
``service_times``), never from a constant:

    eta = (jobs ahead + jobs running) x per-job time / live workers + the job's own time

For generations the per-job time is a worker's per-image throughput (its batch seconds / batch size),
for trainings the measured training time (one at a time per worker). ``eta_seconds`` is null until a
worker has reported.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from flask import g
from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import utcnow
from .models import ServiceTime

GENERATION_QUEUE = "image_generation"
TRAINING_QUEUE = "model_training"
#: weight of a new sample in the rolling averages
ALPHA = 0.2
#: a worker that reported within this window counts as live
WORKER_WINDOW = timedelta(minutes=15)
_WORKER_PREFIX = "worker:"


def _upsert(queue: str, metric: str, value: float, *, average: bool = True) -> None:
    row = db.session.execute(
        select(ServiceTime).where(ServiceTime.queue == queue, ServiceTime.metric == metric).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(ServiceTime(queue=queue, metric=metric, value=value, samples=1, updated_at=utcnow()))
            return
        except IntegrityError:  # another completion inserted it first
            row = db.session.execute(
                select(ServiceTime).where(ServiceTime.queue == queue, ServiceTime.metric == metric).with_for_update()
            ).scalar_one()
    row.value = (1 - ALPHA) * row.value + ALPHA * value if average and row.samples else value
    row.samples += 1
    row.updated_at = utcnow()


def record_service_time(
    queue: str, *, seconds: float, batch_size: int = 1, batch_seconds: float | None = None, worker: str | None = None
) -> None:
    """Fold one finished job's measurements into the rolling averages (call once per job: only when
    its completion webhook changed something, so a repeated callback is not counted twice)."""
    _upsert(queue, "latency", float(seconds))
    per_job = (batch_seconds if batch_seconds is not None else seconds) / max(1, batch_size)
    _upsert(queue, "per_image" if queue == GENERATION_QUEUE else "per_job", per_job)
    if worker:
        _upsert(queue, _WORKER_PREFIX + worker[:150], 0.0, average=False)
    db.session.flush()


def _stats(queue: str) -> dict[str, Any]:
    """This queue's averages and live-worker count, read once per request."""
    cache = g.setdefault("_queue_stats", {})
    if queue not in cache:
        rows = db.session.execute(select(ServiceTime).where(ServiceTime.queue == queue)).scalars().all()
        since = utcnow() - WORKER_WINDOW
        workers = sum(1 for r in rows if r.metric.startswith(_WORKER_PREFIX) and _aware(r.updated_at) >= since)
        values = {r.metric: r.value for r in rows if not r.metric.startswith(_WORKER_PREFIX)}
        cache[queue] = {
            "latency": values.get("latency"),
            "per_job": values.get("per_image", values.get("per_job")),
            "workers": max(1, workers),
        }
    return cache[queue]


def _aware(value):
    # SQLite hands back naive datetimes; they were written in UTC.
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _eta(queue: str, ahead: int, running: int) -> int | None:
    stats = _stats(queue)
    if stats["latency"] is None or stats["per_job"] is None:
        return None
    share = 0.5 if queue == TRAINING_QUEUE else 1.0  # a running training is on average half done
    wait = (ahead + share * running) * stats["per_job"] / stats["workers"]
    return math.ceil(wait + stats["latency"])


def _before(model, row):
    return or_(model.created_at < row.created_at, and_(model.created_at == row.created_at, model.id < row.id))


def generation_queue(generation) -> dict[str, Any] | None:
    """``{"position", "eta_seconds"}`` while the generation waits (status ``queued``), else None."""
    from ..generations.models import Generation

    if generation.status != "queued":
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Generation)
        .where(Generation.status == "queued", Generation.id != generation.id, _before(Generation, generation))
    )
    running = db.session.scalar(select(func.count()).select_from(Generation).where(Generation.status == "processing"))
    return {"position": ahead + 1, "eta_seconds": _eta(GENERATION_QUEUE, ahead, running)}


def style_queue(style) -> dict[str, Any] | None:
    """``{"position", "eta_seconds"}`` while the style waits for training (``pending``), else None."""
    from ..styles.models import Style

    if style.training_status != "pending":
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Style)
        .where(Style.training_status == "pending", Style.id != style.id, _before(Style, style))
    )
    running = db.session.scalar(select(func.count()).select_from(Style).where(Style.training_status == "training"))
    return {"position": ahead + 1, "eta_seconds": _eta(TRAINING_QUEUE, ahead, running)}
