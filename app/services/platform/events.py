"""The event catalogue: every event type the outbox carries, with its payload schema (DESIGN: "every
event type and its payload schema is listed in one event catalogue").

Producers write payloads with exactly these fields; `outbox.event_values` checks each one against its
type (an unknown type, another aggregate or a payload of another shape is a programming error: it
raises). Rules listen to these types and the rule form suggests their fields; webhook endpoints
subscribe to them and the webhook pages and `/api/workflow/metadata` describe them.

Payloads are JSON values only (ids, text, UTC times as ISO 8601 text ending in Z), so what is checked
is what is stored, evaluated by rules and sent to webhooks. Every field is always present (null when it
does not apply): a rule or a receiver never has to guess whether a field exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.models import ActionPlanStatus, AssignmentStatus, Priority as PriorityLevel, TaskKind as Kind, TaskStatus

TaskState = Literal[tuple(s.value for s in TaskStatus)]
PlanState = Literal[tuple(s.value for s in ActionPlanStatus)]
AssignmentState = Literal[tuple(s.value for s in AssignmentStatus)]
TaskKind = Literal[tuple(k.value for k in Kind)]
CLOCK_KINDS = ("response", "resolution")
ALERT_LEVELS = ("info", "warning", "critical")
UtcTime = Annotated[str, Field(json_schema_extra={"format": "date-time"}, examples=["2025-03-04T09:30:00Z"])]
TaskType = Annotated[str, Field(description="The task's type (ticket tasks: ticket)", examples=["assessment"])]
ServiceArea = Annotated[str, Field(description="Its service area", examples=["cold-chain"])]
Priority = Annotated[Literal[tuple(p.value for p in PriorityLevel)], Field(description="Its priority", examples=["high"])]
Title = Annotated[str, Field(description="Its title", examples=["Check the vaccine fridge"])]

class Payload(BaseModel):
    """A payload: exactly these fields, each of exactly its JSON type."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _id(what: str) -> object:
    return Field(description=f"Id of the {what}")


class _TaskIds(Payload):
    task_id: int = _id("task")
    ticket_id: int | None = Field(description="Id of the task's ticket (null: a work item)")
    project_id: int = _id("project")


class TaskCreated(_TaskIds):
    kind: TaskKind = Field(description="ticket_task (made from a ticket, moves through its workflow's steps) "
                                       "or work_item (made by a person, an action plan or a rule)")
    external_id: str | None = Field(description="The ticket's id in the system it came from (null: a work item)",
                                     examples=["TCK-1042"])
    title: Title = Field(description="The task's title (empty for ticket tasks: see the ticket's subject)")
    status: TaskState = Field(description="Its state (new)")
    task_type: TaskType
    service_area: ServiceArea
    priority: Priority
    workflow_id: int | None = Field(description="Its workflow (ticket tasks)")
    step_id: int | None = Field(description="Its workflow step (ticket tasks)")
    created_by_id: int | None = Field(description="Who made it (null: intake or a rule)")
    assignee_id: int | None = Field(description="The user it is assigned to (work items)")
    assignees: list[int] = Field(description="Users working it: the step's round-robin picks, or the assignee")
    action_plan_id: int | None = Field(description="The action plan it belongs to")


def task_created_payload(task_id: int, project_id: int, *, kind: str, status: str, task_type: str,
                         service_area: str, priority: str, title: str = "", ticket_id: int | None = None, external_id: str | None = None,
                         workflow_id: int | None = None, step_id: int | None = None, created_by_id: int | None = None,
                         assignee_id: int | None = None, assignees: list[int] | None = None,
                         action_plan_id: int | None = None) -> dict:
    """The one TaskCreated payload, for both kinds of task (intake's ticket tasks, work items).
    `assignees` defaults to the assignee."""
    if assignees is None:
        assignees = [assignee_id] if assignee_id is not None else []
    return {"task_id": task_id, "kind": kind, "ticket_id": ticket_id, "external_id": external_id,
            "project_id": project_id, "title": title, "status": status, "task_type": task_type,
            "service_area": service_area, "priority": priority, "workflow_id": workflow_id, "step_id": step_id,
            "created_by_id": created_by_id, "assignee_id": assignee_id, "assignees": list(assignees),
            "action_plan_id": action_plan_id}


class TaskStatusChanged(_TaskIds):
    kind: TaskKind = Field(description="ticket_task or work_item")
    from_: TaskState = Field(alias="from", description="The state it left", examples=["new"])
    to: TaskState = Field(description="The state it entered", examples=["in_progress"])
    title: Title
    task_type: TaskType
    service_area: ServiceArea
    priority: Priority
    action_plan_id: int | None
    assignee_id: int | None
    actor_id: int | None = Field(description="Who changed it (null: a rule or the system)")
    reason: str = Field(description="Why (required for blocked and cancelled; may be empty otherwise)", examples=[""])


class TaskAssigned(_TaskIds):
    user_id: int = Field(description="The user put on the step")
    step_id: int = Field(description="The workflow step")
    actor_id: int = Field(description="The supervisor who assigned them")


class TaskReassigned(_TaskIds):
    step_id: int = Field(description="The workflow step")
    from_user_id: int = Field(description="The assignee who left the step (their assignment is now declined)")
    to_user_id: int | None = Field(description="Who took their place (null: nobody was free; the other "
                                               "assignees carry on)")
    how: Literal["declined", "reassigned", "handed_back"] = Field(
        description="declined by the assignee, reassigned by a lead, or handed back by someone going away")
    reason: str = Field(description="Why, as given", examples=["On a training course this week"])
    actor_id: int = Field(description="Who did it")


class TaskStepChanged(_TaskIds):
    from_step_id: int | None = Field(description="The step it left")
    to_step_id: int = Field(description="The step it is on now")
    actor_id: int = Field(description="Who moved it")
    assignees: list[int] = Field(description="Users picked round-robin for the new step")


class TaskUserStatusChanged(_TaskIds):
    user_id: int = Field(description="The assignee whose status changed")
    from_: AssignmentState = Field(alias="from", description="Their status before", examples=["assigned"])
    to: AssignmentState = Field(description="Their status now", examples=["in_progress"])
    actor_id: int = Field(description="Who changed it")


class NotificationRequested(_TaskIds):
    reason: Literal["task_completed"] = Field(description="What asks for it")
    subject: str = Field(description="The notification's subject line",
                         examples=["Ticket TCK-1042 resolved: Fridge not cooling"])
    user_ids: list[int] = Field(description="Users to notify")
    requester: str = Field(description="The ticket's requester", examples=["Ama Owusu"])


class _Clock(Payload):
    task_id: int = _id("task")
    sla_record_id: int = _id("SLA clock")
    kind: Literal[CLOCK_KINDS] = Field(description="response (until work starts) or resolution (until done)")
    project_id: int = _id("project")
    service_area: ServiceArea
    task_type: TaskType
    due_at: UtcTime = Field(description="When the clock is due (UTC)")
    target_minutes: int = Field(description="The clock's target")


class SlaWarning(_Clock):
    pass


class SlaBreached(_Clock):
    pass


class ActionPlanCreated(Payload):
    action_plan_id: int = _id("action plan")
    project_id: int = _id("project")
    service_area: ServiceArea
    title: Title
    created_by_id: int = Field(description="Who made it")


class ActionPlanStatusChanged(Payload):
    action_plan_id: int = _id("action plan")
    project_id: int = _id("project")
    title: Title
    service_area: ServiceArea
    from_: PlanState = Field(alias="from", description="The state it left", examples=["draft"])
    to: PlanState = Field(description="The state it entered", examples=["active"])
    actor_id: int | None = Field(description="Who changed it (null: a rule)")
    reason: str = Field(description="Why (may be empty)", examples=[""])


class CommentAdded(Payload):
    comment_id: int = _id("comment")
    project_id: int = _id("project")
    ticket_id: int | None = Field(description="The ticket it is on (null: a work item's)")
    external_id: str | None = Field(description="The ticket's id in the system it came from", examples=["TCK-1042"])
    task_id: int | None = Field(description="The task it is on (null: a ticket without a task yet)")
    author_id: int = Field(description="Who wrote it")
    visibility: Literal["internal", "reply"] = Field(description="internal: a note for the people working it; "
                                                                 "reply: to be sent to the requester")
    requester: str = Field(description="The ticket's requester (empty for a work item)", examples=["Ama Owusu"])
    body: str = Field(description="The text", examples=["The new battery arrives tomorrow."])


class AlertRaised(Payload):
    alert_id: int = _id("alert")
    project_id: int | None = Field(description="Its project (null: an event without one)")
    level: Literal[ALERT_LEVELS]
    title: Title
    message: str = Field(examples=["Task 42 is past its resolution target"])
    source: str = Field(description="What raised it, e.g. rule:12", examples=["rule:12"])
    entity_type: str | None = Field(description="What it is about (task, action_plan, …)", examples=["task"])
    entity_id: str | None = Field(description="Its id", examples=["42"])


class JobFailed(Payload):
    job_id: str = Field(description="The job's id", examples=["5b0c6a1e-8f7d-4c1e-9a57-0d1f3e2b6c44"])
    process_id: str = Field(description="The process that ran", examples=["eo-aggregate-import"])
    project_id: int | None = Field(description="Its project")
    status: Literal["failed"] = Field(description="Always failed")
    message: str = Field(description="What went wrong, in plain words")
    failed_step: str | None = Field(description="The step that failed (null: not a stepped process)")
    schedule_id: int | None = Field(description="The schedule that started it (null: launched by a person)")


@dataclass(frozen=True)
class EventType:
    name: str
    aggregate_type: str  # what the event's aggregate id identifies
    payload: type[Payload]
    about: str


EVENTS: dict[str, EventType] = {e.name: e for e in (
    EventType("TaskCreated", "task", TaskCreated, "A task was created: a ticket allocated at intake, or a work item "
              "made through the API, an action plan or a rule."),
    EventType("TaskStatusChanged", "task", TaskStatusChanged, "A task moved from one state to another."),
    EventType("TaskAssigned", "task", TaskAssigned, "A supervisor put a user on a ticket task's current step."),
    EventType("TaskReassigned", "task", TaskReassigned, "An assignee left a ticket task's current step (declined, "
              "reassigned or handed back) and, when someone was free, another took their place."),
    EventType("TaskStepChanged", "task", TaskStepChanged, "A ticket task moved to its workflow's next step."),
    EventType("TaskUserStatusChanged", "task", TaskUserStatusChanged,
              "An assignee's own status on a ticket task's current step changed."),
    EventType("NotificationRequested", "task", NotificationRequested,
              "A completed ticket task's workflow asks for a notification."),
    EventType("SlaWarning", "task", SlaWarning, "A task's SLA clock passed its warning time."),
    EventType("SlaBreached", "task", SlaBreached, "A task's SLA clock passed its due time."),
    EventType("ActionPlanCreated", "action_plan", ActionPlanCreated, "An action plan was created (draft)."),
    EventType("ActionPlanStatusChanged", "action_plan", ActionPlanStatusChanged,
              "An action plan moved from one state to another."),
    EventType("CommentAdded", "comment", CommentAdded, "Someone commented on a ticket or task: an internal note, "
              "or a reply for the requester (send it with a webhook)."),
    EventType("AlertRaised", "alert", AlertRaised, "An alert was raised by a rule or the system."),
    EventType("JobFailed", "job", JobFailed, "A job (a scheduled run included) failed."),
)}
EVENT_TYPES = tuple(EVENTS)
# The events whose aggregate is a task, or an action plan (a rule's transition action moves it).
TASK_EVENTS = frozenset(name for name, e in EVENTS.items() if e.aggregate_type == "task")
PLAN_EVENTS = frozenset(name for name, e in EVENTS.items() if e.aggregate_type == "action_plan")
# What every event has besides its payload (rule conditions may test these too).
ENVELOPE_FIELDS = {"event_type": "The event's type", "aggregate_type": "What aggregate_id identifies",
                   "aggregate_id": "Id of the task, action plan or alert", "depth": "Steps from the first event of "
                   "its chain (0: made by a person or the system)", "correlation_id": "Shared by a chain of events"}


class UnknownEvent(ValueError):
    """A producer wrote an event the catalogue does not list, or a payload of another shape."""


def example_payload(event_type: str, **values) -> dict:
    """A payload of this type that follows the catalogue (for the docs and tests): each field's example,
    else a value of its type; `values` replace some."""
    out = {}
    for name, prop in payload_schema(event_type)["properties"].items():
        out[name] = values[name] if name in values else _example(prop)
    unknown = set(values) - set(out)
    if unknown:
        raise UnknownEvent(f"{event_type} has no field {', '.join(sorted(unknown))}")
    return out


def _example(prop: dict):
    if "examples" in prop:
        return prop["examples"][0]
    if "anyOf" in prop:
        return _example(next(p for p in prop["anyOf"] if p.get("type") != "null"))
    if "enum" in prop:
        return prop["enum"][0]
    if "const" in prop:
        return prop["const"]
    return {"integer": 1, "string": "text", "array": [], "boolean": False}.get(prop.get("type"))


def check_event(event_type: str, aggregate_type: str, payload: dict | None = None) -> None:
    """Raise UnknownEvent unless the type is catalogued with this aggregate and (when given) the
    payload has exactly its schema's fields and types."""
    spec = EVENTS.get(event_type)
    if spec is None:
        raise UnknownEvent(f"{event_type!r} is not in the event catalogue (app/services/platform/events.py)")
    if aggregate_type != spec.aggregate_type:
        raise UnknownEvent(f"{event_type} is about a {spec.aggregate_type}, not a {aggregate_type}")
    if payload is not None:
        try:
            spec.payload.__pydantic_validator__.validate_python(payload)
        except ValidationError as exc:
            raise UnknownEvent(f"{event_type} payload does not match the catalogue: {exc}") from None


@cache
def payload_schema(event_type: str) -> dict:
    """The JSON Schema of an event type's payload (its description says what the event means)."""
    spec = EVENTS[event_type]
    schema = spec.payload.model_json_schema(by_alias=True)
    schema.update(title=event_type, description=spec.about)
    schema["x-aggregate-type"] = spec.aggregate_type
    return schema


@dataclass(frozen=True)
class FieldDoc:
    name: str
    type: str  # e.g. "integer", "integer or null", "one of new, in_progress, …", "list of integer"
    description: str


def _type_label(prop: dict) -> str:
    if "anyOf" in prop:
        return " or ".join(_type_label(p) for p in prop["anyOf"])
    if "enum" in prop:
        return "one of " + ", ".join(map(str, prop["enum"]))
    if "const" in prop:
        return f'"{prop["const"]}"'
    if prop.get("type") == "array":
        return "list of " + _type_label(prop.get("items", {}))
    if prop.get("format") == "date-time":
        return "UTC time (ISO 8601)"
    return str(prop.get("type", "any"))


@cache
def payload_fields(event_type: str) -> tuple[FieldDoc, ...]:
    """The payload fields of an event type, in schema order (none for a type not catalogued)."""
    if event_type not in EVENTS:
        return ()
    props = payload_schema(event_type)["properties"]
    return tuple(FieldDoc(name, _type_label(prop), prop.get("description", "")) for name, prop in props.items())


def condition_fields(event_type: str) -> list[FieldDoc]:
    """What a rule condition on this event type can test: `payload.<field>` and the envelope."""
    return ([FieldDoc(f"payload.{f.name}", f.type, f.description) for f in payload_fields(event_type)]
            + [FieldDoc(name, "", about) for name, about in ENVELOPE_FIELDS.items()])


def carries(event_type: str, path: str) -> bool:
    """Whether events of this type have the field at this dotted path (`payload.<field>…` or an
    envelope field); only the first level of the payload is checked."""
    head, _, rest = path.partition(".")
    if head != "payload":
        return head in ENVELOPE_FIELDS and not rest
    name = rest.partition(".")[0]
    return not name or any(f.name == name for f in payload_fields(event_type))


def catalogue() -> list[tuple[EventType, tuple[FieldDoc, ...]]]:
    """Every event type with its payload fields, in catalogue order (the webhook docs)."""
    return [(spec, payload_fields(name)) for name, spec in EVENTS.items()]
