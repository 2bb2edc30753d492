"""Tickets (/api/tickets/…, the new-ticket form on /tickets/, queued intake) and the round-robin role
source: a ticket as senders write it (the seed's field names and their variants), bulk bodies, list
filters, and what the API answers."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, WithJsonSchema, model_validator

from app.models import AllocationStatus
from app.schemas.common import PRIORITIES, PageFilters, Paging, PriorityChoice  # noqa: F401 (the ticket form's list)
from app.schemas.parsing import AliasedInput, Input
from app.schemas.types import (
    Choice, JsonObject, OptionalId, Search, Text, When, check_json_value, unstorable_text,
)

MAX_BATCH = 5000
QUEUE_STATUSES = tuple(s.value for s in AllocationStatus if s != AllocationStatus.NOT_FOUND)
EXTERNAL_ID_KEYS = ("external_id", "ticket_number", "ticket_id", "id", "original_ticket_id")
# Column widths of the ticket's text fields (an invalid ticket is stored cut to these).
TEXT_LIMITS = {"subject": 255, "description": 20_000, "department": 120, "category": 120, "sub_category": 120,
               "requester": 255}


def read_external_id(raw) -> str | None:
    """A sender's ticket id as text (None when not given); ValueError saying why it is not one."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ValueError("must be a string or a whole number")
    value = str(raw).strip()
    if not value or len(value) > 64:
        raise ValueError("must be 1 to 64 characters")
    problem = unstorable_text(value)
    if problem:
        raise ValueError(problem)
    return value


def requester_name(raw) -> str | None:
    """Who sent the ticket: a name, or the seed's employee object ({first_name, last_name, …}) as a
    name; cut to the column's width."""
    if isinstance(raw, dict):
        name = " ".join(str(raw.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
        raw = raw.get("full_name") or raw.get("name") or name or raw.get("username") or raw.get("email")
    if raw is None or isinstance(raw, (bool, list, dict)):
        return None
    return str(raw).replace("\x00", "").strip()[:TEXT_LIMITS["requester"]] or None


def _requester(raw):
    if isinstance(raw, bool) or not isinstance(raw, (str, int, dict, type(None))):
        raise ValueError("must be a name, or an object with first_name / last_name / name / username / email")
    check_json_value(raw, "requester")
    return requester_name(raw)


ExternalId = Annotated[str | None, BeforeValidator(read_external_id), WithJsonSchema({
    "anyOf": [{"type": "string", "minLength": 1, "maxLength": 64}, {"type": "integer"}], "nullable": True,
    "description": "The sender's ticket id (text or a whole number)"})]
Requester = Annotated[str | None, BeforeValidator(_requester), WithJsonSchema({
    "anyOf": [{"type": "string"}, {"type": "object", "additionalProperties": True}], "nullable": True})]


class TicketIn(AliasedInput):
    """One ticket. Other fields than these are kept with the ticket as sent (its `data`)."""

    model_config = ConfigDict(extra="allow")
    aliases = {"external_id": EXTERNAL_ID_KEYS[1:], "subject": ("title",), "description": ("body",),
               "sub_category": ("subcategory",), "requester": ("requested_by", "employee", "submitted_by"),
               "received_at": ("submit_date", "opened_on", "created_at"), "due_date": ("due_at",)}

    external_id: ExternalId = Field(None, description="Without one, an id is made (WEB-…) for a single ticket; "
                                                    "a ticket of a batch without one is rejected")
    subject: Text(TEXT_LIMITS["subject"], min_length=1)
    description: Text(TEXT_LIMITS["description"]) = ""
    department: Text(TEXT_LIMITS["department"], min_length=1)
    category: Text(TEXT_LIMITS["category"], min_length=1)
    sub_category: Text(TEXT_LIMITS["sub_category"]) | None = None
    priority: PriorityChoice = "medium"
    requester: Requester = Field(None, description="A name, or the seed's employee object")
    received_at: When | None = Field(None, description="Default: now")
    due_date: When | None = Field(None, description="Default: by priority, 1 (critical) to 14 days (low)")
    project_id: OptionalId = Field(None, description="Required when you belong to several projects")

    @model_validator(mode="after")
    def _storable_extras(self):
        check_json_value(self.model_extra or {}, "body")
        return self


class TicketBatchIn(Input):
    """A list of tickets, or {"tickets": [...], "project_id"?}. Each ticket is read like a single one;
    one that is not valid gets its own outcome (and is stored as `invalid_data` when it has an id)."""

    tickets: list[JsonObject] = Field(min_length=1, max_length=MAX_BATCH)
    project_id: OptionalId = Field(None, description="Required when you belong to several projects")

    @model_validator(mode="before")
    @classmethod
    def _a_list_is_the_tickets(cls, data):
        return {"tickets": data} if isinstance(data, list) else data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        as_object = {k: v for k, v in target.items() if k not in ("title", "description")}
        target.clear()
        target.update({"title": cls.__name__, "description": " ".join((cls.__doc__ or "").split()),
                       "oneOf": [as_object["properties"]["tickets"], as_object]})
        return schema


class BulkQuery(Input):
    sync: bool = Field(False, description="Process the tickets in the request (200) instead of queueing them (202)")


class TicketFilters(Paging, AliasedInput):
    aliases = {"allocation_status": ("status",)}

    allocation_status: Choice(QUEUE_STATUSES) | None = None
    priority: PriorityChoice | None = None
    department: Text(TEXT_LIMITS["department"]) | None = None
    search: Search = Field(None, description="In the external id, subject and requester")
    project_id: OptionalId = None


class TicketQueueFilters(PageFilters):
    """The ticket queue page's filters."""

    status: Choice(QUEUE_STATUSES) | None = None
    priority: PriorityChoice | None = None
    department: Text(TEXT_LIMITS["department"]) | None = None
    q: Search = Field(None, description="In the external id, subject and requester")


class RoundRobinQuery(Input):
    role_name: Text(120, min_length=1)
    project_id: OptionalId = None


# --- answers -----------------------------------------------------------------------------------------

class AssigneeOut(BaseModel):
    """The seed's assignment object (+ why this user)."""

    userID: int  # noqa: N815 — the seed's name
    username: str | None
    status: str
    assigned_on: str
    role: str
    reason: str | None = None


class Links(BaseModel):
    ticket: str


class OutcomeOut(BaseModel):
    index: int
    external_id: str | None
    action: str = Field(description="created | updated | rejected | superseded | not_found | skipped | allocated | failed")
    ticket_id: int | None
    allocation_status: str | None
    message: str
    task_id: int | None
    workflow_id: int | None
    users: list[AssigneeOut]
    errors: dict[str, list[str]] | None = Field(None, description="Why the ticket is invalid, by field")


class IntakeOutcomeOut(OutcomeOut):
    links: Links = Field(alias="_links")


class BatchSummaryOut(BaseModel):
    received: int
    actions: dict[str, int]
    allocation: dict[str, int]
    outcomes: list[OutcomeOut]


class SelfLink(BaseModel):
    self_: str = Field(alias="self")


class BatchLinks(SelfLink):
    job: str = Field(description="The batch's job: OGC statusInfo for JSON clients, the job page for browsers")


class QueuedBatchOut(BaseModel):
    id: str = Field(description="The batch's id, also its job's id")
    status: str
    links: BatchLinks = Field(alias="_links")


class TicketBatchOut(BaseModel):
    id: str
    status: str = Field(description="queued | started | finished | failed | canceled (its job's status in RQ's words)")
    count: int | None
    enqueued_at: str | None
    progress: int = Field(description="0–100, as its job reports it (per chunk of tickets received)")
    links: BatchLinks = Field(alias="_links")
    result: BatchSummaryOut | None = Field(None, description="Once finished")
    error: str | None = Field(None, description="When it failed")


class TicketTaskBrief(BaseModel):
    id: int
    status: str = Field(description="The seed's vocabulary: pending, in_progress, on_hold, completed, cancelled")
    state: str = Field(description="Ours: new, in_progress, blocked, completed, cancelled")
    current_step_name: str | None
    users: list[AssigneeOut]


class TicketOut(BaseModel):
    id: int
    external_id: str
    ticket_number: str
    project_id: int
    subject: str
    description: str
    department: str
    category: str
    sub_category: str | None
    priority: str
    requester: str
    received_at: str | None
    due_date: str | None
    is_task_allocated: bool
    allocation_status: str
    allocation_error: str
    allocation_attempts: int
    next_allocation_at: str | None
    workflow_id: int | None
    workflow_name: str | None
    created_at: str | None
    updated_at: str | None
    task: TicketTaskBrief | None = None


class UserIds(RootModel[list[int]]):
    """Ids of the active users holding the role, ascending."""
