"""The canonical job: one row per long-running piece of work (DESIGN, "The canonical job")."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Identity, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.users import User


class Job(Base):
    """Its id is the RQ job id and the OGC jobID."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Iaso's task id: a whole number, given by the database on insert (Iaso paths and pipelines use it)
    number: Mapped[int] = mapped_column(Integer, Identity(), unique=True, index=True)
    process_id: Mapped[str] = mapped_column(String(80), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    inputs: Mapped[dict] = mapped_column(JSONType, default=dict)
    results: Mapped[dict | None] = mapped_column(JSONType)
    external_ref: Mapped[str | None] = mapped_column(String(120), index=True)
    launcher_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    kill_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Per-step state of a multi-step process: [{name, title, status, attempts, progress, message, ...}]
    steps: Mapped[list | None] = mapped_column(JSONType)

    launcher: Mapped[User | None] = relationship()
    logs: Mapped[list[JobLog]] = relationship(
        back_populates="job", order_by=lambda: JobLog.id, cascade="all, delete-orphan"
    )

    @property
    def launched_by(self) -> str:
        """Who started it: its launcher's username, the schedule that did (a run has no launcher), or "system"."""
        if self.launcher is not None:
            return self.launcher.username
        if (self.external_ref or "").startswith("schedule:"):
            return f"schedule {self.external_ref.split(':', 1)[1]}"
        return "system"


class JobLog(Base):
    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)

    job: Mapped[Job] = relationship(back_populates="logs")
