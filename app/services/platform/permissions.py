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


@dataclass(frozen=True)
class SystemActor:
    """The server acting on its own — a schedule starting its run, a job without a launcher re-checked
    in the worker — confined to one project: every permission inside it, nothing outside (no project,
    no rows). Built by the dispatcher and the job engine from stored rows, never from a request."""

    project_id: int | None
    label: str = "system"
    id = None
    is_admin = False
    is_platform_operator = False

    @property
    def project_ids(self) -> list[int]:
        return [] if self.project_id is None else [self.project_id]

    def has_permission(self, permission: str) -> bool:
        return True


def require_permission(user: "User | SystemActor", permission: str) -> None:
    """Forbidden unless `user` holds `permission` (through their role)."""
    if not user.has_permission(permission):
        raise Forbidden(f"You need the {permission} permission for this.")
