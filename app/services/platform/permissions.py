"""Who may do what: the acting principal is passed in (a user, or a pipeline run's token) and the
service checks it. Nothing here reads the web request."""
from __future__ import annotations

from dataclasses import dataclass

from app.models import User
from app.services.platform.errors import DomainError, Forbidden


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"


@dataclass(frozen=True)
class PipelineActor:
    """A pipeline run calling back with its short-lived token: it may touch only its own job
    and its planning's assignments. `user` is who launched it (for audit and project scope)."""

    job_id: str
    planning_id: int | None
    user: User


def require_permission(user: User, permission: str) -> None:
    """Forbidden unless `user` holds `permission` (through their role)."""
    if not user.has_permission(permission):
        raise Forbidden(f"You need the {permission} permission for this.")
