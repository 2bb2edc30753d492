"""What the APIs answer about a job: OGC API – Processes statusInfo."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from app.services.processing import job_status as st

JobStatus = StrEnum("JobStatus", {status.upper(): status for status in st.CANONICAL})


class Link(BaseModel):
    href: str
    rel: str | None = None
    type: str | None = None
    title: str | None = None


class StatusInfo(BaseModel):
    """A job's status (`jobID`, and `id` beside it); `Location` names its URL."""

    jobID: str  # noqa: N815 — OGC's name
    id: str
    processID: str  # noqa: N815
    type: str = Field(description="Always `process`")
    status: JobStatus
    message: str | None
    progress: int | None = Field(ge=0, le=100)
    created: datetime | None
    started: datetime | None
    finished: datetime | None
    updated: datetime | None
    links: list[Link]
    steps: list[dict[str, Any]] | None = Field(default=None, description="Per-step status of multi-step processes")
    flowName: str | None = Field(default=None, description="eo-api's name of the flow (EO aggregate import)")  # noqa: N815
    importSummary: dict[str, Any] | None = Field(  # noqa: N815
        default=None, description="The DHIS2 import summary of a finished EO aggregate import")
