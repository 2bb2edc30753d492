"""Departments, categories (with sub-categories) and staff roles with their users: what workflows
are built from. Also the round-robin source we serve (`/api/v1/tts/round-robin/`)."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Category, Department, Permission, StaffRole, User, user_projects, user_staff_roles
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.services.platform.access import parse_int, project_scope, resolve_project
from app.services.platform.errors import FieldErrors, NotFound

MAX_ASSIGNMENTS_LIMIT = 20


def departments_query(user: User) -> Select:
    return select(Department).where(Department.project_id.in_(project_scope(user))).order_by(Department.name)


def categories_query(user: User) -> Select:
    """Categories and sub-categories (a sub-category has a parent)."""
    return select(Category).where(Category.project_id.in_(project_scope(user))).order_by(Category.name)


def staff_roles_query(user: User, project_id: int | None = None) -> Select:
    stmt = select(StaffRole).where(StaffRole.project_id.in_(project_scope(user)))
    if project_id is not None:
        stmt = stmt.where(StaffRole.project_id == project_id)
    return stmt.order_by(StaffRole.name)


def get_staff_role(user: User, role_id) -> StaffRole:
    try:
        role_id = int(role_id)
    except (TypeError, ValueError):
        raise NotFound(f"No role {role_id!r}") from None
    role = db.session.execute(select(StaffRole).where(
        StaffRole.id == role_id, StaffRole.project_id.in_(project_scope(user)))).scalar_one_or_none()
    if role is None:
        raise NotFound(f"No role {role_id}")
    return role


def _name(data: dict, errors: FieldErrors, limit: int = 120) -> str:
    name = str(data.get("name") or "").strip()
    if not name:
        errors.add("name", "is required")
    elif len(name) > limit:
        errors.add("name", f"must be at most {limit} characters")
    return name


def _taken(model, project_id: int | None, name: str, **where) -> bool:
    if project_id is None or not name:
        return False
    stmt = select(model.id).where(model.project_id == project_id, func.lower(model.name) == name.lower())
    for column, value in where.items():
        attr = getattr(model, column)
        stmt = stmt.where(attr.is_(None) if value is None else attr == value)
    return db.session.execute(stmt).first() is not None


def create_department(user: User, data: dict) -> Department:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.get("project_id"), errors)
    name = _name(data, errors)
    if _taken(Department, project_id, name):
        errors.add("name", f"a department named '{name}' already exists")
    errors.raise_if_any("Cannot create department")
    department = Department(project_id=project_id, name=name)
    db.session.add(department)
    db.session.commit()
    return department


def create_category(user: User, data: dict) -> Category:
    """A category, or a sub-category of a top-level one (`parent_id`)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.get("project_id"), errors)
    name = _name(data, errors)
    parent = None
    if data.get("parent_id") not in (None, ""):
        parent_id = parse_int(data.get("parent_id"), errors, "parent_id")
        parent = db.session.get(Category, parent_id) if parent_id is not None else None
        if parent_id is not None and (parent is None or parent.project_id != project_id):
            errors.add("parent_id", f"category {parent_id} does not exist in this project")
            parent = None
        elif parent is not None and parent.parent_id is not None:
            errors.add("parent_id", f"'{parent.name}' is already a sub-category; sub-categories have no children")
    if _taken(Category, project_id, name, parent_id=parent.id if parent else None):
        errors.add("name", f"'{name}' already exists here")
    errors.raise_if_any("Cannot create category")
    category = Category(project_id=project_id, name=name, parent_id=parent.id if parent else None)
    db.session.add(category)
    db.session.commit()
    return category


def _max_assignments(raw, errors: FieldErrors) -> int | None:
    value = parse_int(raw, errors, "max_assignments", minimum=1)
    if value is not None and value > MAX_ASSIGNMENTS_LIMIT:
        errors.add("max_assignments", f"must be at most {MAX_ASSIGNMENTS_LIMIT}")
        return None
    return value


def _members(project_id: int, raw, errors: FieldErrors) -> list[User]:
    if not isinstance(raw, list):
        errors.add("user_ids", "must be a list of user ids")
        return []
    ids = [v for v in (parse_int(r, errors, "user_ids") for r in raw) if v is not None]
    users = db.session.execute(select(User).join(user_projects, user_projects.c.user_id == User.id).where(
        User.id.in_(ids), user_projects.c.project_id == project_id)).scalars().all()
    missing = sorted(set(ids) - {u.id for u in users})
    if missing:
        errors.add("user_ids", f"users {', '.join(map(str, missing))} do not exist in this project")
    return list(users)


def create_staff_role(user: User, data: dict) -> StaffRole:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.get("project_id"), errors)
    name = _name(data, errors)
    if _taken(StaffRole, project_id, name):
        errors.add("name", f"a role named '{name}' already exists")
    max_assignments = _max_assignments(data.get("max_assignments") or 3, errors)
    members = _members(project_id, data.get("user_ids") or [], errors) if project_id else []
    errors.raise_if_any("Cannot create role")
    role = StaffRole(project_id=project_id, name=name, description=str(data.get("description") or "")[:500],
                     max_assignments=max_assignments, users=members)
    db.session.add(role)
    db.session.flush()
    audit.record(user, "create", "staff_role", role.id, {"name": name, "users": [u.id for u in members]})
    db.session.commit()
    return role


def update_staff_role(user: User, role_id, data: dict) -> StaffRole:
    """Change description, max_assignments or the members (`user_ids`, the whole list)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    role = get_staff_role(user, role_id)
    errors = FieldErrors()
    changes: dict = {}
    if "max_assignments" in data:
        changes["max_assignments"] = _max_assignments(data.get("max_assignments"), errors)
    if "description" in data:
        changes["description"] = str(data.get("description") or "")[:500]
    members = _members(role.project_id, data.get("user_ids"), errors) if "user_ids" in data else None
    errors.raise_if_any("Cannot save role")
    for key, value in changes.items():
        setattr(role, key, value)
    if members is not None:
        role.users = members
        changes["users"] = [u.id for u in members]
    audit.record(user, "update", "staff_role", role.id, changes)
    db.session.commit()
    return role


def round_robin_user_ids(user: User, role_name: str, project_id: int | None = None) -> list[int]:
    """The seed's `GET /api/v1/tts/round-robin/?role_name=`: ids of the active users holding a role
    of that name in the caller's projects (or in `project_id`), ascending; [] for an unknown role."""
    errors = FieldErrors()
    if project_id is not None and project_id not in user.project_ids:
        errors.add("project_id", f"project {project_id} does not exist or is not one of yours")
    errors.raise_if_any("Invalid query")
    scope = [project_id] if project_id is not None else project_scope(user)
    return list(db.session.execute(
        select(User.id).join(user_staff_roles, user_staff_roles.c.user_id == User.id)
        .join(StaffRole, StaffRole.id == user_staff_roles.c.staff_role_id)
        .where(StaffRole.project_id.in_(scope), StaffRole.name == role_name, User.active.is_(True))
        .order_by(User.id).distinct()).scalars())
