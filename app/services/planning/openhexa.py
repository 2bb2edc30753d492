"""OpenHEXA pipelines: configuration, the `openhexa-pipeline` process (launch, then polls run by the job
engine), and the pipelines' callbacks.

Secrets: the OpenHEXA token is encrypted at rest and never shown; the pipeline's own token
(a JWT scoped to one job and one planning) is minted inside the worker and sent only to
OpenHEXA — never stored in job inputs nor passed as an RQ argument.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, JobLog, OpenHexaConfig, Permission, User, utcnow
from app.services.platform.permissions import PipelineActor, require_permission
from app.services.platform.tokens import issue_pipeline_token
from app.services.processing import job_status as st
from app.services.platform.errors import DomainError, FieldErrors, Forbidden, NotFound, ValidationFailed
from app.services.processing.jobs import append_log, resume_polling, update_job
from app.services.processing.registry import Ended, Waiting
from app.services.planning.openhexa_client import OpenHexaClient, OpenHexaError, OpenHexaUnreachable
from app.schemas.types import INT32_MAX
from app.schemas.openhexa import INJECTED, OpenHexaRunInputs, OpenHexaSettingsIn, TaskUpdateIn
from app.services.platform.secrets_box import seal, unseal

log = logging.getLogger(__name__)

SLUG = "openhexa-config"
PROCESS_ID = "openhexa-pipeline"
LOG_PREFIX = "[OpenHEXA "


class NotConfigured(DomainError):
    status = 409
    code = "not_configured"
    title = "OpenHEXA is not configured"


class OpenHexaFailed(DomainError):
    """OpenHEXA could not answer a question asked while serving a request (down, refused, errors)."""

    status = 502
    code = "openhexa_failed"
    title = "OpenHEXA failed"


# --- configuration --------------------------------------------------------------------------------

def get_config() -> OpenHexaConfig | None:
    return db.session.execute(select(OpenHexaConfig).where(OpenHexaConfig.slug == SLUG)).scalar_one_or_none()


def config_status() -> dict:
    """`{"configured": bool, "lqas_pipeline_code"?}` — never raises."""
    try:
        config = get_config()
    except Exception:
        db.session.rollback()
        log.exception("could not read the OpenHEXA configuration")
        return {"configured": False}
    if config is None or not config.openhexa_url or not config.token_encrypted:
        return {"configured": False}
    out = {"configured": True}
    if config.lqas_pipeline_code:
        out["lqas_pipeline_code"] = config.lqas_pipeline_code
    return out


def save_config(user: User, data: OpenHexaSettingsIn) -> OpenHexaConfig:
    """Create or update the deployment's OpenHEXA connection (the platform operator). A blank token keeps
    the stored one."""
    if not user.is_platform_operator:
        raise Forbidden("Only the platform operator can configure OpenHEXA.")
    config = get_config()
    errors = FieldErrors()
    if not data.openhexa_token and (config is None or not config.token_encrypted):
        errors.add("openhexa_token", "is required")
    errors.raise_if_any("Cannot save the OpenHEXA configuration")
    if config is None:
        config = OpenHexaConfig(slug=SLUG)
        db.session.add(config)
    if data.openhexa_token:
        config.token_encrypted = seal(data.openhexa_token)
    config.openhexa_url, config.workspace_slug = data.openhexa_url, data.workspace_slug
    config.lqas_pipeline_code = data.lqas_pipeline_code or None
    config.poll_delay_seconds, config.timeout_minutes = data.poll_delay_seconds, data.timeout_minutes
    config.updated_by_id = user.id
    db.session.commit()
    return config


def client(config: OpenHexaConfig | None = None) -> OpenHexaClient:
    config = config or get_config()
    if config is None or not config_status()["configured"]:
        raise NotConfigured("OpenHEXA is not configured; the platform operator can set it up under Admin › OpenHEXA.")
    return OpenHexaClient(config.openhexa_url, unseal(config.token_encrypted),
                          timeout=current_app.config.get("OPENHEXA_HTTP_TIMEOUT", 10))


def require_pipeline_reader(user: User) -> None:
    """OpenHEXA's pipelines (the deployment's one workspace) are read by who launches runs
    (MANAGE_PIPELINES) or offers pipelines on plannings (MANAGE_PLANNING), and by the platform operator
    who configures the connection; Forbidden for anyone else."""
    if not (user.has_permission(Permission.MANAGE_PIPELINES) or user.has_permission(Permission.MANAGE_PLANNING)
            or user.is_platform_operator):
        raise Forbidden("You need the MANAGE_PIPELINES or MANAGE_PLANNING permission to see OpenHEXA's pipelines.")


def list_pipelines(user: User) -> list[dict]:
    """The workspace's pipelines, if the user may read them."""
    require_pipeline_reader(user)
    config = get_config()
    api = client(config)
    try:
        return api.pipelines(config.workspace_slug)
    except OpenHexaError as exc:
        raise OpenHexaFailed(str(exc)) from None


def get_pipeline(user: User, pipeline_id: str) -> dict:
    """One pipeline with its current version's parameters, if the user may read them."""
    require_pipeline_reader(user)
    api = client()
    try:
        pipeline = api.pipeline(_uuid(pipeline_id, "pipeline_id"))
    except OpenHexaError as exc:
        raise OpenHexaFailed(str(exc)) from None
    if pipeline is None:
        raise NotFound(f"No OpenHEXA pipeline {pipeline_id}")
    return pipeline


def pipeline_with_parameters(user: User, pipeline_id: str) -> tuple[dict, list[dict]]:
    """A pipeline as OpenHEXA describes it, and the parameters of its current version a person fills in."""
    pipeline = get_pipeline(user, pipeline_id)
    return pipeline, visible_parameters(pipeline)


def visible_parameters(pipeline: dict) -> list[dict]:
    """The version's parameters a person fills in (the injected connection ones are hidden)."""
    version = pipeline.get("currentVersion") or {}
    return [p for p in version.get("parameters") or [] if p.get("code") not in INJECTED]


def _uuid(value, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValidationFailed(f"{field} must be a UUID", {field: ["must be a UUID"]}) from None


# --- the `openhexa-pipeline` process: launch, then poll ------------------------------------------

def launch(user: User, pipeline_id: str, version_id: "str | uuid.UUID | None", run_config: dict | None,
           request_host_url: str) -> Job:
    """Queue a run (the `openhexa-pipeline` process): the worker adds the connection keys, calls
    `runPipeline`, then polls. The run calls back PIPELINE_CALLBACK_HOST when set (behind proxies), else
    the host of the request (`request_host_url`)."""
    from app.services.processing.jobs import enqueue_job

    return enqueue_job(PROCESS_ID, {
        "pipeline_id": _uuid(pipeline_id, "pipeline_id"), "version_id": str(version_id) if version_id else None,
        "config": run_config or {}, "callback_host": request_host_url.rstrip("/"),
    }, launcher=user)


def authorize_inputs(principal, inputs: OpenHexaRunInputs) -> int | None:
    """Who may launch a run on which planning: a person (the pipeline's token acts for its launcher), and
    the planning it names one they may see (as its own endpoint checks it; another project's reads as a
    missing one). Returns the planning's project."""
    from app.services.planning.plannings import planning_input

    if not isinstance(principal, User):
        raise ValidationFailed("An OpenHEXA run needs a person as its launcher: the pipeline's token acts for them.",
                               {"inputs": ["an OpenHEXA run cannot be started by a schedule"]})
    if inputs.planning_id is None:
        return None
    return planning_input(principal, inputs.planning_id, f"Invalid inputs for {PROCESS_ID}").project_id


def check_sampling_config(inputs: OpenHexaRunInputs) -> None:
    """A run whose config carries LQAS sampling parameters is checked as the built-in sampling checks
    them (the type chain under the planning root, the exceptions, the team tree), before anything is sent
    to OpenHEXA: the same rules for the dialog, the API and OGC launches."""
    from app.schemas.parsing import validate_data
    from app.schemas.planning import LqasInputs
    from app.services.planning.sampling import SAMPLING_KEYS, check_plan

    given = {key: value for key, value in inputs.config.items() if key in SAMPLING_KEYS}
    if not given:
        return
    if inputs.planning_id is None:
        raise ValidationFailed("Invalid sampling parameters — planning_id is required with them",
                               {"planning_id": ["is required with sampling parameters"]})
    check_plan(validate_data(LqasInputs, {"planning_id": inputs.planning_id, **given}, "Invalid sampling parameters"))


def prepare_inputs(inputs: OpenHexaRunInputs) -> OpenHexaRunInputs:
    """OpenHEXA must be configured (409 otherwise); sampling parameters are checked; the callback URL is
    PIPELINE_CALLBACK_HOST when set."""
    client()
    check_sampling_config(inputs)
    host = current_app.config.get("PIPELINE_CALLBACK_HOST") or inputs.callback_host
    if not host:
        raise ValidationFailed("Invalid inputs for openhexa-pipeline — callback_host is required",
                               {"callback_host": ["is required (the server sets no PIPELINE_CALLBACK_HOST)"]})
    return inputs.model_copy(update={"callback_host": host.rstrip("/")})


def start_run(ctx, inputs: OpenHexaRunInputs) -> Waiting:
    """The process's run: send `runPipeline` with the injected keys (the pipeline's token is minted here,
    never stored); then wait for OpenHEXA, polled by the job engine."""
    job = db.session.get(Job, ctx.job_id)
    config = get_config()
    api = client(config)
    expires = timedelta(minutes=config.timeout_minutes + 10)
    run_config = {**inputs.config, "connection_host": inputs.callback_host, "task_id": job.number,
                  "connection_token": issue_pipeline_token(job.id, inputs.planning_id, job.launcher, expires)}
    version_id = str(inputs.version_id) if inputs.version_id else None
    try:
        run_id = api.run_pipeline(str(inputs.pipeline_id), version_id, run_config)
    except OpenHexaError as exc:
        # not retried: a launch that timed out may have started a run, and a second would run twice
        raise OpenHexaFailed(f"Could not launch the pipeline: {exc}"
                             + (f" [{', '.join(exc.codes)}]" if exc.codes else "")) from None
    ctx.log(f"Launched OpenHEXA run {run_id}")
    return Waiting(config.poll_delay_seconds, "Launched on OpenHEXA", external_ref=run_id)


def poll_run(ctx, inputs: OpenHexaRunInputs) -> "Waiting | Ended":
    """The process's poll: one look at the launched run. OpenHEXA is the judge of its end; a dismissal or
    the timeout stops it (`stopPipeline`)."""
    job = db.session.get(Job, ctx.job_id)
    config = get_config()
    api = client(config)
    if ctx.kill_requested():
        _stop_quietly(api, job.external_ref)
        return Ended(st.DISMISSED, "Dismissed on request; the OpenHEXA run was stopped")
    if utcnow() > job.started_at + timedelta(minutes=config.timeout_minutes):
        _stop_quietly(api, job.external_ref)
        return Ended(st.FAILED, f"Polling timeout reached after {config.timeout_minutes} minutes "
                                f"for pipeline {inputs.pipeline_id}")
    waiting = Waiting(config.poll_delay_seconds)
    try:
        run = api.pipeline_run(job.external_ref)
    except OpenHexaUnreachable as exc:
        ctx.log(f"Poll failed, retrying: {exc}", "warning")
        return waiting
    except OpenHexaError as exc:
        return Ended(st.FAILED, str(exc))
    _copy_messages(job, run.get("messages") or [])
    try:
        status, skipped = st.from_external(run.get("status", ""))
    except ValueError:
        status, skipped = st.RUNNING, False
    if status in st.TERMINAL:
        note = {st.SUCCESSFUL: "Skipped on OpenHEXA" if skipped else "Completed on OpenHEXA",
                st.FAILED: "Failed on OpenHEXA", st.DISMISSED: "Stopped on OpenHEXA"}[status]
        db.session.refresh(job)  # what the pipeline's callbacks reported meanwhile
        return Ended(status, note, results={**(job.results or {}), **({"skipped": True} if skipped else {})})
    progress = run.get("progress")
    if isinstance(progress, int) and progress > job.progress:
        update_job(job.id, only_if_status=(st.RUNNING,), progress=min(progress, 99))
    return waiting


def resume_run(job: Job) -> bool:
    """The process's resume hook: a launched run whose polls stopped (worker died) is polled again; one
    whose launch was cut short cannot be found again (the reaper fails it)."""
    return bool(job.external_ref) and resume_polling(job)


def _copy_messages(job: Job, messages: list[dict]) -> None:
    seen = db.session.scalar(select(func.count()).select_from(JobLog).where(
        JobLog.job_id == job.id, JobLog.message.like(LOG_PREFIX + "%")))
    for message in messages[seen:]:
        level = {"ERROR": "error", "CRITICAL": "error", "WARNING": "warning"}.get(message.get("priority"), "info")
        append_log(job.id, f"{LOG_PREFIX}{message.get('priority', 'INFO')}] {message.get('message', '')}", level)


def _stop_quietly(api: OpenHexaClient, run_id: str) -> None:
    try:
        api.stop_pipeline(run_id)
    except OpenHexaError as exc:
        log.warning("stopPipeline failed for run %s: %s", run_id, exc)


# --- callbacks from the pipeline (Iaso PATCH contract) -------------------------------------------

# What a pipeline's own status report is recorded as: OpenHEXA, not the pipeline, ends the job.
_REPORTED = {st.SUCCESSFUL: "Pipeline reports done", st.FAILED: "Pipeline reports a failure",
             st.DISMISSED: "Pipeline reports it stopped"}


def task_job_id(task_ref: str) -> str | None:
    """The job a pipeline's `task_id` names: Iaso's whole number (`jobs.number`), or the job's UUID."""
    if task_ref.isascii() and task_ref.isdigit():
        number = int(task_ref)
        return db.session.scalar(select(Job.id).where(Job.number == number)) if number <= INT32_MAX else None
    return task_ref


def apply_callback(actor: "User | PipelineActor", pipeline_id: str, data: TaskUpdateIn) -> Job:
    """PATCH /api/openhexa/pipelines/<id>/: progress, messages and results from the run. A `status` is
    recorded, never applied: the job ends when polling sees OpenHEXA end the run (or the timeout or a
    dismissal stops it) — so a pipeline reporting SUCCESS before its run ends, or `queued`, leaves it
    running and polled."""
    job_id = task_job_id(data.task_id)
    if isinstance(actor, PipelineActor):
        if actor.job_id != job_id:
            raise Forbidden("This token belongs to another job.")
        job = db.session.get(Job, job_id)
    else:
        require_permission(actor, Permission.MANAGE_PIPELINES)
        from app.services.processing.job_access import get_job_for

        job = get_job_for(actor, job_id, reap=False) if job_id else None
    if job is None or job.process_id != PROCESS_ID:
        raise NotFound(f"No OpenHEXA task {data.task_id}")
    if job.status in st.TERMINAL:
        raise DomainError(f"Task {data.task_id} is already {job.status}.")
    values: dict = {}
    if data.progress_value is not None:
        # a fraction of end_value when given (capped before rounding: any ratio stays a small number)
        percent = 100 * data.progress_value / data.end_value if data.end_value else data.progress_value
        values["progress"] = max(0, min(100, int(round(min(percent, 100.0)))))
    if data.progress_message:
        values["message"] = data.progress_message[:2000]
        append_log(job.id, data.progress_message)
    if data.result is not None:
        values["results"] = data.result if isinstance(data.result, dict) else {"result": data.result}
    reported = _REPORTED.get(st.from_external(data.status)[0]) if data.status else None
    if reported:
        note = f"{reported} ({data.status}); waiting for OpenHEXA to end the run"
        append_log(job.id, note)
        values["message"] = f"{reported}: {data.progress_message}"[:2000] if data.progress_message else note
    if values:
        update_job(job.id, **values)
    db.session.expire_all()
    return db.session.get(Job, job.id)
