"""What the staff role pages show (MANAGE_WORKFLOWS): the roles with the new-role form, one role with
its users; and saving those forms. Each function checks the permission and the project and returns
plain values; a form with bad input comes back with every error named."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.extensions import db
from app.models import AssignmentMode, Permission, Project, StaffRole, User, utcnow
from app.schemas.helpdesk import StaffRoleChanges, StaffRoleIn
from app.schemas.parsing import validate_data
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk.round_robin import absences
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.platform.users import project_users


@dataclass
class RolesPage:
    roles: list[StaffRole]
    users: list[User]  # who may hold a role: the active users of the caller's projects
    projects: list[Project]
    form: dict
    errors: dict = field(default_factory=dict)


def roles_page(user: User, form: dict | None = None, errors: dict | None = None) -> RolesPage:
    """The staff roles of the user's projects and the new-role form."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    return RolesPage(list(db.session.execute(catalog.staff_roles_query(user)).scalars()), project_users(user),
                     list(user.projects), form or {"max_assignments": "3"}, errors or {})


@dataclass
class SavedRole:
    """A role form's submission: the role, or the page again with the errors (`page`)."""

    role: StaffRole | None = None
    page: RolesPage | RolePage | None = None


def create_role_from_form(user: User, form: dict) -> SavedRole:
    """A new staff role from the roles page's form (as posted; `user_ids`: who holds it)."""
    try:
        return SavedRole(role=catalog.create_staff_role(user, validate_data(StaffRoleIn, form, "Cannot create role")))
    except ValidationFailed as exc:
        db.session.rollback()
        return SavedRole(page=roles_page(user, form, exc.details))


@dataclass
class RolePage:
    role: StaffRole
    users: list[User]
    form: dict  # the role's values, or what was typed
    errors: dict = field(default_factory=dict)
    absent: dict[int, str] = field(default_factory=dict)  # member id → why they take no new work today
    modes: tuple = tuple(m.value for m in AssignmentMode)


def role_page(user: User, role_id: int, errors: dict | None = None, form: dict | None = None) -> RolePage:
    """One staff role and the form to change its description, limit and users."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    role = catalog.get_staff_role(user, role_id)
    stored = {"description": role.description, "max_assignments": role.max_assignments,
              "assignment_mode": role.assignment_mode, "max_open_tasks": role.max_open_tasks or "",
              "user_ids": [str(u.id) for u in role.users]}
    absent = {uid: "".join(why) for uid, why in absences([u.id for u in role.users], utcnow().date()).items()}
    return RolePage(role, project_users(user), form if form is not None else stored, errors or {}, absent)


def save_role_form(user: User, role_id: int, form: dict) -> SavedRole:
    """Change a staff role from its page's form (as posted: every field on it is given, a blank one
    is cleared)."""
    try:
        changes = validate_data(StaffRoleChanges, {k: None if v == "" else v for k, v in form.items()},
                                "Cannot save role")
        return SavedRole(role=catalog.update_staff_role(user, role_id, changes))
    except ValidationFailed as exc:
        db.session.rollback()
        return SavedRole(page=role_page(user, role_id, exc.details, form))
