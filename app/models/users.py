"""Users, roles with permissions, and projects (the tenancy boundary)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import BigInteger, Boolean, Column, FetchedValue, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow


class Permission(StrEnum):
    UPDATE_TASK = "UPDATE_TASK"
    CREATE_TASK = "CREATE_TASK"
    CREATE_ACTION_PLAN = "CREATE_ACTION_PLAN"
    ACTIVATE_ACTION_PLAN = "ACTIVATE_ACTION_PLAN"
    MANAGE_SLA = "MANAGE_SLA"
    MANAGE_PLANNING = "MANAGE_PLANNING"
    MANAGE_PIPELINES = "MANAGE_PIPELINES"
    VIEW_STATS = "VIEW_STATS"
    MANAGE_USERS = "MANAGE_USERS"
    MANAGE_ORG_UNITS = "MANAGE_ORG_UNITS"
    MANAGE_TEAMS = "MANAGE_TEAMS"
    MANAGE_WORKFLOWS = "MANAGE_WORKFLOWS"


ALL_PERMISSIONS = tuple(p.value for p in Permission)

# The built-in roles; `ensure_default_roles` creates them and keeps their permissions current.
DEFAULT_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Everything, including users and the RQ dashboard", ALL_PERMISSIONS),
    "coordinator": (
        "Plans field work, runs pipelines, manages tasks and SLAs",
        (
            "UPDATE_TASK", "CREATE_TASK", "CREATE_ACTION_PLAN", "ACTIVATE_ACTION_PLAN",
            "MANAGE_SLA", "MANAGE_PLANNING", "MANAGE_PIPELINES", "VIEW_STATS",
            "MANAGE_ORG_UNITS", "MANAGE_TEAMS", "MANAGE_WORKFLOWS",
        ),
    ),
    "agent": ("Works on assigned tasks", ("UPDATE_TASK", "CREATE_TASK")),
}

user_projects = Table(
    "user_projects",
    Base.metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Integer, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
)


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.name}>"


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    permissions: Mapped[list] = mapped_column(JSONType, default=list)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str] = mapped_column(String(255), default="")
    full_name: Mapped[str] = mapped_column(String(160), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The platform operator runs the deployment (RQ dashboard, outbox, OpenHEXA connection, rows that
    # belong to no project); it is a flag of its own, never implied by a role: an admin is an admin
    # of their projects only.
    platform_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The IANA zone the user chose for times on pages (None: the browser's, else UTC)
    time_zone: Mapped[str | None] = mapped_column(String(64))
    # A new value, set by database triggers, whenever the user's row, role, project memberships or projects
    # change (migration f3a9c2e7d5b1): `services.platform.principals` reuses a loaded user while it stays the same.
    principal_version: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                                   server_onupdate=FetchedValue())

    role: Mapped[Role] = relationship(lazy="joined")
    projects: Mapped[list[Project]] = relationship(secondary=user_projects, lazy="selectin")

    @property
    def is_active(self) -> bool:  # flask-login refuses inactive users
        return bool(self.active)

    @property
    def is_platform_operator(self) -> bool:
        return bool(self.platform_operator) and self.is_active

    @property
    def is_admin(self) -> bool:
        return self.role is not None and self.role.name == "admin"

    def has_permission(self, permission: str) -> bool:
        return self.role is not None and str(permission) in (self.role.permissions or [])

    @property
    def project_ids(self) -> list[int]:
        return [p.id for p in self.projects]

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username}>"
