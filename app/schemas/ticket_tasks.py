"""The seed's task API (/tasks/api/tasks/…): list filters, the action bodies, and what it answers."""
from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, Field, RootModel, ValidationError, model_validator

from app.models import AssignmentStatus, TaskStatus
from app.schemas.common import Paging, TaskKindChoice
from app.schemas.parsing import AliasedInput, Input
from app.schemas.tickets import AssigneeOut
from app.schemas.types import Choice, Id, OptionalId, Text
from app.schemas.workflow import SKIP_REMAINING_STEPS
from app.services.orchestration.state_machines import TASK

ASSIGNMENT_STATUS_ALIASES = {"pending": "assigned", "done": "completed"}
TaskStatusChoice = Choice([s.value for s in TaskStatus], TASK.aliases)
AssignmentStatusChoice = Choice([s.value for s in AssignmentStatus], ASSIGNMENT_STATUS_ALIASES)
BOARD_ACTIONS = ("start", "block", "resume", "cancel")  # the actions with a route of their own
SEED_STATUS = ("The seed's task status: pending, in_progress, on_hold, completed, cancelled (our new and "
               "blocked are its pending and on_hold; `state` has ours)")


class AssigneesByStatus(BaseModel):
    task_id: int
    status: str | None
    users: list[AssigneeOut]


class TicketTaskFilters(Paging, AliasedInput):
    aliases = {"user_id": ("assigned_to",)}

    kind: TaskKindChoice | None = Field(None, description="Default: both kinds")
    status: TaskStatusChoice | None = None
    ticket_id: OptionalId = None
    workflow_id: OptionalId = None
    user_id: OptionalId = Field(None, description="Assigned to the task now: its assignee, or on its current step "
                                                  "(not declined)")
    project_id: OptionalId = None
    mine: bool = Field(False, description="Assigned to me now: my task, or mine on its current step (not declined)")


class TicketRef(Input):
    ticket_id: Id


class AssignUserIn(AliasedInput):
    """The seed's UserAssignmentSerializer: the user by `userID`, else by `username` or `email` (a user of
    the task's project; with TTS_SERVICE_URL, also an id the role source lists for the role, named by the
    `username` or `email` sent), and the role shown with the assignment. `status` is accepted and not
    used (a new assignment is `assigned`)."""

    aliases = {"userID": ("user_id",)}

    userID: OptionalId = Field(None, description="Required unless username or email is given")  # noqa: N815
    role: Text(120) | None = Field(None, description="Default: the current step's role")
    username: Text(150) | None = None
    email: Text(254) | None = None
    status: AssignmentStatusChoice | None = None

    @model_validator(mode="after")
    def _someone(self):
        if self.userID is None and not self.username and not self.email:  # named as the missing userID
            raise ValidationError.from_exception_data("AssignUserIn", [{"type": "missing", "loc": ("userID",),
                                                                        "input": {}}])
        return self


class AssigneeStatusQuery(Input):
    """The seed's `get_assigned_users_by_status`: the current step's assignees in this status."""

    status: AssignmentStatusChoice | None = Field(None, description="Absent: every assignee of the current step")


class UserStatusIn(AliasedInput):
    aliases = {"user_id": ("userID",)}

    user_id: Id
    status: AssignmentStatusChoice


class ReassignIn(Input):
    """Leave a ticket task's current step: decline your own assignment, or (a lead) move someone's to
    another user. Without `to_user_id` the step's role picks who takes over (its mode, who is free)."""

    user_id: OptionalId = Field(None, description="The assignee leaving the step (default: you, declining)")
    to_user_id: OptionalId = Field(None, description="Who takes over (leads only; default: the role picks)")
    reason: Text(500, min_length=1) = Field(description="Why; kept in the task's history")


class CommentIn(Input):
    """A comment on a ticket or task: an internal note (default) or a reply to the requester."""

    body: Text(5000, min_length=1)
    visibility: Choice(("internal", "reply")) = Field("internal", description="internal: a note for the people "
                                                      "working it; reply: for the requester (a CommentAdded event)")


class CommentOut(BaseModel):
    id: int
    ticket_id: int | None
    task_id: int | None
    author_id: int | None
    author: str
    visibility: str
    body: str
    created_at: str


class CommentsOut(RootModel[list[CommentOut]]):
    """Comments, oldest first."""


class ActionIn(Input):
    """The optional body of a task action."""

    reason: Text(500) = Field("", description="Required to block or cancel")


class CompleteIn(ActionIn):
    """The optional body of complete (and complete_task)."""

    skip_remaining_steps: bool = Field(False, description=SKIP_REMAINING_STEPS)


class StatisticsQuery(Input):
    project_id: OptionalId = None


# --- answers -----------------------------------------------------------------------------------------

class TicketTaskOut(BaseModel):
    """A ticket task: the seed's TaskSerializer fields, plus ours."""

    id: int
    task_id: int
    kind: Literal["ticket_task"]
    project_id: int
    ticket_id: int
    ticket_external_id: str
    ticket_subject: str
    workflow_id: int | None
    workflow_name: str | None
    current_step: int | None
    current_step_name: str | None
    current_step_role: str | None
    current_step_order: int | None
    steps_count: int
    status: str = Field(description=SEED_STATUS)
    state: str = Field(description="Fieldflow's state: new, in_progress, blocked, completed, cancelled")
    priority: str
    due_date: str | None
    fetched_at: str | None = Field(description="When one of its assignees first fetched it (GET on this API)")
    users: list[AssigneeOut]
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    assigned_users_count: int
    allowed_actions: list[str] | None = Field(None, description="The board actions you may take now")


class WorkItemOut(BaseModel):
    """A work item (a task without a ticket, made on /api/workflow/, in an action plan or by a rule)."""

    id: int
    task_id: int
    kind: Literal["work_item"]
    project_id: int
    title: str
    description: str
    task_type: str
    service_area: str
    action_plan_id: int | None
    created_by_id: int | None
    assignee_id: int | None
    status: str = Field(description=SEED_STATUS)
    state: str = Field(description="Fieldflow's state: new, in_progress, blocked, completed, cancelled")
    priority: str
    due_date: str | None
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    allowed_actions: list[str] | None = Field(None, description="The board actions you may take now")


class TicketApiTaskOut(RootModel[Union[TicketTaskOut, WorkItemOut]]):
    """A task of either kind, told apart by `kind`."""


class TicketTaskAction(BaseModel):
    success: bool
    message: str
    task: TicketApiTaskOut


class WorkflowCounts(BaseModel):
    workflow_id: int
    name: str
    status: str
    is_published: bool
    total_tasks: int
    by_status: dict[str, int]


class TaskTotals(BaseModel):
    tasks: int
    by_status: dict[str, int]


class TicketTotals(BaseModel):
    total: int
    by_allocation_status: dict[str, int]


class WorkflowStatistics(BaseModel):
    workflows: list[WorkflowCounts]
    totals: TaskTotals
    tickets: TicketTotals
