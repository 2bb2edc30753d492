"""The orchestration API (/api/workflow/): tasks, transitions (one and many), action plans, their list
filters, and what the API answers. The same models serve the action plan form."""
from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar, Union

from pydantic import BaseModel, BeforeValidator, Field, RootModel, WithJsonSchema

from app.schemas.common import PRIORITIES, ListOf, PageFilters, Paging, PriorityChoice, TaskKindChoice  # noqa: F401
from app.schemas.parsing import AliasedInput, Input
from app.schemas.types import Choice, Id, JsonObject, OptionalId, Search, Slug, Text, When
from app.services.orchestration.state_machines import ACTION_PLAN, TASK

T = TypeVar("T")

TASK_TYPES = ("intake", "assessment", "review", "general")
MAX_BATCH = 500  # transitions in one request

TaskState = Choice(TASK.states, TASK.aliases, "A task state")
PlanState = Choice(ACTION_PLAN.states, ACTION_PLAN.aliases, "An action plan state")
Reason = Text(500)
SKIP_REMAINING_STEPS = (
    "Confirms completing a ticket task before its workflow's last step: the remaining steps are skipped and "
    "the audit row records which, and by whom. Without it, such a completion is refused with 409 "
    "STEPS_REMAINING naming the remaining steps. Not needed at the last step, nor for tasks without a workflow.")


def _reference(raw):
    return str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw


# Someone in another system, by id or name (the seed's `assigned_to: "user123"`).
ExternalRef = Annotated[Text(150) | None, BeforeValidator(_reference),
                        WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 150}, {"type": "integer"}],
                                        "nullable": True})]


# --- inputs ------------------------------------------------------------------------------------------

class TaskIn(AliasedInput):
    """A task made through the API (or by a rule): no ticket; its type and area pick its SLA."""

    aliases = {"due_at": ("due_date",)}

    title: Text(255, min_length=1)
    description: Text(10_000) = ""
    task_type: Slug(40) = Field("general", description=f"e.g. {', '.join(TASK_TYPES)}")
    service_area: Slug(40, spaces=True) = "general"
    priority: PriorityChoice = "medium"
    due_at: When | None = None
    project_id: OptionalId = Field(None, description="Required when you belong to several projects")
    assignee_id: OptionalId = None
    action_plan_id: OptionalId = None
    data: JsonObject | None = Field(None, description="Free-form JSON kept with the task")
    assigned_to: ExternalRef = Field(
        None, description="The seed's assignee reference, kept as sent; when it names a user of the project "
                          "(username, or id) and assignee_id is not given, that user is the assignee")


class TransitionIn(AliasedInput):
    aliases = {"to_state": ("state", "to", "target_state")}

    to_state: TaskState
    reason: Reason = Field("", description="Required to block or cancel")
    context: JsonObject | None = Field(None, description="Kept on the audit row")
    expected_state: TaskState | None = Field(None, description="Refused with 409 if the task is no longer in it")
    notes: Text(2000) | None = Field(None, description="The seed's notes: kept in the audit row's context")
    skip_remaining_steps: bool = Field(False, description=SKIP_REMAINING_STEPS)

    def audit_context(self) -> dict | None:
        """What the audit row keeps: the context, with the notes."""
        if self.notes:
            return {**(self.context or {}), "notes": self.notes}
        return self.context


class TransitionItem(TransitionIn):
    task_id: Id


class TransitionsIn(Input):
    transitions: list[TransitionItem] = Field(min_length=1, max_length=MAX_BATCH,
                                              description=f"1 to {MAX_BATCH}, applied in order")


class PlanChangeIn(Input):
    """The optional body of activate / archive."""

    reason: Reason = ""


class ActionPlanIn(AliasedInput):
    title: Text(255, min_length=1)
    description: Text(10_000) = ""
    service_area: Slug(40) = "general"
    project_id: OptionalId = Field(None, description="Required when you belong to several projects")
    goals: list[Text(500)] | None = Field(None, max_length=100, description="The seed's goals (short texts)")
    metadata: JsonObject | None = Field(None, description="The seed's metadata: free-form JSON kept with the plan")


class CorrelationHeader(Input):
    """The X-Correlation-ID request header: it is stored with the events and audit rows."""

    correlation_id: Text(64) | None = Field(None, alias="X-Correlation-ID")


class TaskFilters(Paging, AliasedInput):
    aliases = {"status": ("state",)}

    kind: TaskKindChoice | None = Field(None, description="Default: both kinds")
    status: TaskState | None = None
    task_type: Slug(40) | None = None
    service_area: Slug(80, spaces=True) | None = None
    priority: PriorityChoice | None = None
    assignee_id: OptionalId = Field(None, description="Assigned to the task now: its assignee, or on its current "
                                                      "step (not declined)")
    created_by_id: OptionalId = Field(None, description="Created by this user")
    action_plan_id: OptionalId = None
    mine: bool = Field(False, description="Assigned to me now: my task, or mine on its current step (not declined)")
    search: Search = Field(None, description="In the title")


class ActionPlanFilters(Paging):
    status: PlanState | None = None
    service_area: Slug(80) | None = None


class ActionPlanListFilters(PageFilters):
    """The action plans page's filters."""

    status: PlanState | None = None
    service_area: Slug(80) | None = None


# --- answers -----------------------------------------------------------------------------------------

class Succeeded(BaseModel):
    success: bool


class WorkflowPage(ListOf[T], Generic[T]):
    """A page of a list, as the workflow API answers it."""

    success: bool


class _TaskFields(BaseModel):
    """What the workflow API says of a task of either kind."""

    id: int
    title: str
    description: str
    task_type: str
    service_area: str
    status: str
    priority: str
    project_id: int
    ticket_id: int | None
    action_plan_id: int | None
    created_by_id: int | None
    assignee_id: int | None
    assigned_to: str | None = Field(description="The seed's assignee reference as sent (null: none was sent)")
    due_at: str | None
    due_date: str | None = Field(description="= due_at (the seed's name)")
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    allowed_transitions: list[str] = Field(description="The states you may move it to now")


class WorkflowWorkItemOut(_TaskFields):
    """A work item: a task without a ticket."""

    kind: Literal["work_item"]


class WorkflowTicketTaskOut(_TaskFields):
    """A ticket's task (its title is the ticket's subject), on a step of its workflow."""

    kind: Literal["ticket_task"]
    ticket_id: int
    ticket_external_id: str
    workflow_id: int | None
    current_step_id: int | None
    current_step_name: str | None
    step_assignee_ids: list[int] = Field(description="Users on the current step (not declined)")


class WorkflowTaskOut(RootModel[Union[WorkflowTicketTaskOut, WorkflowWorkItemOut]]):
    """A task of either kind, told apart by `kind`."""


class ActionPlanOut(BaseModel):
    id: int
    title: str
    description: str
    service_area: str
    status: str
    project_id: int
    created_by_id: int | None
    created_at: str | None
    activated_at: str | None
    archived_at: str | None
    goals: list[str]
    metadata: dict[str, Any]
    task_count: int
    allowed_transitions: list[str]


class StateChangeOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    actor_id: int | None
    reason: str
    context: dict[str, Any] | None
    correlation_id: str | None
    event_id: str | None
    at: str


class SlaClockOut(BaseModel):
    kind: str
    status: str
    due_at: str | None
    target_minutes: int | None
    actual_minutes: float | None = Field(None, description="Minutes of the target used so far (at the stop, once stopped)")
    percent_used: float | None
    warned: bool
    breached: bool
    paused: bool


class TaskCreated(Succeeded):
    message: str
    task: WorkflowTaskOut


class TaskDetail(Succeeded):
    task: WorkflowTaskOut
    history: list[StateChangeOut]
    sla: SlaClockOut | None


class TransitionOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    event_id: str
    correlation_id: str


class TaskTransitioned(Succeeded):
    message: str
    task: WorkflowTaskOut
    transition: TransitionOut


class BatchApplied(BaseModel):
    index: int
    ok: Literal[True]
    task_id: int
    from_: str = Field(alias="from")
    to: str
    event_id: str
    correlation_id: str


class BatchRefused(BaseModel):
    index: int
    ok: Literal[False]
    task_id: int | None
    error_code: str
    message: str
    details: dict[str, Any]


class TransitionsOut(Succeeded):
    message: str
    applied: int
    refused: int
    results: list[Union[BatchApplied, BatchRefused]] = Field(description="One per requested transition, in order")


class ActionPlanCreated(Succeeded):
    message: str
    action_plan: ActionPlanOut


class ActionPlanDetail(Succeeded):
    action_plan: ActionPlanOut
    history: list[StateChangeOut]


class ActionPlanTransitioned(Succeeded):
    message: str
    action_plan: ActionPlanOut
    transition: TransitionOut


class MachineOut(BaseModel):
    states: list[str]
    initial: str
    terminal: list[str]
    transitions: dict[str, list[str]]
    aliases: dict[str, str]
    permission: str
    event_type: str
    reason_required: list[str]


class RuleOut(BaseModel):
    id: int
    key: str | None
    name: str
    event_type: str
    enabled: bool
    condition: dict[str, Any] | None
    actions: list[dict[str, Any]]
    built_in: bool


class MetadataOut(Succeeded):
    state_machines: dict[str, MachineOut]
    task_types: list[str]
    priorities: list[str]
    rules: list[RuleOut]
    events: dict[str, dict[str, Any]] = Field(
        description="The event catalogue: every event type (rules listen to them, webhooks deliver them) with the "
                    "JSON Schema of its payload (`description` says what it means, `x-aggregate-type` what its "
                    "aggregate id identifies)")


class TaskCounts(BaseModel):
    total: int
    by_state: dict[str, int]
    by_type: dict[str, int]
    by_service_area: dict[str, dict[str, int]]


class OutboxCounts(BaseModel):
    by_status: dict[str, int]
    oldest_pending_age_seconds: float | None


class AreaCompliance(BaseModel):
    service_area: str
    met: int
    missed: int
    breached_open: int
    compliance_percent: float | None


class SlaCompliance(BaseModel):
    window_days: int
    areas: list[AreaCompliance]
    at_risk: int
    breached: int
    open: int


class StatsOut(Succeeded):
    tasks: TaskCounts
    action_plans: dict[str, dict[str, int]]
    automation: dict[str, dict[str, int]]
    outbox: OutboxCounts
    sla: SlaCompliance
