"""OpenHEXA pipelines (Iaso contract): the launch request, the pipelines' PATCH callback, and what the
API answers (the configuration status, pipelines as OpenHEXA describes them, Iaso tasks)."""
from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, WithJsonSchema
from pydantic import field_validator, model_validator

from app.schemas.parsing import Input, fold_aliases
from app.schemas.types import INT32_MAX, INT64_MAX, Id, JsonObject, LongText, Text, check_json_value
from app.services.processing import job_status as st


# Run parameters Fieldflow sets itself when it launches a run (a client's are dropped).
INJECTED = ("connection_host", "connection_token", "task_id")


def config_planning_id(config: dict | None) -> int | None:
    """The planning a run's `config.planning_id` names: a whole number (or its digits), never `true`;
    None when absent. ValueError otherwise."""
    value = (config or {}).get("planning_id")
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= INT32_MAX:
        raise ValueError(f"planning_id must be a planning id (a whole number from 1 to {INT32_MAX})")
    return value


class PipelineLaunchIn(Input):
    version: UUID | None = Field(default=None, description="The pipeline version (its current one when absent)")
    config: JsonObject | None = Field(default=None, description="The run's parameters; `connection_host`, "
                                      "`connection_token` and `task_id` are set by Fieldflow")

    @field_validator("config")
    @classmethod
    def _planning_id(cls, config):
        config_planning_id(config)
        return config


def _callback_host(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    return url.rstrip("/")


class OpenHexaRunInputs(Input):
    """The `openhexa-pipeline` process: one run of an OpenHEXA pipeline, launched and polled by Fieldflow."""

    pipeline_id: UUID = Field(title="Pipeline", description="The OpenHEXA pipeline's id")
    version_id: UUID | None = Field(default=None, title="Version",
                                    description="The pipeline version (its current one when absent)")
    config: JsonObject = Field(default_factory=dict, title="Parameters", description=(
        "The run's parameters; `connection_host`, `connection_token` and `task_id` are set by Fieldflow"))
    planning_id: Id | None = Field(default=None, title="Planning", description=(
        "The planning the run works on (also read from `config.planning_id`): a sampling run, listed with "
        "the planning's sampling runs; the pipeline's token may write only this planning's assignments"))
    callback_host: Annotated[Text(499), AfterValidator(_callback_host)] | None = Field(
        default=None, title="Callback URL", description=(
            "The Fieldflow URL the pipeline calls back; the server's PIPELINE_CALLBACK_HOST when set "
            "(it wins), else required"))

    @field_validator("config")
    @classmethod
    def _without_injected(cls, config):
        return {key: value for key, value in config.items() if key not in INJECTED}

    @model_validator(mode="after")
    def _one_planning(self):
        named = config_planning_id(self.config)
        if named is not None and self.planning_id is not None and named != self.planning_id:
            raise ValueError(f"planning_id {self.planning_id} and config.planning_id {named} differ")
        if named is not None:
            self.planning_id = named
        return self


def _task_ref(value):
    """Iaso's pipelines send the task id as a number (the job's `number`); the job's UUID works too."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX else value


def _known_status(value: str | None) -> str | None:
    if value is not None:
        st.from_external(value)  # ValueError names the unknown status
    return value


def _blank_is_none(value):
    return None if isinstance(value, str) and not value.strip() else value


def _storable(value):
    check_json_value(value, where="result")
    return value


TaskRef = Annotated[Text(64, min_length=1), BeforeValidator(_task_ref), WithJsonSchema(
    {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "integer", "minimum": 0}]})]
Progress = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
Status = Annotated[Text(40) | None, BeforeValidator(_blank_is_none), AfterValidator(_known_status), Field(
    description="A job status in any vocabulary (Iaso QUEUED…SUCCESS, OpenHEXA queued…success, OGC)")]


class TaskUpdateIn(Input):
    """A pipeline's progress report (PATCH /api/openhexa/pipelines/<id>/)."""

    task_id: TaskRef
    progress_message: LongText | None = None
    progress_value: Progress | None = None
    end_value: Progress | None = Field(default=None, description="progress_value / end_value is the fraction done")
    result: Annotated[JsonValue, AfterValidator(_storable)] = Field(
        default=None, description="The run's results (also `result_data`); not an object: kept as {\"result\": …}")
    status: Status = None

    @model_validator(mode="before")
    @classmethod
    def _other_names(cls, data):
        return fold_aliases(data, {"result_data": "result"})


def _graphql_endpoint(url: str) -> str:
    """OpenHEXA's GraphQL endpoint, with its closing slash."""
    try:
        parsed = urlparse(url)
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError("must be an http(s) URL")
    if not parsed.path.rstrip("/").endswith("/graphql"):
        raise ValueError("must be the GraphQL endpoint, ending in /graphql/")
    return url if url.endswith("/") else url + "/"


class OpenHexaSettingsIn(Input):
    """The deployment's OpenHEXA connection (Admin › OpenHEXA)."""

    openhexa_url: Annotated[Text(499, min_length=1), AfterValidator(_graphql_endpoint)]
    openhexa_token: Text(4000) | None = Field(None, description="Blank: keep the stored one")
    workspace_slug: Text(200, min_length=1)
    lqas_pipeline_code: Text(200) | None = None
    poll_delay_seconds: Annotated[int, Field(ge=0, le=60)] = 2
    timeout_minutes: Annotated[int, Field(ge=1, le=1440)] = 10


class SettingsQuery(Input):
    check: bool = Field(False, description="Also list the workspace's pipelines (a connection test)")


class OpenHexaConfigStatus(BaseModel):
    configured: bool
    lqas_pipeline_code: str | None = Field(default=None, description="Only when configured")


class OpenHexaPipeline(BaseModel):
    """A pipeline as OpenHEXA describes it (id, code, name, description, currentVersion, …)."""

    model_config = ConfigDict(extra="allow")

    id: str


class OpenHexaPipelineList(BaseModel):
    results: list[OpenHexaPipeline]


class OpenHexaPipelineDetail(OpenHexaPipeline):
    parameters: list[dict[str, Any]] = Field(description="The parameters a person fills in")


class IasoTask(BaseModel):
    """An OpenHEXA run's job as an Iaso task."""

    id: int = Field(description="Iaso's task id: the job's number (what the pipeline gets as `task_id`)")
    job_id: str = Field(description="The job's UUID (/jobs/{job_id})")
    name: str
    status: str = Field(description="QUEUED, RUNNING, SUCCESS, ERRORED, KILLED or SKIPPED")
    progress_value: int
    end_value: int
    progress_message: str | None
    result: dict[str, Any]
    external_id: str | None
    created_at: str | None
    started_at: str | None
    ended_at: str | None


class LaunchedTask(BaseModel):
    """Iaso's answer to a launch and to a pipeline's PATCH: the task, wrapped."""

    task: IasoTask
