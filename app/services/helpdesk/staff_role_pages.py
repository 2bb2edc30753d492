"""What the staff role pages show (MANAGE_WORKFLOWS): the roles with the new-role form, one role with
its users; and saving those forms. Each function checks the permission and the project and returns
plain values; a form with bad input comes back with every error named."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.extensions import db
from app.models import Permission, Project, StaffRole, User
from app.services.helpdesk import staff_roles as catalog
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


def create_role_from_form(user: User, form: dict, user_ids: list[str]) -> SavedRole:
    """A new staff role from the roles page's form (`user_ids`: who holds it)."""
    try:
        return SavedRole(role=catalog.create_staff_role(user, {**form, "user_ids": user_ids}))
    except ValidationFailed as exc:
        db.session.rollback()
        return SavedRole(page=roles_page(user, form, exc.details))


@dataclass
class RolePage:
    role: StaffRole
    users: list[User]
    errors: dict = field(default_factory=dict)


def role_page(user: User, role_id: int, errors: dict | None = None) -> RolePage:
    """One staff role and the form to change its description, limit and users."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    return RolePage(catalog.get_staff_role(user, role_id), project_users(user), errors or {})


def save_role_form(user: User, role_id: int, data: dict) -> SavedRole:
    """Change a staff role from its page's form."""
    try:
        return SavedRole(role=catalog.update_staff_role(user, role_id, data))
    except ValidationFailed as exc:
        db.session.rollback()
        return SavedRole(page=role_page(user, role_id, exc.details))
