"""Departments, categories (with sub-categories) and staff roles with their users: what workflows
are built from. Also the round-robin source we serve (`/api/v1/tts/round-robin/`)."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Category, Department, Permission, StaffRole, User, user_projects, user_staff_roles
from app.schemas.helpdesk import CategoryIn, DepartmentIn, StaffRoleChanges, StaffRoleIn
from app.services.platform.permissions import require_permission
from app.services.helpdesk.intake import allocate_waiting
from app.services.platform import audit
from app.services.platform.access import project_scope, resolve_project
from app.services.platform.errors import FieldErrors, NotFound


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


def _taken(model, project_id: int | None, name: str, **where) -> bool:
    if project_id is None:
        return False
    stmt = select(model.id).where(model.project_id == project_id, func.lower(model.name) == name.lower())
    for column, value in where.items():
        attr = getattr(model, column)
        stmt = stmt.where(attr.is_(None) if value is None else attr == value)
    return db.session.execute(stmt).first() is not None


def create_department(user: User, data: DepartmentIn) -> Department:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.project_id, errors)
    if _taken(Department, project_id, data.name):
        errors.add("name", f"a department named '{data.name}' already exists")
    errors.raise_if_any("Cannot create department")
    department = Department(project_id=project_id, name=data.name)
    db.session.add(department)
    db.session.commit()
    return department


def create_category(user: User, data: CategoryIn) -> Category:
    """A category, or a sub-category of a top-level one (`parent_id`)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.project_id, errors)
    parent = db.session.get(Category, data.parent_id) if data.parent_id is not None else None
    if data.parent_id is not None and (parent is None or parent.project_id != project_id):
        errors.add("parent_id", f"category {data.parent_id} does not exist in this project")
        parent = None
    elif parent is not None and parent.parent_id is not None:
        errors.add("parent_id", f"'{parent.name}' is already a sub-category; sub-categories have no children")
    if _taken(Category, project_id, data.name, parent_id=parent.id if parent else None):
        errors.add("name", f"'{data.name}' already exists here")
    errors.raise_if_any("Cannot create category")
    category = Category(project_id=project_id, name=data.name, parent_id=parent.id if parent else None)
    db.session.add(category)
    db.session.commit()
    return category


def _members(project_id: int, ids: list[int], errors: FieldErrors) -> list[User]:
    users = db.session.execute(select(User).join(user_projects, user_projects.c.user_id == User.id).where(
        User.id.in_(ids), user_projects.c.project_id == project_id)).scalars().all()
    missing = sorted(set(ids) - {u.id for u in users})
    if missing:
        errors.add("user_ids", f"users {', '.join(map(str, missing))} do not exist in this project")
    return list(users)


def create_staff_role(user: User, data: StaffRoleIn) -> StaffRole:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.project_id, errors)
    if _taken(StaffRole, project_id, data.name):
        errors.add("name", f"a role named '{data.name}' already exists")
    members = _members(project_id, data.user_ids, errors) if project_id else []
    errors.raise_if_any("Cannot create role")
    role = StaffRole(project_id=project_id, name=data.name, description=data.description,
                     max_assignments=data.max_assignments, assignment_mode=data.assignment_mode,
                     max_open_tasks=data.max_open_tasks, users=members)
    db.session.add(role)
    db.session.flush()
    audit.record(user, "create", "staff_role", role.id, {"name": data.name, "users": [u.id for u in members]})
    db.session.commit()
    return role


def update_staff_role(user: User, role_id, data: StaffRoleChanges) -> StaffRole:
    """Change description, max_assignments, the assignment mode and cap, or the members (`user_ids`, the
    whole list): the fields given. The unassigned queue is tried again afterwards (a cap lifted or
    members added may free someone)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    role = get_staff_role(user, role_id)
    errors = FieldErrors()
    changes = data.model_dump(include=data.model_fields_set - {"user_ids"})
    members = _members(role.project_id, data.user_ids, errors) if "user_ids" in data.model_fields_set else None
    errors.raise_if_any("Cannot save role")
    for key, value in changes.items():
        setattr(role, key, value)
    if members is not None:
        role.users = members
        changes["users"] = [u.id for u in members]
    audit.record(user, "update", "staff_role", role.id, changes)
    db.session.commit()
    allocate_waiting([role.project_id])
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
