"""Teams (Iaso model): teams of teams and teams of users, with a materialised path."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Permission, Team, TeamType, User, utcnow
from app.services.platform.permissions import require_permission
from app.schemas.teams import DEFAULT_COLOUR, TeamChanges, TeamIn
from app.schemas.types import INT32_MAX
from app.services.platform.access import get_scoped, project_scope, resolve_project
from app.services.platform.errors import Conflict, FieldErrors

PATH_LENGTH = Team.path.type.length  # the materialised path's column: a deeper tree cannot be stored


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


def _project_user(project_id: int | None, user_id: int, errors: FieldErrors, field: str) -> User | None:
    found = db.session.get(User, user_id)
    if found is None or project_id not in found.project_ids:
        errors.add(field, f"user {user_id} does not exist in this project")
        return None
    return found


def _check_name(project_id: int | None, name: str, team: Team | None, errors: FieldErrors) -> None:
    if project_id is None:
        return
    clash = select(Team.id).where(Team.project_id == project_id, Team.deleted_at.is_(None),
                                  func.lower(Team.name) == name.lower())
    if team is not None:
        clash = clash.where(Team.id != team.id)
    if db.session.execute(clash).first():
        errors.add("name", f"a team named '{name}' already exists in this project")


def _parent(project_id: int | None, parent_id: int, errors: FieldErrors) -> Team | None:
    parent = db.session.execute(
        select(Team).where(Team.id == parent_id, Team.project_id == project_id, Team.deleted_at.is_(None))
    ).scalar_one_or_none()
    if parent is None:
        errors.add("parent_id", f"team {parent_id} does not exist in this project")
    elif parent.type != TeamType.TEAM_OF_TEAMS:
        errors.add("parent_id", f"team '{parent.name}' is a team of users; only a team of teams has sub-teams")
    elif len(parent.path) + len(str(INT32_MAX)) + 1 > PATH_LENGTH:
        errors.add("parent_id", f"team '{parent.name}' is as deep as a team tree goes")
    else:
        return parent
    return None


def _members(project_id: int | None, user_ids: list[int], team_type: str, errors: FieldErrors) -> list[User]:
    members = [m for m in (_project_user(project_id, uid, errors, "user_ids") for uid in dict.fromkeys(user_ids)) if m]
    if members and team_type != TeamType.TEAM_OF_USERS:
        errors.add("user_ids", "only a team of users has members")
    return members


def create_team(user: User, data: TeamIn) -> Team:
    """Create a team; validation errors name the field; nothing written on error."""
    require_permission(user, Permission.MANAGE_TEAMS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.project_id, errors)
    _check_name(project_id, data.name, None, errors)
    parent = _parent(project_id, data.parent_id, errors) if data.parent_id is not None else None
    manager = _project_user(project_id, data.manager_id, errors, "manager_id") if data.manager_id is not None else None
    members = _members(project_id, data.user_ids or [], data.type, errors)
    errors.raise_if_any("Cannot save team")
    team = Team(project_id=project_id, name=data.name, type=data.type.value, description=data.description or "",
                colour=data.colour or DEFAULT_COLOUR, manager=manager, users=members,
                parent_id=parent.id if parent else None, path="")
    db.session.add(team)
    db.session.flush()
    team.path = f"{parent.path if parent else ''}{team.id}."
    db.session.commit()
    return team


def update_team(user: User, team_id: int, data: TeamChanges) -> Team:
    """Change the fields given: name, description, colour, manager or members (type, parent and
    project are fixed)."""
    require_permission(user, Permission.MANAGE_TEAMS)
    team = get_team(user, team_id)
    given = data.model_fields_set
    errors = FieldErrors()
    for field in ("type", "parent_id", "project_id"):
        if field in given and getattr(data, field) != getattr(team, field):
            errors.add(field, "cannot be changed after creation")
    values: dict = {}
    if "name" in given:
        _check_name(team.project_id, data.name, team, errors)
        values["name"] = data.name
    if "description" in given:
        values["description"] = data.description or ""
    if "colour" in given:
        values["colour"] = data.colour or DEFAULT_COLOUR
    if "manager_id" in given:
        values["manager"] = (_project_user(team.project_id, data.manager_id, errors, "manager_id")
                             if data.manager_id is not None else None)
    if "user_ids" in given:
        values["users"] = _members(team.project_id, data.user_ids or [], team.type, errors)
        if values["users"] and sub_team_counts([team.id]):
            errors.add("user_ids", "this team has sub-teams")
    errors.raise_if_any("Cannot save team")
    for key, value in values.items():
        setattr(team, key, value)
    db.session.commit()
    return team


def delete_team(user: User, team_id: int) -> None:
    """Soft-delete a team without live sub-teams."""
    require_permission(user, Permission.MANAGE_TEAMS)
    team = get_team(user, team_id)
    if sub_team_counts([team.id]):
        raise Conflict(f"Team '{team.name}' still has sub-teams; delete or move them first.")
    team.deleted_at = utcnow()
    db.session.commit()
