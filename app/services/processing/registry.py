"""The process registry: id → what a process accepts (its input model), who may run it on which rows,
and how to run it (in our worker, or launched elsewhere and polled)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from app.models import Permission
from app.schemas.parsing import Input, validate_json
from app.services.platform.errors import NotFound, ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.processing.errors import NoSuchProcess


@dataclass(frozen=True)
class Waiting:
    """What `run` (or `poll`) returns while the work goes on outside Fieldflow (an OpenHEXA run): the job
    stays running and the engine calls the process's `poll` in `poll_in` seconds. `message` becomes the
    job's message; `external_ref` (the outside system's id for the work) is stored on the job."""

    poll_in: float
    message: str | None = None
    external_ref: str | None = None


@dataclass(frozen=True)
class Ended:
    """What `poll` returns when the outside system has ended the work: the job ends so (`results` are
    kept only on success)."""

    status: str
    message: str
    results: dict | None = None


@dataclass(frozen=True)
class Process:
    id: str
    title: str
    description: str
    version: str
    # The input model: JSON inputs are read with it strictly, forms in lax mode; the OGC description's
    # `inputs`, the execute form and the OpenAPI document are generated from it.
    inputs: type[Input]
    # run(ctx, inputs) -> results dict (the job succeeds), or Waiting when the work was launched elsewhere;
    # ctx is a JobContext (progress, log, sleep, check_kill)
    run: Callable[[Any, Input], "dict | Waiting | Ended"]
    # What running it needs, whoever launches it and from wherever (a job's launcher or a schedule).
    permission: str = Permission.MANAGE_PIPELINES
    # authorize(principal, inputs) -> the project of the rows the inputs name (None when they name none),
    # after checking the principal may act on each as that row's own endpoint would; a row it may not
    # see reads as a missing one (ValidationFailed naming the input). Called at launch and in the worker.
    authorize: Callable[[Any, Input], int | None] | None = None
    # prepare(inputs) -> the inputs to store: checks that need the database beyond the rows' scope (run
    # after authorization, so their messages may describe the rows), and values drawn once (a seed).
    prepare: Callable[[Input], Input] | None = None
    outputs_schema: dict = field(default_factory=dict)
    timeout_seconds: int | None = None
    # Inputs never stored or shown (replaced by "***" in the job row).
    secret_inputs: frozenset[str] = frozenset()
    # OGC jobControlOptions: "async-execute" and/or "sync-execute" (sync runs in the web request)
    job_control_options: tuple[str, ...] = ("async-execute",)
    # Names of the steps when the process runs through the step runner (app/services/processing/steps.py)
    step_names: tuple[str, ...] = ()
    # describe(stored inputs) -> what a run did in people's words ("Sampling for Round 3 — Gefa"),
    # the job page's title; None: the process's title
    describe: Callable[[dict], str | None] | None = None
    # Work done outside (launch, then poll): after `run` returned Waiting, the engine calls
    # poll(ctx, inputs) -> results dict | Waiting | Ended, one short RQ job per poll. It must honour a
    # dismissal (ctx.kill_requested(): stop the outside work, return Ended dismissed) and its own deadline.
    poll: Callable[[Any, Input], "dict | Waiting | Ended"] | None = None
    # resume(job) -> True when the work goes on: the reaper calls it for a running job whose worker died,
    # instead of failing the job (an OpenHEXA run keeps running: poll it again).
    resume: Callable[[Any], bool] | None = None
    # Another system's name of this process that its clients see (eo-api's Prefect flow name)
    flow_name: str | None = None
    # A failed run can be retried from its failed step (the step runner kept every step's output)
    retry_from_step: bool = False
    # Schedules of this process catch up missed periods unless told otherwise (EO imports: a missed
    # day of data in DHIS2 is a hole in a time series)
    catch_up_default: bool = False


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


def parse_inputs(process: Process, values: dict) -> Input:
    """Inputs as JSON values (an execute request's, a schedule's, a job row's) read with the process's
    model, strictly; ValidationFailed names each bad input (an unknown one too)."""
    return validate_json(process.inputs, json.dumps(values), f"Invalid inputs for {process.id}")


@dataclass(frozen=True)
class InputSpec:
    """One input as a process describes it: JSON Schema of its value (references resolved)."""

    name: str
    title: str
    description: str
    schema: dict
    required: bool


def _resolved(node, definitions: dict):
    if isinstance(node, list):
        return [_resolved(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        return _resolved({**target, **{k: v for k, v in node.items() if k != "$ref"}}, definitions)
    return {key: _resolved(value, definitions) for key, value in node.items()}


def input_specs(process: Process) -> list[InputSpec]:
    """The process's inputs in declaration order, each with its title, description and value schema."""
    document = process.inputs.model_json_schema()
    definitions, required = document.get("$defs", {}), set(document.get("required", ()))
    out = []
    for name, schema in document["properties"].items():
        schema = _resolved(schema, definitions)
        title, description = schema.pop("title", name), schema.pop("description", "")
        out.append(InputSpec(name, title, description, schema, name in required))
    return out


@dataclass(frozen=True)
class Launch:
    """A launch that may go ahead: the parsed inputs, and the project the job belongs to."""

    inputs: Input
    project_id: int | None


def authorize_launch(process: Process, principal, values: dict, project_id: int | None = None) -> Launch:
    """Check `principal` (a User, or a SystemActor confined to one project) may run `process`, read the
    inputs (JSON values, as submitted or as a job row stores them) with its model, and check it may act
    on the rows they name. The job's project: that of the rows, else `project_id`, else the principal's
    first. A `project_id` the principal is not in, or rows of another project than `project_id`, are
    refused."""
    require_permission(principal, process.permission)
    if project_id is not None and project_id not in principal.project_ids:
        raise NotFound(f"No project {project_id}")
    inputs = parse_inputs(process, values)
    rows_project = process.authorize(principal, inputs) if process.authorize else None
    if rows_project is not None and project_id is not None and rows_project != project_id:
        raise ValidationFailed(f"Invalid inputs — they name rows of another project than project {project_id}",
                               {"inputs": [f"name rows outside project {project_id}"]})
    if rows_project is None:
        rows_project = project_id if project_id is not None else (principal.project_ids or [None])[0]
    return Launch(inputs, rows_project)
