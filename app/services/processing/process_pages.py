"""What the process pages show and do for one user: a process's page with its execute form, running it
from that form, and the DHIS2 connections page (administrators). Each function authorizes the user and
returns plain values for the template."""
from __future__ import annotations

from dataclasses import dataclass

from app.models import Dhis2Connection, Job, Permission, Project, User
from app.schemas.parsing import by_form_field, validate_data
from app.schemas.processing import Dhis2ConnectionIn
from app.services.platform.errors import Forbidden, ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.processing import dhis2
from app.services.processing.jobs import enqueue_job
from app.services.processing.process_forms import Field, form_fields, inputs_from_form
from app.services.processing.registry import Process, get_process


# --- a process's page and its execute form ----------------------------------------------------

@dataclass
class ProcessPage:
    process: Process
    fields: list[Field]
    can_run: bool
    errors: dict
    form: dict
    connections: list[Dhis2Connection]


@dataclass
class ProcessRun:
    """An execute form submission: the queued job, or the page again with the form's errors."""

    title: str
    job: Job | None = None
    page: ProcessPage | None = None


def process_page(user: User, process_id: str, form=None, errors: dict | None = None) -> ProcessPage:
    """The process's description and execute form (fields generated from its input schema); `form` and
    `errors` show a rejected submission as it was typed."""
    process = get_process(process_id)
    return ProcessPage(process, form_fields(process), user.has_permission(Permission.MANAGE_PIPELINES),
                       errors or {}, form or {}, dhis2.list_connections(user))


def run_process_form(user: User, process_id: str, form) -> ProcessRun:
    """Queue the process with the execute form's values (`form`: the posted fields): in the project of the
    rows they name, else the user's first. Needs MANAGE_PIPELINES and the right to act on those rows
    (404 otherwise); bad inputs queue nothing and give the page with each error named."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    process = get_process(process_id)
    try:
        job = enqueue_job(process.id, inputs_from_form(process, form), launcher=user)
    except ValidationFailed as exc:
        return ProcessRun(process.title, page=process_page(user, process_id, form, by_form_field(exc.details)))
    return ProcessRun(process.title, job=job)


# --- DHIS2 connections (administrators) -------------------------------------------------------

@dataclass
class ConnectionsPage:
    connections: list[Dhis2Connection]
    editing: Dhis2Connection | None
    errors: dict
    form: dict
    projects: list[Project]


def _admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only administrators manage DHIS2 connections.")


def _connections_page(user: User, editing: Dhis2Connection | None, form: dict | None = None,
                      errors: dict | None = None) -> ConnectionsPage:
    if form is None and editing is not None:
        form = {"name": editing.name, "url": editing.url, "username": editing.username}
    return ConnectionsPage(dhis2.list_connections(user), editing, errors or {}, form or {}, user.projects)


def connections_page(user: User, edit_id: int | None) -> ConnectionsPage:
    """The connections of the user's projects, and the form: new, or filled from connection `edit_id`
    (never its password)."""
    _admin(user)
    return _connections_page(user, dhis2.get_connection(user, edit_id) if edit_id is not None else None)


def save_connection_form(user: User, data: dict, connection_id: int | None) -> ConnectionsPage | None:
    """Create or update a connection from the form (an empty password keeps the stored one); None when
    saved, else the page with each error named and the form as typed, without the password."""
    _admin(user)
    try:
        dhis2.save_connection(user, validate_data(Dhis2ConnectionIn, data, "Invalid DHIS2 connection"), connection_id)
    except ValidationFailed as exc:
        form = {k: v for k, v in data.items() if k != "password"}
        editing = dhis2.get_connection(user, connection_id) if connection_id else None
        return _connections_page(user, editing, form, exc.details)
    return None
