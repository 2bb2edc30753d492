"""Schemas shared by every API: paging, list envelopes, the error bodies of each family, the priority
and task kind vocabularies."""
from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

from app.models import PRIORITY_ALIASES, Priority, TaskKind
from app.schemas.parsing import Input
from app.schemas.types import Choice, Page

T = TypeVar("T")

PRIORITIES = tuple(p.value for p in Priority)  # in order, as forms, the rule editor and /metadata list them
# A priority of tickets, ticket tasks, work items and rule actions: the seeds' `urgent` and `normal` are
# read as `critical` and `medium`.
PriorityChoice = Choice(PRIORITIES, PRIORITY_ALIASES, "A priority")
TaskKindChoice = Choice([k.value for k in TaskKind], None, "ticket_task (a ticket's, through its workflow's "
                        "steps) or work_item (no ticket)")


def read_priority(raw, default: str = Priority.MEDIUM.value) -> str:
    """A priority as `PriorityChoice` reads it, or `default` when it is not one (for storing what can be
    read of an invalid ticket)."""
    text = raw.strip().lower() if isinstance(raw, str) else ""
    text = PRIORITY_ALIASES.get(text, text)
    return text if text in PRIORITIES else default

Limit = Field(default=None, ge=1, le=1_000_000, description="Page size (capped at API_MAX_PAGE_SIZE)")


class Paging(Input):
    page: Page = 1
    limit: int | None = Limit


class PageFilters(Input):
    """The page number of an HTML list (its size is the page's own)."""

    page: Page = 1


class ListMeta(BaseModel):
    page: int
    limit: int
    total: int
    pages: int


class ListLinks(BaseModel):
    self_: str = Field(alias="self")
    next: str | None = None
    prev: str | None = None


class ListOf(BaseModel, Generic[T]):
    """`{items, _meta, _links}` — every paginated list."""

    items: list[T]
    meta: ListMeta = Field(alias="_meta")
    links: ListLinks = Field(alias="_links")


class IasoError(BaseModel):
    """Errors on /api/… (Iaso's shape): what went wrong, and per-field messages with the error `code`
    (VALIDATION_FAILED, NOT_FOUND, …) among them, as the Iaso seed has it."""

    error: str
    details: dict[str, Any] = {}


class WorkflowError(BaseModel):
    """Errors on /api/workflow/… and /tasks/api/…."""

    success: bool
    message: str
    error_code: str
    details: dict[str, Any] = {}
    detail: str | None = Field(None, description='403 only: "Insufficient permissions" (the seed\'s key)')


class Problem(BaseModel):
    """RFC 7807 problem details (OGC paths)."""

    type: str
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    details: dict[str, Any] | None = None
