"""The process registry: id → how to validate inputs, who may run it on which rows, and how to run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from app.models import Permission
from app.services.platform.errors import NotFound, ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.processing.errors import NoSuchProcess


@dataclass(frozen=True)
class Process:
    id: str
    title: str
    description: str
    version: str
    # run(ctx, inputs) -> results dict; ctx is a JobContext (progress, log, sleep, check_kill)
    run: Callable[[Any, dict], dict]
    # validate(inputs) -> normalised inputs; raises ValidationFailed naming each bad field
    validate: Callable[[dict], dict]
    # What running it needs, whoever launches it and from wherever (a job's launcher or a schedule).
    permission: str = Permission.MANAGE_PIPELINES
    # authorize(principal, inputs) -> the project of the rows the inputs name (None when they name none),
    # after checking the principal may act on each as that row's own endpoint would; a row it may not
    # see reads as a missing one (ValidationFailed naming the input). Called before validation (raw
    # inputs: ids it cannot read are left to validation), and in the worker on the stored inputs.
    authorize: Callable[[Any, dict], int | None] | None = None
    inputs_schema: dict = field(default_factory=dict)
    outputs_schema: dict = field(default_factory=dict)
    timeout_seconds: int | None = None
    # Inputs never stored or shown (replaced by "***" in the job row).
    secret_inputs: frozenset[str] = frozenset()
    # OGC jobControlOptions: "async-execute" and/or "sync-execute" (sync runs in the web request)
    job_control_options: tuple[str, ...] = ("async-execute",)
    # Names of the steps when the process runs through the step runner (app/services/processing/steps.py)
    step_names: tuple[str, ...] = ()


_REGISTRY: dict[str, Process] = {}


def register_process(process: Process) -> Process:
    _REGISTRY[process.id] = process
    return process


def get_process(process_id: str) -> Process:
    try:
        return _REGISTRY[process_id]
    except KeyError:
        raise NoSuchProcess(f"No process '{process_id}'", {"processID": process_id}) from None


def all_processes() -> list[Process]:
    return sorted(_REGISTRY.values(), key=lambda p: p.id)


def authorize_launch(process: Process, principal, inputs: dict, project_id: int | None = None) -> int | None:
    """Check `principal` (a User, or a SystemActor confined to one project) may run `process` on the rows
    its `inputs` name (as submitted, before validation; or as a job row stores them), and return the
    project the job belongs to: that of the rows, else `project_id`, else the principal's first project.
    A `project_id` the principal is not in, or rows of another project than `project_id`, are refused."""
    require_permission(principal, process.permission)
    if project_id is not None and project_id not in principal.project_ids:
        raise NotFound(f"No project {project_id}")
    rows_project = process.authorize(principal, inputs) if process.authorize and isinstance(inputs, dict) else None
    if rows_project is not None and project_id is not None and rows_project != project_id:
        raise ValidationFailed(f"Invalid inputs — they name rows of another project than project {project_id}",
                               {"inputs": [f"name rows outside project {project_id}"]})
    if rows_project is not None:
        return rows_project
    if project_id is not None:
        return project_id
    return principal.project_ids[0] if principal.project_ids else None
