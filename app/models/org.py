"""The org unit hierarchy (Iaso model): types, units with a materialised path, teams."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.users import Project, User


class OrgUnitCategory(StrEnum):
    COUNTRY = "COUNTRY"
    REGION = "REGION"
    DISTRICT = "DISTRICT"
    HF = "HF"


class AreaType(StrEnum):
    URBAN = "URBAN"
    RURAL = "RURAL"


org_unit_type_sub_types = Table(
    "org_unit_type_sub_types",
    Base.metadata,
    Column("parent_type_id", Integer, ForeignKey("org_unit_types.id", ondelete="CASCADE"), primary_key=True),
    Column("child_type_id", Integer, ForeignKey("org_unit_types.id", ondelete="CASCADE"), primary_key=True),
)


class OrgUnitType(Base):
    __tablename__ = "org_unit_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    short_name: Mapped[str] = mapped_column(String(40), default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    category: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    project: Mapped[Project] = relationship()
    sub_unit_types: Mapped[list[OrgUnitType]] = relationship(
        secondary=org_unit_type_sub_types,
        primaryjoin=lambda: OrgUnitType.id == org_unit_type_sub_types.c.parent_type_id,
        secondaryjoin=lambda: OrgUnitType.id == org_unit_type_sub_types.c.child_type_id,
        order_by=lambda: OrgUnitType.depth,
        lazy="selectin",
    )


class OrgUnit(Base):
    """An org unit. `path` is the ids from the root, each followed by a dot ("1.7.42."),
    so a subtree is a range of paths on an index (text_pattern_ops on PostgreSQL; see
    `services.planning.orgunits.under_path`)."""

    __tablename__ = "org_units"
    __table_args__ = (
        # subtrees; counting the live units of a project's subtree reads the index alone
        Index("ix_org_units_path_live", "path", postgresql_ops={"path": "text_pattern_ops"},
              postgresql_include=["project_id", "deleted_at"]),
        Index("ix_org_units_project_parent", "project_id", "parent_id"),
        # the tree's live child counts read the index alone
        Index("ix_org_units_parent_live", "parent_id", postgresql_include=["deleted_at"]),
        # sampling: "units of type T under this path" touches only rows of that type
        Index("ix_org_units_type_path", "org_unit_type_id", "path", postgresql_ops={"path": "text_pattern_ops"}),
        # search: name ILIKE '%term%' through trigrams (pg_trgm; a plain index on SQLite)
        Index("ix_org_units_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(255), index=True)
    org_unit_type_id: Mapped[int] = mapped_column(ForeignKey("org_unit_types.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    path: Mapped[str] = mapped_column(String(255))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    geometry: Mapped[dict | None] = mapped_column(JSONType)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    area_type: Mapped[str | None] = mapped_column(String(8))
    source_ref: Mapped[str | None] = mapped_column(String(120), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    org_unit_type: Mapped[OrgUnitType] = relationship(lazy="joined")
    parent: Mapped[OrgUnit | None] = relationship(remote_side=lambda: OrgUnit.id)

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.split(".") if part][:-1]


class TeamType(StrEnum):
    TEAM_OF_TEAMS = "TEAM_OF_TEAMS"
    TEAM_OF_USERS = "TEAM_OF_USERS"


team_users = Table(
    "team_users",
    Base.metadata,
    Column("team_id", Integer, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class Team(Base):
    """A team of teams or a team of users; `path` works as for org units."""

    __tablename__ = "teams"
    __table_args__ = (
        Index("ix_teams_path_pattern", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), default="")
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    colour: Mapped[str] = mapped_column(String(7), default="#4f46e5")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    parent: Mapped[Team | None] = relationship(remote_side=lambda: Team.id)
    manager: Mapped[User | None] = relationship()
    users: Mapped[list[User]] = relationship(secondary=team_users, lazy="selectin", order_by=User.username)
