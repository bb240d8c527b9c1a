"""Measured service times the workers report (rolling averages), one row per queue and metric."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import utcnow


class ServiceTime(db.Model):
    """``metric`` is ``latency`` (seconds from a job's start to its stored result), ``per_image`` (a
    worker's batch seconds divided by the batch size: its throughput) or ``worker:<name>`` (last report
    of a worker, to count the live ones)."""

    __tablename__ = "service_times"

    queue: Mapped[str] = mapped_column(String(32), primary_key=True)
    metric: Mapped[str] = mapped_column(String(160), primary_key=True)
    value: Mapped[float] = mapped_column(Float, default=0.0)
    samples: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )
