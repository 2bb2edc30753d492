"""Which pipelines a planning offers, with names: the built-in LQAS one and OpenHEXA's.

Pages never wait on OpenHEXA. The workspace's pipeline list is cached in Redis for a minute, under a
key per OpenHEXA configuration; a page renders from that cache (`known_pipelines`, which never calls
OpenHEXA) or, when it is cold, renders what it knows and loads the list with an HTMX partial
(`fetch_pipelines`), the only place that waits on OpenHEXA. A pipeline's definition (its code and
parameters) is read fresh by its own partial and at launch.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field

import redis

from app.extensions import get_redis
from app.models import OpenHexaConfig, Planning, User
from app.schemas.planning import LqasInputs, SamplingIn
from app.services.planning import openhexa
from app.services.planning.openhexa_client import OpenHexaError
from app.services.planning.plannings import BUILTIN_PIPELINE, available_pipelines
from app.services.platform.errors import DomainError, FieldErrors, ValidationFailed

log = logging.getLogger(__name__)

CACHE_SECONDS = 60
LOADING, READY, NOT_CONFIGURED, UNREACHABLE = "loading", "ready", "not_configured", "unreachable"
NOT_CONFIGURED_MESSAGE = ("OpenHEXA is not configured, so only the built-in LQAS sampling is offered; "
                          "the platform operator can set it up under Admin › OpenHEXA.")


@dataclass
class PipelineList:
    """OpenHEXA's pipelines as far as a page knows them: `state` says whether the list is there
    (ready), still to load (loading), or why it is missing (not_configured, unreachable)."""

    state: str
    pipelines: list[dict] = field(default_factory=list)
    message: str = ""


@dataclass(frozen=True)
class PipelineChoice:
    """A pipeline a planning offers, as the sampling dialog lists it."""

    id: str
    label: str
    builtin: bool


@dataclass
class PipelineDefinition:
    """An OpenHEXA pipeline read fresh: the LQAS one takes the sampling levels, others their own parameters."""

    id: str
    name: str
    kind: str  # "lqas" | "generic"
    parameters: list[dict]


# --- the pipeline list, cached ----------------------------------------------------------------

def _configured() -> OpenHexaConfig | None:
    config = openhexa.get_config()
    return config if config is not None and config.openhexa_url and config.token_encrypted else None


def _cache_key(config: OpenHexaConfig) -> str:
    """One key per configuration: a new URL, workspace or token never reads the old list."""
    identity = "|".join((str(config.id), config.openhexa_url, config.workspace_slug or "", config.token_encrypted))
    return "fieldflow:openhexa-pipelines:" + hashlib.sha256(identity.encode()).hexdigest()[:32]


def _read_cache(config: OpenHexaConfig) -> list[dict] | None:
    try:
        raw = get_redis().get(_cache_key(config))
    except redis.RedisError:
        log.warning("pipeline list cache unavailable: Redis unreachable")
        return None
    return json.loads(raw) if raw else None


def known_pipelines() -> PipelineList:
    """The pipeline list as a page can show it without calling OpenHEXA: ready when cached in the last
    minute, else loading (for a partial to fetch)."""
    config = _configured()
    if config is None:
        return PipelineList(NOT_CONFIGURED, message=NOT_CONFIGURED_MESSAGE)
    cached = _read_cache(config)
    return PipelineList(LOADING) if cached is None else PipelineList(READY, cached)


def fetch_pipelines(user: User) -> PipelineList:
    """The pipeline list from the cache, else from OpenHEXA (then cached for a minute). An unreachable
    OpenHEXA is a state with a message, not an error: the partial shows it. Only for users who may read
    the pipelines (Forbidden otherwise, cached or not)."""
    openhexa.require_pipeline_reader(user)
    config = _configured()
    if config is None:
        return PipelineList(NOT_CONFIGURED, message=NOT_CONFIGURED_MESSAGE)
    cached = _read_cache(config)
    if cached is not None:
        return PipelineList(READY, cached)
    try:
        pipelines = openhexa.list_pipelines(user)
    except (OpenHexaError, DomainError) as exc:
        log.warning("could not list OpenHEXA pipelines: %s", exc)
        return PipelineList(UNREACHABLE, message=f"Could not list OpenHEXA's pipelines ({exc}); "
                                                 "the built-in LQAS sampling is still available.")
    try:
        get_redis().set(_cache_key(config), json.dumps(pipelines), ex=CACHE_SECONDS)
    except redis.RedisError:
        log.warning("pipeline list not cached: Redis unreachable")
    return PipelineList(READY, pipelines)


# --- what a planning offers -------------------------------------------------------------------

def describe(pipeline_ids: list[str], listing: PipelineList) -> list[PipelineChoice]:
    """The planning's pipelines with labels from `listing` (an id stands in for a name not known yet);
    OpenHEXA's are left out while OpenHEXA is not configured."""
    names = {p["id"]: p for p in listing.pipelines}
    out = []
    for pid in pipeline_ids:
        if pid == BUILTIN_PIPELINE:
            out.append(PipelineChoice(pid, "LQAS sampling (built in)", True))
        elif listing.state != NOT_CONFIGURED:
            info = names.get(pid, {})
            out.append(PipelineChoice(pid, f"{info.get('name') or info.get('code') or pid} (OpenHEXA)", False))
    return out


def load_definition(user: User, pipeline_id: str) -> PipelineDefinition:
    """Read an OpenHEXA pipeline (code, name, parameters); any failure is a validation error on
    `pipeline` with a message the dialog shows."""
    try:
        pipeline = openhexa.get_pipeline(user, pipeline_id)
    except (OpenHexaError, DomainError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise ValidationFailed(f"Could not read the pipeline from OpenHEXA: {message}",
                               {"pipeline": ["could not be read from OpenHEXA"]}) from None
    lqas_code = openhexa.config_status().get("lqas_pipeline_code")
    kind = "lqas" if pipeline.get("code") and pipeline.get("code") == lqas_code else "generic"
    return PipelineDefinition(pipeline["id"], pipeline.get("name") or pipeline.get("code") or pipeline["id"], kind,
                              openhexa.visible_parameters(pipeline))


def typed_parameters(parameters: list[dict], values: dict) -> dict:
    """An OpenHEXA pipeline's own parameter values (form strings), typed from its definition."""
    errors, config = FieldErrors(), {}
    casts = {"int": int, "float": float, "bool": lambda v: v.lower() in ("1", "true", "yes", "on")}
    for p in parameters:
        raw = str(values.get(p["code"], "")).strip()
        if raw == "":
            if p.get("required") and p.get("default") is None:
                errors.add(p["code"], "is required")
            continue
        items = [v.strip() for v in raw.split(",")] if p.get("multiple") else [raw]
        try:
            typed = [casts.get(p["type"], str)(v) for v in items]
        except ValueError:
            errors.add(p["code"], f"must be of type {p['type']}")
            continue
        config[p["code"]] = typed if p.get("multiple") else typed[0]
    errors.raise_if_any("Please fill in the pipeline's parameters")
    return config


def check_offered(planning: Planning, pipeline: str) -> None:
    if pipeline not in available_pipelines(planning):
        raise ValidationFailed("This pipeline is not offered for this planning.", {"pipeline": ["not available"]})


def launch_for_planning(user: User, planning: Planning, pipeline: str, levels: SamplingIn | None, values: dict,
                        host_url: str, definition: PipelineDefinition | None = None):
    """Launch the sampling dialog's choice: the built-in LQAS job, the OpenHEXA LQAS pipeline (same
    parameters `levels`, checked the same way first), or another OpenHEXA pipeline with its own
    parameters `values`. `definition` is the OpenHEXA pipeline's, read by the caller (required for those)."""
    from app.services.planning import sampling

    check_offered(planning, pipeline)
    if pipeline == BUILTIN_PIPELINE:
        return sampling.launch_sampling(user, planning.id, levels.model_dump(mode="json"))
    if definition.kind == "lqas":
        clean = sampling.prepare_inputs(LqasInputs(**levels.model_dump(), planning_id=planning.id))
        # per-level lists keep their positions: OpenHEXA drops empty strings, so "-" marks "none"
        config = {**clean.model_dump(mode="json"),
                  sampling.EXCEPTIONS: [",".join(map(str, e)) or "-" for e in clean.org_unit_type_exceptions],
                  sampling.CRITERIA: [c.value if c else "-" for c in clean.org_unit_type_criteria]}
    else:
        config = typed_parameters(definition.parameters, values)
        config["planning_id"] = planning.id
    return openhexa.launch(user, pipeline, None, config, host_url)
