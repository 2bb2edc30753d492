"""OpenHEXA pipelines: configuration, launch, polling (short RQ jobs), and the pipelines' callbacks.

Secrets: the OpenHEXA token is encrypted at rest and never shown; the pipeline's own token
(a JWT scoped to one job and one planning) is minted inside the worker and sent only to
OpenHEXA — never stored in job inputs nor passed as an RQ argument.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import redis
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db, get_queue
from app.models import Job, JobLog, OpenHexaConfig, Permission, User, utcnow
from app.services.platform.permissions import PipelineActor, require_permission
from app.services.platform.tokens import issue_pipeline_token
from app.services.processing import job_status as st
from app.services.platform.errors import DomainError, FieldErrors, Forbidden, NotFound, ValidationFailed
from app.services.processing.jobs import RESUMERS, append_log, finish_job, update_job
from app.services.planning.openhexa_client import OpenHexaClient, OpenHexaError, OpenHexaUnreachable
from app.schemas.openhexa import OpenHexaSettingsIn, TaskUpdateIn
from app.services.platform.secrets_box import seal, unseal

log = logging.getLogger(__name__)

SLUG = "openhexa-config"
PROCESS_ID = "openhexa-pipeline"
INJECTED = ("connection_host", "connection_token", "task_id")
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


# --- launch -------------------------------------------------------------------------------------

def launch(user: User, pipeline_id: str, version_id: "str | uuid.UUID | None", run_config: dict | None,
           request_host_url: str) -> Job:
    """Queue a run: the worker adds the connection keys, calls `runPipeline`, then polls. The run calls
    back PIPELINE_CALLBACK_HOST when set (behind proxies), else the host of the request (`request_host_url`)."""
    from app.services.planning.plannings import get_planning

    require_permission(user, Permission.MANAGE_PIPELINES)
    pipeline_id = _uuid(pipeline_id, "pipeline_id")
    version_id = _uuid(version_id, "version") if version_id else None
    client()  # configured?
    clean = {k: v for k, v in (run_config or {}).items() if k not in INJECTED}
    planning = None
    if clean.get("planning_id") not in (None, ""):
        planning = get_planning(user, clean["planning_id"])
    job = Job(id=str(uuid.uuid4()), process_id=PROCESS_ID, status=st.ACCEPTED, progress=0, message="Queued",
              inputs={"pipeline_id": pipeline_id, "version_id": version_id, "config": clean,
                      "connection_host": _callback_host(request_host_url).rstrip("/"),
                      "planning_id": planning.id if planning else None},
              launcher_id=user.id, project_id=planning.project_id if planning else (user.project_ids or [None])[0])
    db.session.add(job)
    db.session.commit()
    get_queue().enqueue_call("app.rq_jobs.openhexa.start_run", args=(job.id,), job_id=job.id, timeout=120,
                             description=f"openhexa launch {job.id}")
    return job


def start_run(job_id: str) -> None:
    """Worker: send `runPipeline` with the injected keys; then schedule the first poll."""
    job = db.session.get(Job, job_id)
    if job is None or job.status != st.ACCEPTED:
        return
    if job.kill_requested:
        _finish(job, st.DISMISSED, "Dismissed before it started")
        return
    config = get_config()
    inputs = job.inputs
    launcher = db.session.get(User, job.launcher_id)
    refusal = _launch_refused(launcher, inputs.get("planning_id"))
    if refusal:
        _finish(job, st.FAILED, refusal)
        return
    expires = timedelta(minutes=(config.timeout_minutes if config else 10) + 10)
    run_config = {**inputs["config"], "connection_host": inputs["connection_host"], "task_id": job.id,
                  "connection_token": issue_pipeline_token(job.id, inputs.get("planning_id"), launcher, expires)}
    try:
        run_id = client(config).run_pipeline(inputs["pipeline_id"], inputs.get("version_id"), run_config)
    except OpenHexaError as exc:
        _finish(job, st.FAILED, f"Could not launch the pipeline: {exc}" + (f" [{', '.join(exc.codes)}]" if exc.codes else ""))
        return
    except NotConfigured as exc:
        _finish(job, st.FAILED, exc.message)
        return
    now = utcnow()
    update_job(job_id, only_if_status=(st.ACCEPTED,), status=st.RUNNING, external_ref=run_id, started_at=now,
           heartbeat_at=now, message="Launched on OpenHEXA")
    append_log(job_id, f"Launched OpenHEXA run {run_id}")
    schedule_poll(job_id, config.poll_delay_seconds if config else 2)


def _launch_refused(launcher: User | None, planning_id: int | None) -> str | None:
    """Why the stored launcher may no longer start this run (checked again in the worker, as at
    launch: MANAGE_PIPELINES and the planning in their projects), or None."""
    from app.services.planning.plannings import get_planning

    if launcher is None or not launcher.is_active or not launcher.has_permission(Permission.MANAGE_PIPELINES):
        return "Not launched: its launcher may no longer run pipelines."
    if planning_id is not None:
        try:
            get_planning(launcher, planning_id)
        except NotFound:
            return f"Not launched: its launcher may no longer see planning {planning_id}."
    return None


def schedule_poll(job_id: str, delay: int) -> None:
    """One short RQ job per poll; a crashed worker cannot leave a loop running."""
    queue = get_queue()
    kwargs = {"args": (job_id,), "timeout": 60, "description": f"openhexa poll {job_id}"}
    if delay <= 0:
        queue.enqueue_call("app.rq_jobs.openhexa.poll_run", **kwargs)
    else:
        queue.enqueue_in(timedelta(seconds=delay), "app.rq_jobs.openhexa.poll_run", *kwargs["args"],
                         job_timeout=60, description=kwargs["description"])


# --- polling ------------------------------------------------------------------------------------

def poll_run(job_id: str) -> str | None:
    """Worker: one poll of the launched run. Returns the job's status after it."""
    job = db.session.get(Job, job_id)
    if job is None or job.status != st.RUNNING or not job.external_ref:
        return job.status if job else None
    config = get_config()
    delay = config.poll_delay_seconds if config else 2
    timeout_minutes = config.timeout_minutes if config else 10
    api = client(config)
    if job.kill_requested:
        _stop_quietly(api, job.external_ref)
        return _finish(job, st.DISMISSED, "Dismissed on request; the OpenHEXA run was stopped")
    if utcnow() > job.started_at + timedelta(minutes=timeout_minutes):
        _stop_quietly(api, job.external_ref)
        return _finish(job, st.FAILED, f"Polling timeout reached after {timeout_minutes} minutes "
                                       f"for pipeline {job.inputs.get('pipeline_id')}")
    try:
        run = api.pipeline_run(job.external_ref)
    except OpenHexaUnreachable as exc:
        append_log(job_id, f"Poll failed, retrying: {exc}", "warning")
        update_job(job_id, only_if_status=(st.RUNNING,), heartbeat_at=utcnow())
        schedule_poll(job_id, delay)
        return st.RUNNING
    except OpenHexaError as exc:
        return _finish(job, st.FAILED, str(exc))
    _copy_messages(job, run.get("messages") or [])
    try:
        status, skipped = st.from_external(run.get("status", ""))
    except ValueError:
        status, skipped = st.RUNNING, False
    if status in st.TERMINAL:
        note = {st.SUCCESSFUL: "Skipped on OpenHEXA" if skipped else "Completed on OpenHEXA",
                st.FAILED: "Failed on OpenHEXA", st.DISMISSED: "Stopped on OpenHEXA"}[status]
        return _finish(job, status, note, skipped=skipped)
    progress = run.get("progress")
    values = {"heartbeat_at": utcnow()}
    if isinstance(progress, int) and progress >= job.progress:
        values["progress"] = min(progress, 99)
    update_job(job_id, only_if_status=(st.RUNNING,), **values)
    schedule_poll(job_id, delay)
    return st.RUNNING


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


def _finish(job: Job, status: str, message: str, skipped: bool = False) -> str:
    """End an OpenHEXA job; a success keeps what the pipeline reported through its callbacks."""
    results = {**(job.results or {}), **({"skipped": True} if skipped else {})}
    finish_job(job.id, status, message, results=results, from_statuses=(st.ACCEPTED, st.RUNNING))
    db.session.expire_all()
    return status


def _resume_polling(job: Job) -> None:
    """The reaper's hook: a running OpenHEXA job whose polls stopped (worker restart) is polled again."""
    try:
        schedule_poll(job.id, 0)
        append_log(job.id, "Polling resumed after a worker restart", "warning")
        update_job(job.id, only_if_status=(st.RUNNING,), heartbeat_at=utcnow())
    except redis.RedisError:
        log.warning("could not resume polling for %s", job.id)


# --- callbacks from the pipeline (Iaso PATCH contract) -------------------------------------------

def apply_callback(actor: "User | PipelineActor", pipeline_id: str, data: TaskUpdateIn) -> Job:
    """PATCH /api/openhexa/pipelines/<id>/: progress, messages, results and status from the run."""
    job_id = data.task_id
    if isinstance(actor, PipelineActor):
        if actor.job_id != job_id:
            raise Forbidden("This token belongs to another job.")
        job = db.session.get(Job, job_id)
    else:
        require_permission(actor, Permission.MANAGE_PIPELINES)
        from app.services.processing.job_access import get_job_for

        job = get_job_for(actor, job_id, reap=False)
    if job is None or job.process_id != PROCESS_ID:
        raise NotFound(f"No OpenHEXA task {job_id}")
    if job.status in st.TERMINAL:
        raise DomainError(f"Task {job_id} is already {job.status}.")
    values: dict = {"updated_at": utcnow()}
    if data.progress_value is not None:
        # a fraction of end_value when given (capped before rounding: any ratio stays a small number)
        percent = 100 * data.progress_value / data.end_value if data.end_value else data.progress_value
        values["progress"] = max(0, min(100, int(round(min(percent, 100.0)))))
    if data.progress_message:
        values["message"] = data.progress_message[:2000]
        append_log(job.id, data.progress_message)
    if data.result is not None:
        values["results"] = data.result if isinstance(data.result, dict) else {"result": data.result}
    status = st.from_external(data.status)[0] if data.status else None
    if status is not None and status != job.status:
        values["status"] = status
        if status in st.TERMINAL:
            values["finished_at"] = utcnow()
            if status == st.SUCCESSFUL:
                values["progress"] = 100
    values["heartbeat_at"] = utcnow()
    update_job(job.id, **values)
    db.session.expire_all()
    return db.session.get(Job, job.id)


def _callback_host(request_host_url: str) -> str:
    """What pipelines call back: PIPELINE_CALLBACK_HOST when set (behind proxies), else the request's host."""
    return current_app.config.get("PIPELINE_CALLBACK_HOST") or request_host_url


RESUMERS[PROCESS_ID] = _resume_polling
