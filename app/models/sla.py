"""SLA: business calendars, targets per service area / task type, and one clock per task and
target kind (DESIGN, "SLA")."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.tickets import TaskStatus
from app.models.base import Base, JSONType, UTCDateTime, utcnow


class BusinessCalendarConfig(Base):
    """Stored form of `services.business_calendar.BusinessCalendar`."""

    __tablename__ = "business_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    work_start: Mapped[str] = mapped_column(String(5), default="08:00")
    work_end: Mapped[str] = mapped_column(String(5), default="17:00")
    workdays: Mapped[list] = mapped_column(JSONType, default=lambda: [0, 1, 2, 3, 4])
    country: Mapped[str | None] = mapped_column(String(8))
    subdivision: Mapped[str | None] = mapped_column(String(16))
    extra_holidays: Mapped[list] = mapped_column(JSONType, default=list)  # ISO dates
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SlaConfig(Base):
    """Targets for tasks of one service area and task type ("*" matches any)."""

    __tablename__ = "sla_configs"
    __table_args__ = (UniqueConstraint("project_id", "service_area", "task_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)  # None: every project
    name: Mapped[str] = mapped_column(String(160))
    service_area: Mapped[str] = mapped_column(String(80), default="*")
    task_type: Mapped[str] = mapped_column(String(40), default="*")
    response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    warning_percent: Mapped[int] = mapped_column(Integer, default=80)
    pause_states: Mapped[list] = mapped_column(JSONType, default=lambda: [TaskStatus.BLOCKED.value])
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("business_calendars.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    calendar: Mapped[BusinessCalendarConfig | None] = relationship(lazy="joined")


class SlaStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"   # still running, past due
    MISSED = "missed"       # stopped after its due time
    CANCELLED = "cancelled"


class SlaRecord(Base):
    """One clock: `kind` is response (until work starts) or resolution (until completed).
    While paused, `due_at`/`warn_at` are NULL and `remaining_minutes` holds the business minutes left."""

    __tablename__ = "sla_records"
    __table_args__ = (
        UniqueConstraint("task_id", "kind"),
        Index("ix_sla_records_open_due", "due_at", postgresql_where=text("breached_at IS NULL AND stopped_at IS NULL"),
              sqlite_where=text("breached_at IS NULL AND stopped_at IS NULL")),
        Index("ix_sla_records_open_warn", "warn_at", postgresql_where=text("warned_at IS NULL AND stopped_at IS NULL"),
              sqlite_where=text("warned_at IS NULL AND stopped_at IS NULL")),
        Index("ix_sla_records_area_status", "project_id", "service_area", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))  # indexed by unique (task_id, kind)
    config_id: Mapped[int | None] = mapped_column(ForeignKey("sla_configs.id", ondelete="SET NULL"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    service_area: Mapped[str] = mapped_column(String(80))
    task_type: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16), default="resolution")
    status: Mapped[str] = mapped_column(String(16), default=SlaStatus.RUNNING.value)
    target_minutes: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remaining_minutes: Mapped[float | None] = mapped_column(Float)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    calendar: Mapped[dict] = mapped_column(JSONType, default=dict)  # snapshot used for due times
