"""OGC API – Processes 1.0: what its endpoints accept (the execute request, the job list's filters,
the formats a job is shown in) and what they answer (landing page, conformance, process lists and
descriptions, job lists, the eo-api view of a job)."""
from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, RootModel, create_model

from app.schemas.common import ListMeta, Paging
from app.schemas.jobs import JobStatus, Link, StatusInfo
from app.schemas.parsing import Input
from app.schemas.types import JsonObject, Page, Text, check_json_value

ProcessId = Text(100, min_length=1)
JsonFormat = Literal["json"] | None
QUALIFIED = {"value", "mediaType", "encoding", "schema"}


def _plain_values(inputs: dict) -> dict:
    """Inputs storable as JSON (bounded depth, text PostgreSQL can store; the place is named), with OGC
    qualified values (`{"value": v, "mediaType"?: …}`) as plain values."""
    check_json_value(inputs, where="inputs")
    return {name: value["value"] if isinstance(value, dict) and "value" in value and set(value) <= QUALIFIED else value
            for name, value in inputs.items()}


class ExecuteRequest(Input):
    """`POST /processes/{processId}/execution`: the inputs of the process (described at
    `/processes/{processId}`), optionally the outputs wanted, the response form and the mode. Values
    may be plain or qualified (`{"value": …}`)."""

    inputs: Annotated[dict[str, Any], AfterValidator(_plain_values)] = Field(
        default_factory=dict, description="The process's inputs by name (see /processes/{processId})")
    outputs: JsonObject | None = Field(default=None, description="Accepted; every output is returned")
    response: Literal["raw", "document"] | None = None
    mode: Literal["sync", "async", "auto"] | None = Field(
        default=None, description="sync runs the job in the request when the process allows it (as "
                                  "`Prefer: respond-sync` asks)")
    subscriber: JsonObject | None = Field(default=None, description="Accepted; no callbacks are sent")


@cache
def execute_request_for(process_id: str, inputs: type[Input]) -> type[ExecuteRequest]:
    """The execute request of one process, its inputs schema in place (for the OpenAPI document)."""
    required = any(field.is_required() for field in inputs.model_fields.values())
    name = "".join(part.capitalize() for part in process_id.split("-")) + "Execute"
    field = Field(...) if required else Field(default_factory=inputs)
    return create_model(name, __base__=ExecuteRequest, __doc__=f"Execute `{process_id}`.", inputs=(inputs, field))


class FormatQuery(Input):
    f: JsonFormat = Field(default=None, description="json (browsers get pages; f=html asks for the page)")


class ProcessesQuery(FormatQuery):
    limit: int | None = Field(default=None, ge=1, le=10_000, description="At most this many processes")


class JobFilters(Paging):
    """`GET /jobs`: each filter takes values repeated or comma-separated; jobs matching any value match."""

    processID: list[ProcessId] = Field(default_factory=list, max_length=100)  # noqa: N815 — OGC's name
    process: list[ProcessId] = Field(default_factory=list, max_length=100, description="Same as processID")
    status: list[JobStatus] = Field(default_factory=list, max_length=10)
    type: list[Text(50, min_length=1)] = Field(default_factory=list, max_length=10,
                                               description="Only `process` matches: every job is a process job")
    f: JsonFormat = None


class JobsPageQuery(Input):
    """The jobs page (browsers): one status (an unknown one shows every job), one process, the page."""

    status: Text(20) | None = None
    process: ProcessId | None = None
    page: Page = 1
    f: Literal["html"] | None = None


class JobQuery(Input):
    f: Literal["json", "eo"] | None = Field(default=None, description="json (statusInfo) or eo (the eo-api view); "
                                                                      "browsers get the job page (f=html)")


class ArtifactQuery(Input):
    download: bool = Field(default=False, description="As an attachment")


# --- what the endpoints answer ------------------------------------------------------------------

class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]  # noqa: N815


class ProcessSummary(BaseModel):
    id: str
    title: str
    description: str
    version: str
    jobControlOptions: list[Literal["sync-execute", "async-execute", "dismiss"]]  # noqa: N815
    outputTransmission: list[Literal["value", "reference"]]  # noqa: N815
    links: list[Link]


class ProcessList(BaseModel):
    processes: list[ProcessSummary]
    links: list[Link]


class InputDescription(BaseModel):
    title: str
    description: str
    schema_: dict[str, Any] = Field(alias="schema")
    minOccurs: int  # noqa: N815
    maxOccurs: int  # noqa: N815


class OutputDescription(BaseModel):
    title: str
    schema_: dict[str, Any] = Field(alias="schema")


class ProcessDescription(ProcessSummary):
    inputs: dict[str, InputDescription]
    outputs: dict[str, OutputDescription]
    steps: list[str] | None = Field(default=None, description="The steps of a multi-step process")


class JobList(BaseModel):
    jobs: list[StatusInfo]
    meta: ListMeta = Field(alias="_meta")
    links: list[Link]


class EoJobStatus(BaseModel):
    """The eo-api view of a job (`?f=eo`)."""

    jobId: str  # noqa: N815
    processId: str  # noqa: N815
    status: Literal["queued", "running", "succeeded", "failed"]
    progress: int | None
    message: str | None
    resultRef: str | None  # noqa: N815
    flowName: str | None = None  # noqa: N815
    importSummary: dict[str, Any] | None = None  # noqa: N815


class JobView(RootModel[StatusInfo | EoJobStatus]):
    """statusInfo, or the eo-api view with f=eo."""


class Results(RootModel[dict[str, Any]]):
    """The job's outputs by name."""
