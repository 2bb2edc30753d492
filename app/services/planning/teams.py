"""Teams (Iaso model): teams of teams and teams of users, with a materialised path."""
from __future__ import annotations

import re

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Permission, Team, TeamType, User, utcnow
from app.services.platform.permissions import require_permission
from app.services.platform.access import get_scoped, parse_int, project_scope, resolve_project
from app.services.platform.errors import Conflict, FieldErrors

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def teams_query(user: User, parent_id: int | None = None, roots: bool = False, team_type: str | None = None,
                search: str | None = None, project_id: int | None = None) -> Select:
    stmt = select(Team).where(Team.project_id.in_(project_scope(user)), Team.deleted_at.is_(None))
    if parent_id is not None:
        stmt = stmt.where(Team.parent_id == parent_id)
    if roots:
        stmt = stmt.where(Team.parent_id.is_(None))
    if team_type:
        stmt = stmt.where(Team.type == team_type)
    if search:
        stmt = stmt.where(Team.name.ilike(f"%{search.strip()}%"))
    if project_id is not None:
        stmt = stmt.where(Team.project_id == project_id)
    return stmt.order_by(Team.name, Team.id)


def get_team(user: User, team_id: int) -> Team:
    return get_scoped(Team, team_id, user, "team")


def sub_team_counts(team_ids: list[int]) -> dict[int, int]:
    if not team_ids:
        return {}
    rows = db.session.execute(
        select(Team.parent_id, func.count()).where(Team.parent_id.in_(team_ids), Team.deleted_at.is_(None))
        .group_by(Team.parent_id)
    ).all()
    return dict(rows)


def _project_user(project_id: int | None, raw, errors: FieldErrors, field: str) -> User | None:
    user_id = parse_int(raw, errors, field)
    if user_id is None:
        return None
    found = db.session.get(User, user_id)
    if found is None or project_id not in found.project_ids:
        errors.add(field, f"user {user_id} does not exist in this project")
        return None
    return found


def _validate(user: User, data: dict, team: Team | None) -> dict:
    errors = FieldErrors()
    out: dict = {}
    project_id = team.project_id if team else resolve_project(user, data.get("project_id"), errors)
    out["project_id"] = project_id
    if team is None or "name" in data:
        name = errors.text(data, "name", 160)
        if name and len(name) <= 160 and project_id is not None:
            clash = select(Team.id).where(Team.project_id == project_id, Team.deleted_at.is_(None),
                                          func.lower(Team.name) == name.lower())
            if team is not None:
                clash = clash.where(Team.id != team.id)
            if db.session.execute(clash).first():
                errors.add("name", f"a team named '{name}' already exists in this project")
        out["name"] = name
    if team is None:
        team_type = data.get("type")
        if team_type not in TeamType.__members__:
            errors.add("type", "must be TEAM_OF_TEAMS or TEAM_OF_USERS")
        out["type"] = team_type
        parent = None
        if data.get("parent_id") not in (None, ""):
            parent_id = parse_int(data.get("parent_id"), errors, "parent_id")
            if parent_id is not None:
                parent = db.session.execute(
                    select(Team).where(Team.id == parent_id, Team.project_id == project_id, Team.deleted_at.is_(None))
                ).scalar_one_or_none()
                if parent is None:
                    errors.add("parent_id", f"team {parent_id} does not exist in this project")
                elif parent.type != TeamType.TEAM_OF_TEAMS:
                    errors.add("parent_id", f"team '{parent.name}' is a team of users; only a team of teams has sub-teams")
        out["parent"] = parent
    else:
        out["type"] = team.type
    if "description" in data or team is None:
        out["description"] = str(data.get("description") or "")[:2000]
    if "colour" in data or "color" in data or team is None:
        colour = data.get("colour", data.get("color")) or "#4f46e5"
        if not isinstance(colour, str) or not COLOUR.match(colour):
            errors.add("colour", "must be a hex colour like #1f77b4")
        out["colour"] = colour
    if data.get("manager_id") not in (None, ""):
        out["manager"] = _project_user(project_id, data.get("manager_id"), errors, "manager_id")
    elif "manager_id" in data or team is None:
        out["manager"] = None
    if "user_ids" in data:
        raw_users = data.get("user_ids") or []
        if not isinstance(raw_users, list):
            errors.add("user_ids", "must be a list of user ids")
            raw_users = []
        members = [m for m in (_project_user(project_id, raw, errors, "user_ids") for raw in raw_users) if m]
        if members and out["type"] != TeamType.TEAM_OF_USERS:
            errors.add("user_ids", "only a team of users has members")
        if team is not None and members and sub_team_counts([team.id]):
            errors.add("user_ids", "this team has sub-teams")
        out["users"] = members
    errors.raise_if_any("Cannot save team")
    return out


def create_team(user: User, data: dict) -> Team:
    """Create a team; validation errors name the field; nothing written on error."""
    require_permission(user, Permission.MANAGE_TEAMS)
    values = _validate(user, data, None)
    parent = values.pop("parent")
    team = Team(parent_id=parent.id if parent else None, path="", **values)
    db.session.add(team)
    db.session.flush()
    team.path = f"{parent.path if parent else ''}{team.id}."
    db.session.commit()
    return team


def update_team(user: User, team_id: int, data: dict) -> Team:
    """Change name, description, colour, manager or members (type and parent are fixed)."""
    require_permission(user, Permission.MANAGE_TEAMS)
    team = get_team(user, team_id)
    for field in ("type", "parent_id", "project_id"):
        if field in data and data[field] != getattr(team, field):
            _raise_fixed(field)
    values = _validate(user, data, team)
    values.pop("project_id", None)
    values.pop("type", None)
    for key, value in values.items():
        setattr(team, key, value)
    db.session.commit()
    return team


def _raise_fixed(field: str):
    errors = FieldErrors()
    errors.add(field, "cannot be changed after creation")
    errors.raise_if_any("Cannot save team")


def delete_team(user: User, team_id: int) -> None:
    """Soft-delete a team without live sub-teams."""
    require_permission(user, Permission.MANAGE_TEAMS)
    team = get_team(user, team_id)
    if sub_team_counts([team.id]):
        raise Conflict(f"Team '{team.name}' still has sub-teams; delete or move them first.")
    team.deleted_at = utcnow()
    db.session.commit()
