"""Plannings (Iaso microplanning): forms, plannings, assignments; and the audit trail."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.org import OrgUnit, Team
from app.models.users import Project, User

planning_forms = Table(
    "planning_forms",
    Base.metadata,
    Column("planning_id", Integer, ForeignKey("plannings.id", ondelete="CASCADE"), primary_key=True),
    Column("form_id", Integer, ForeignKey("forms.id", ondelete="CASCADE"), primary_key=True),
)


class Form(Base):
    __tablename__ = "forms"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    version: Mapped[str] = mapped_column(String(40), default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Planning(Base):
    __tablename__ = "plannings"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[date | None] = mapped_column(Date)
    ended_at: Mapped[date | None] = mapped_column(Date)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pipeline_uuids: Mapped[list] = mapped_column(JSONType, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    project: Mapped[Project] = relationship()
    team: Mapped[Team] = relationship()
    org_unit: Mapped[OrgUnit] = relationship()
    forms: Mapped[list[Form]] = relationship(secondary=planning_forms, lazy="selectin", order_by=Form.name)
    created_by: Mapped[User | None] = relationship()


class Assignment(Base):
    """One org unit of a planning given to a team, a user, or a user of a team (both). At most one live
    assignment per (planning, org unit): a partial unique index on live rows."""

    __tablename__ = "assignments"
    __table_args__ = (
        Index("uq_assignments_live_planning_org_unit", "planning_id", "org_unit_id", unique=True,
              postgresql_where=text("deleted_at IS NULL"), sqlite_where=text("deleted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    planning_id: Mapped[int] = mapped_column(ForeignKey("plannings.id"), index=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    job_id: Mapped[str | None] = mapped_column(String(36))

    org_unit: Mapped[OrgUnit] = relationship()
    team: Mapped[Team | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


class AuditLog(Base):
    """Who changed what: one row per change (or per bulk operation, with counts and ids)."""

    __tablename__ = "audit_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    source: Mapped[str] = mapped_column(String(40), default="web")  # web, api, job, pipeline
    action: Mapped[str] = mapped_column(String(60))
    object_type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str] = mapped_column(String(60), index=True)
    changes: Mapped[dict] = mapped_column(JSONType, default=dict)

    actor: Mapped[User | None] = relationship()
