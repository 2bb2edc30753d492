"""Tenancy: which projects' data a user may see and change."""
from __future__ import annotations

from functools import lru_cache

from app.models import User
from app.services.platform.errors import FieldErrors


def project_scope(user: User) -> list[int]:
    """Ids of the projects whose data this user sees (never empty: [-1] matches nothing)."""
    return user.project_ids or [-1]


def get_scoped(model, raw_id, user: User, label: str, missing: str | None = None):
    """The row of `model` with this id in one of the user's projects (and not soft-deleted), or
    NotFound — rows of other projects are indistinguishable from rows that do not exist."""
    from app.extensions import db
    from app.services.platform.errors import NotFound

    try:
        row_id = int(raw_id)
    except (TypeError, ValueError):
        raise NotFound(f"No {label} {raw_id!r}") from None
    row = db.session.execute(_scoped_statement(model), {"row_id": row_id, "project_ids": project_scope(user)}
                             ).scalar_one_or_none()
    if row is None:
        raise NotFound(missing or f"No {label} {row_id}")
    return row


@lru_cache(maxsize=None)
def _scoped_statement(model):
    """`get_scoped`'s query, built once per model (every request that names a row runs it)."""
    from sqlalchemy import bindparam, select

    from app.models.base import in_values

    stmt = select(model).where(model.id == bindparam("row_id"),
                               in_values(model.project_id, "project_ids"))
    if hasattr(model, "deleted_at"):
        stmt = stmt.where(model.deleted_at.is_(None))
    return stmt


def resolve_project(user: User, project_id: int | None, errors: FieldErrors, field: str = "project_id") -> int | None:
    """The project a new row goes into: the given one (a validated id) if the user belongs to it, or the
    user's only project when none is given."""
    if project_id is None:
        if len(user.project_ids) == 1:
            return user.project_ids[0]
        errors.add(field, "is required (you belong to several projects)" if user.project_ids
                   else "you belong to no project")
        return None
    if project_id not in user.project_ids:
        errors.add(field, f"project {project_id} does not exist or is not one of yours")
        return None
    return project_id


def resolve_scope(user: User, project_id: int | str | None, given: bool, errors: FieldErrors,
                  field: str = "project_id") -> int | None:
    """The project of a row that may apply to every project instead (an SLA config, a rule, a webhook
    endpoint): `project_id` given as null or "*" is every project (None; the platform operator only),
    else as `resolve_project` (not given: the user's only project)."""
    if given and project_id in (None, "*"):
        if not user.is_platform_operator:
            errors.add(field, "only the platform operator can choose every project; choose one of yours")
        return None
    return resolve_project(user, project_id if given else None, errors, field)
