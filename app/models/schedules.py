"""Recurring runs of a process with stored inputs (DESIGN, "Schedules")."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.users import User


class Schedule(Base):
    """A schedule belongs to one project: only its members see it, and its runs are jobs of that
    project launched by the schedule itself (no user: `external_ref` is `schedule:<id>`)."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    process_id: Mapped[str] = mapped_column(String(80), index=True)
    inputs: Mapped[dict] = mapped_column(JSONType, default=dict)
    # daily | monthly | yearly | cron; the presets are stored as their cron expression too
    frequency: Mapped[str] = mapped_column(String(10), default="daily")
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_job_id: Mapped[str | None] = mapped_column(String(36))
    # Catch-up: each dispatcher tick also runs the periods missed (paused, or no dispatcher) since the
    # last successful one, at most SCHEDULE_CATCH_UP_MAX_PERIODS back, one idempotent run each.
    catch_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The periods caught up, newest first (at most 50): {"period", "end", "job_id", "at", "capped"}
    caught_up: Mapped[list | None] = mapped_column(JSONType)
    description: Mapped[str] = mapped_column(Text, default="")
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    created_by: Mapped[User | None] = relationship()
