"""Help desk admin (the workflow pages): departments, categories, staff roles, workflows and their
steps, and the page actions on them (move a step, publish, deploy). Each model is what its form
posts; the services take them."""
from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema

from app.models import AssignmentMode, EndLogic
from app.schemas.common import TaskKindChoice
from app.schemas.parsing import Input, Unchanged
from app.schemas.types import Choice, Id, OptionalId, Text

MAX_ASSIGNMENTS = 20  # users per task a role may take: more is a typo
MAX_MEMBERS = 1000
MAX_STEPS = 100


def _blank_is_empty(value):
    return "" if value is None else value


def _required(value):
    if value is None:
        raise ValueError("is required")
    return value


# Text a form may clear: null or a blank field is the empty text.
Description = Annotated[Text(500), BeforeValidator(_blank_is_empty)]
CatalogName = Text(120, min_length=1)
PerTask = Annotated[int, Field(ge=1, le=MAX_ASSIGNMENTS, description="Users picked per task")]
Direction = Choice(("up", "down"))
Members = Annotated[list[Id], Field(max_length=MAX_MEMBERS, description="Who holds the role (the whole list)")]


class DepartmentIn(Input):
    name: CatalogName
    project_id: OptionalId = Field(None, description="Needed when you belong to several projects")


class CategoryIn(Input):
    """A category, or a sub-category of a top-level one (`parent_id`)."""

    name: CatalogName
    parent_id: OptionalId = Field(None, description="A top-level category: the new one is its sub-category")
    project_id: OptionalId = Field(None, description="Needed when you belong to several projects")


OpenCap = Annotated[Annotated[int, Field(ge=1, le=10_000)] | None, BeforeValidator(lambda v: None if v == "" else v),
                    Field(description="Most open tasks one user may hold (null: no cap)")]
Mode = Choice(m.value for m in AssignmentMode)


class StaffRoleChanges(Input):
    """A change to a staff role (its page's form): the fields given change."""

    description: Description = Unchanged()
    max_assignments: PerTask | SkipJsonSchema[None] = Unchanged()
    user_ids: Members | SkipJsonSchema[None] = Unchanged()
    assignment_mode: Mode | SkipJsonSchema[None] = Unchanged(
        description="round_robin (the exact rotation) or least_open (fewest open tasks first)")
    max_open_tasks: OpenCap = Unchanged()

    _not_cleared = field_validator("max_assignments", "user_ids", "assignment_mode")(_required)


class StaffRoleIn(StaffRoleChanges):
    name: CatalogName
    project_id: OptionalId = Field(None, description="Needed when you belong to several projects")
    description: Description = ""
    max_assignments: PerTask = 3
    user_ids: Members = Field(default_factory=list)
    assignment_mode: Mode = AssignmentMode.ROUND_ROBIN.value
    max_open_tasks: OpenCap = None


class WorkflowChanges(Input):
    """A change to a draft workflow (its settings form): the fields given change."""

    name: Text(160, min_length=1) | SkipJsonSchema[None] = Unchanged()
    description: Annotated[Text(10_000), BeforeValidator(_blank_is_empty)] = Unchanged()
    end_logic: Choice(e.value for e in EndLogic) = Unchanged()
    department_id: Id | SkipJsonSchema[None] = Unchanged()
    category_id: Id | SkipJsonSchema[None] = Unchanged(description="A top-level category")
    sub_category_id: OptionalId = Field(None, description="null: the whole category")

    _not_cleared = field_validator("name", "department_id", "category_id")(_required)


class WorkflowIn(WorkflowChanges):
    """A new draft workflow: the tickets of a department and category (and sub-category) it takes."""

    name: Text(160, min_length=1)
    description: Annotated[Text(10_000), BeforeValidator(_blank_is_empty)] = ""
    end_logic: Choice(e.value for e in EndLogic) = EndLogic.NONE.value
    department_id: Id
    category_id: Id = Field(description="A top-level category")
    project_id: OptionalId = Field(None, description="Needed when you belong to several projects")


class StepIn(Input):
    name: Text(160, min_length=1)
    role_id: Id = Field(description="A staff role of the workflow's project")
    order: Annotated[int, Field(ge=1, le=MAX_STEPS)] | None = Field(None, description="Absent: after the last step")


class StepMove(Input):
    direction: Direction


class PublishIn(Input):
    published: bool


class DeployIn(Input):
    deployed: bool = Field(description="false: back to draft")


class BoardQuery(Input):
    """Which tasks the board shows: only the caller's (`mine`: assigned to them now), one kind, one
    workflow's; and one to highlight."""

    mine: bool = False
    kind: TaskKindChoice | None = None
    workflow_id: OptionalId = None
    task: OptionalId = Field(None, description="A task to highlight")
    sla: Annotated[Choice(("at_risk", "breached")) | None, BeforeValidator(lambda v: v or None)] = Field(
        None, description="Only open tasks at risk (past a warning threshold) or breached (overdue)")


class BoardActionIn(Input):
    """What a board action's button posts besides the board's filters: Complete at an early step
    confirms skipping the workflow's remaining steps."""

    skip_remaining_steps: bool = False


class AvailabilityIn(Input):
    """An agent's availability: away takes them out of assignment until they are back."""

    away: bool
    note: Text(200) = Field("", description="Shown to leads, e.g. 'at the district office'")
    hand_back: bool = Field(False, description="Going away: hand my open ticket tasks back, each to whoever the "
                                               "step's role picks")


class LeaveIn(Input):
    """A leave: the agent takes no new work from `starts_on` to `ends_on` (both included)."""

    starts_on: date
    ends_on: date
    note: Text(200) = ""

    @field_validator("ends_on")
    @classmethod
    def _after_start(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("starts_on")
        if start is not None and value < start:
            raise ValueError("must be on or after the first day")
        return value


class LeaveOut(BaseModel):
    id: int
    starts_on: date
    ends_on: date
    note: str


class AvailabilityOut(BaseModel):
    """An agent's availability: `available` is whether assignment may pick them today."""

    user_id: int
    username: str
    away: bool
    note: str
    available: bool
    absent_today: str = Field(description="Why not available today (away, on leave until …); empty when available")
    leaves: list[LeaveOut] = Field(description="Leaves not over yet, soonest first")
    handed_back: list[int] | None = Field(None, description="Going away with hand_back: the tasks handed back")
    allocated: int | None = Field(None, description="Coming back: tickets of the unassigned queue that got a task")
