"""Automation (the rule and webhook pages): a rule — its structured condition (nested all / any / not
over field–op–value comparisons) and its actions, one model per action type in a union on `type` —
a webhook endpoint, and the filters of the alert and delivery lists.

Errors name the place: `actions.<n>.<field>` (the union's tag is not part of it), and every problem
of the condition under `condition`, its message naming where inside it is (the form has one place
for the condition)."""
from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator, Discriminator, Field, Tag, ValidationError, ValidationInfo, WithJsonSchema, field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.models import DeliveryStatus
from app.schemas.common import PRIORITIES, PageFilters, PriorityChoice, read_priority  # noqa: F401 (the editor's list)
from app.schemas.parsing import Input, Unchanged, field_errors
from app.schemas.types import Choice, Id, OptionalId, ProjectScope, Slug, Text, check_json_value, unstorable_text
from app.services.orchestration.conditions import OPS
from app.services.orchestration.state_machines import ACTION_PLAN, TASK
from app.services.platform.events import ALERT_LEVELS, EVENT_TYPES, PLAN_EVENTS, TASK_EVENTS, carries

ACTION_TYPES = ("create_task", "transition", "alert", "webhook")
TASK_TARGETS = tuple(TASK.targets)
PLAN_TARGETS = tuple(ACTION_PLAN.targets)
REASON_REQUIRED = tuple(sorted(TASK.reason_required | ACTION_PLAN.reason_required))
MAX_ACTIONS = 10
MAX_DEPTH = 8  # condition levels
MAX_NODES = 100  # condition parts
MAX_VALUES = 100  # values of one `in` list
PROJECT = ('Absent: your project (required when you have several). null or "*": every project '
           '(the platform operator only)')

EventType = Literal[EVENT_TYPES]


def transition_targets(event_type: str | None) -> tuple[str, ...]:
    """The states a rule on this event type may move the event's task or action plan to."""
    if event_type in TASK_EVENTS:
        return TASK_TARGETS
    if event_type in PLAN_EVENTS:
        return PLAN_TARGETS
    return ()


# --- the condition -------------------------------------------------------------------------------

_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
PRIMITIVES = "text (at most 500 characters), a number, true, false or null"


def _dotted_path(value: str) -> str:
    if not _PATH.match(value):
        raise ValueError(f"must be a dotted path like payload.priority, got {value!r}")
    return value


def _primitive(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 500 and unstorable_text(value) is None
    return value is None or isinstance(value, (bool, int))


def _comparison_value(value):
    """What a field is compared with: a primitive, or a list of them (for in and not_in)."""
    if isinstance(value, list):
        if len(value) > MAX_VALUES or not all(_primitive(item) for item in value):
            raise ValueError(f"must be a list of at most {MAX_VALUES} values, each {PRIMITIVES}")
    elif not _primitive(value):
        raise ValueError(f"must be {PRIMITIVES}, or a list of them")
    return value


DottedPath = Annotated[Text(200, min_length=1), AfterValidator(_dotted_path)]
Value = Annotated[Any, AfterValidator(_comparison_value), WithJsonSchema({"anyOf": [
    {"type": ["string", "number", "boolean", "null"]},
    {"type": "array", "maxItems": MAX_VALUES, "items": {"type": ["string", "number", "boolean", "null"]}}]})]


class Comparison(Input):
    """`{"field": "payload.priority", "op": "eq", "value": "high"}`: `value` is a list for in and
    not_in, and left out for exists."""

    field: DottedPath = Field(description="A dotted path like payload.priority")
    op: Choice(OPS)
    value: Value = Field(None, description="Compared with a `…priority` field, the seeds' priorities are read "
                                           "as ours (urgent = critical, normal = medium)")

    @model_validator(mode="before")
    @classmethod
    def _one_priority_vocabulary(cls, data):
        field = data.get("field") if isinstance(data, dict) else None
        if isinstance(field, str) and field.rsplit(".", 1)[-1].lower() == "priority" and "value" in data:
            value = data["value"]
            data = {**data, "value": [read_priority(v, v) for v in value] if isinstance(value, list)
                    else read_priority(value, value)}
        return data

    @model_validator(mode="after")
    def _value_fits_op(self):
        if self.op == "exists":
            return self
        if "value" not in self.model_fields_set:
            raise ValueError(f"'value' is required for '{self.op}'")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"'value' must be a list for '{self.op}'")
        return self


class AllOf(Input):
    all: list[Condition] = Field(min_length=1, max_length=MAX_NODES)


class AnyOf(Input):
    any: list[Condition] = Field(min_length=1, max_length=MAX_NODES)


class NotOf(Input):
    not_: Condition = Field(alias="not")


def _node_kind(node) -> str | None:
    if isinstance(node, dict):
        return next((tag for key, tag in (("all", "all_of"), ("any", "any_of"), ("not", "not_of")) if key in node),
                    "comparison")
    return {AllOf: "all_of", AnyOf: "any_of", NotOf: "not_of", Comparison: "comparison"}.get(type(node))


CONDITION_TAGS = ("all_of", "any_of", "not_of", "comparison")
Condition = Annotated[
    Union[Annotated[AllOf, Tag("all_of")], Annotated[AnyOf, Tag("any_of")], Annotated[NotOf, Tag("not_of")],
          Annotated[Comparison, Tag("comparison")]],
    Discriminator(_node_kind, custom_error_type="condition_node",
                  custom_error_message='must be an object: {"all": […]}, {"any": […]}, {"not": …} or '
                                       '{"field", "op", "value"}')]
for _model in (AllOf, AnyOf, NotOf):
    _model.model_rebuild()


def _check_shape(tree) -> None:
    """Refuse a condition too large or too deep before it is read (iteratively: no recursion)."""
    check_json_value(tree, "condition")
    stack, parts = [(tree, 1)], 0
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        parts += 1
        if parts > MAX_NODES:
            raise ValueError(f"has more than {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise ValueError(f"is nested more than {MAX_DEPTH} levels deep")
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                stack.extend((child, depth + 1) for child in node[key])
        if "not" in node:
            stack.append((node["not"], depth + 1))


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _read_condition(raw):
    """A condition as JSON text (the form's JSON mode) or as data; empty means none."""
    if isinstance(raw, str):
        if not raw.strip():
            return None
        try:
            raw = json.loads(raw, parse_constant=_no_constant)
        except RecursionError:
            raise ValueError(f"is nested more than {MAX_DEPTH} levels deep") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except ValueError as exc:
            raise ValueError(f"is not valid JSON ({exc})") from None
    if raw in (None, {}):
        return None
    _check_shape(raw)
    return raw


def _untagged(place: str) -> str:
    return ".".join(part for part in place.split(".") if part not in CONDITION_TAGS)


# --- actions -------------------------------------------------------------------------------------

class CreateTaskAction(Input):
    type: Literal["create_task"]
    title: Text(255, min_length=1) = Field(description="{payload.x} placeholders are filled from the event")
    task_type: Slug(40)
    service_area: Slug(40, spaces=True, blank=True) = Field("", description="Empty: the event's own")
    priority: PriorityChoice = "medium"
    description: Text(10_000) = ""


class TransitionAction(Input):
    """Move the event's task or action plan (a task or action plan event's)."""

    type: Literal["transition"]
    to: Choice(dict.fromkeys(TASK_TARGETS + PLAN_TARGETS))
    reason: Text(500) = Field("", validate_default=True, description=f"Required to go to {' or '.join(REASON_REQUIRED)}")
    skip_remaining_steps: bool = Field(False, description=(
        "To completed: also complete a ticket task before its workflow's last step (the steps left are skipped). "
        "Without it the rule does not complete such a task: the action's result in the rule's execution log "
        "says which steps remain."))

    @field_validator("reason")
    @classmethod
    def _reason_when_needed(cls, reason: str, info: ValidationInfo) -> str:
        if not reason and info.data.get("to") in REASON_REQUIRED:
            raise ValueError(f"is required to go to {info.data['to']}")
        return reason


class AlertAction(Input):
    type: Literal["alert"]
    level: Choice(ALERT_LEVELS) = "info"
    title: Text(255, min_length=1)
    message: Text(5000) = ""
    escalate: bool = Field(False, description=(
        "Escalate: the alert is critical, and the event's task (a task or SLA event's) becomes critical priority"))


class WebhookAction(Input):
    type: Literal["webhook"]
    endpoint_id: Id


def _action_type(action) -> str | None:
    return action.get("type") if isinstance(action, dict) else getattr(action, "type", None)


Action = Annotated[Union[Annotated[CreateTaskAction, Tag("create_task")], Annotated[TransitionAction, Tag("transition")],
                         Annotated[AlertAction, Tag("alert")], Annotated[WebhookAction, Tag("webhook")]],
                   Discriminator(_action_type)]


def _problem(loc: tuple, message: str, value: Any) -> dict:
    return {"type": PydanticCustomError("value_error", "{problem}", {"problem": message}), "loc": loc, "input": value}


def _action_errors(exc: ValidationError) -> list[dict]:
    """pydantic's errors of the action list, placed at `<n>.<field>`: the union's tag left out, and a
    missing or unknown type named as the `type` field."""
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for i, part in enumerate(error["loc"]) if i != 1 or part not in ACTION_TYPES)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            out.append(_problem(loc + ("type",), f"must be one of {', '.join(ACTION_TYPES)}", error["input"]))
        else:
            out.append({key: value for key, value in error.items() if key in ("type", "input", "ctx")} | {"loc": loc})
    return out


def _misplaced_transitions(raw, event_type: str | None) -> list[dict]:
    """Transition actions the rule's event cannot take: its event is about no task or action plan,
    or the target is a state of the other kind."""
    if event_type is None or not isinstance(raw, list):
        return []
    targets, problems = transition_targets(event_type), []
    for n, action in enumerate(raw):
        if _action_type(action) != "transition":
            continue
        to = action.get("to") if isinstance(action, dict) else action.to
        if not targets:
            problems.append(_problem((n, "type"), f"{event_type} is not about a task or an action plan", "transition"))
        elif to in TASK_TARGETS + PLAN_TARGETS and to not in targets:
            problems.append(_problem((n, "to"), f"must be one of {', '.join(targets)} for a "
                                     f"{'task' if targets is TASK_TARGETS else 'action plan'} event", to))
    return problems


def _fields(node) -> list[str]:
    """The field paths a parsed condition compares, in order."""
    if isinstance(node, Comparison):
        return [node.field]
    if node is None:
        return []
    children = node.all if isinstance(node, AllOf) else node.any if isinstance(node, AnyOf) else [node.not_]
    return [path for child in children for path in _fields(child)]


# --- the seed's spellings of a trigger (AutomationTrigger) -------------------------------------------

SEED_EVENT_TYPES = {"TaskStateChanged": "TaskStatusChanged", "ActionPlanStateChanged": "ActionPlanStatusChanged",
                    "SLABreached": "SlaBreached", "SLAWarning": "SlaWarning"}
SEED_FIELDS = {"new_state": "payload.to", "old_state": "payload.from"}  # event_data['new_state'] …


def _seed_condition_fields(node, event_type):
    """The seed's `event_data` names in a condition as our paths: new_state → payload.to, old_state →
    payload.from, and any other bare name the event's payload carries → payload.<name>."""
    if isinstance(node, list):
        return [_seed_condition_fields(item, event_type) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _seed_condition_fields(value, event_type) for key, value in node.items()}
    field = out.get("field")
    if isinstance(field, str) and "." not in field and "op" in out:
        if field in SEED_FIELDS:
            out["field"] = SEED_FIELDS[field]
        elif event_type and carries(event_type, f"payload.{field}"):
            out["field"] = f"payload.{field}"
    return out


def _seed_action(action):
    """The seed's `AutomationAction(action_type, parameters)` as one of ours: emit_alert → alert (its
    `alert_type` the title; `escalate` kept: a critical alert that escalates the task), create_task and
    the others by name."""
    if not isinstance(action, dict) or "action_type" not in action or "type" in action:
        return action
    params = action.get("parameters") if isinstance(action.get("parameters"), dict) else {}
    rest = {k: v for k, v in action.items() if k not in ("action_type", "parameters")}
    kind = action["action_type"]
    if kind in ("emit_alert", "alert"):
        escalate = params.get("escalate") is True
        alert = {"type": "alert", "title": params.get("title") or params.get("alert_type") or "Alert",
                 "message": params.get("message", ""), "level": params.get("level") or ("critical" if escalate else
                                                                                     "warning")}
        return {**alert, **({"escalate": True} if escalate else {}), **rest}
    return {"type": kind, **params, **rest}


# --- the rule ------------------------------------------------------------------------------------

class RuleIn(Input):
    """A rule, new or edited (the rule form): when an event of `event_type` matches `condition`, do
    `actions` in order."""

    name: Text(160, min_length=1)
    description: Text(2000) = ""
    project_id: ProjectScope = Unchanged(description=PROJECT)
    event_type: EventType
    condition: Condition | None = Field(None, description="Structured JSON (also as JSON text); none: every event")
    actions: list[Action] = Field(default_factory=list, max_length=MAX_ACTIONS)
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _seed_trigger(cls, data):
        """The seed's trigger spellings: its event names and its actions' `action_type`/`parameters`."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("event_type") in SEED_EVENT_TYPES:
            data["event_type"] = SEED_EVENT_TYPES[data["event_type"]]
        if isinstance(data.get("actions"), list):
            data["actions"] = [_seed_action(action) for action in data["actions"]]
        return data

    @field_validator("condition", mode="wrap")
    @classmethod
    def _condition(cls, raw, handler, info: ValidationInfo):
        raw = _seed_condition_fields(_read_condition(raw), info.data.get("event_type"))
        try:
            condition = handler(raw)
        except ValidationError as exc:
            raise ValidationError.from_exception_data("condition", [
                _problem((), f"{_untagged('condition.' + place) if place != 'body' else 'condition'}: {message}", raw)
                for place, messages in field_errors(exc).items() for message in messages]) from None
        event_type = info.data.get("event_type")
        unknown = [path for path in _fields(condition) if event_type and not carries(event_type, path)]
        if unknown:  # it could never match (or never fail): a typo, or a field of another event type
            raise ValidationError.from_exception_data("condition", [
                _problem((), f"condition: {event_type} events have no field {path} (see the suggestions)", raw)
                for path in dict.fromkeys(unknown)])
        return condition

    @field_validator("actions", mode="wrap")
    @classmethod
    def _actions(cls, raw, handler, info: ValidationInfo):
        problems = _misplaced_transitions(raw, info.data.get("event_type"))
        try:
            actions = handler(raw)
        except ValidationError as exc:
            placed = {problem["loc"] for problem in problems}
            problems += [error for error in _action_errors(exc) if error["loc"] not in placed]
        if problems:
            raise ValidationError.from_exception_data("actions", problems)
        return actions

    def condition_document(self) -> dict:
        """The condition as stored and evaluated ({} for none)."""
        return self.condition.model_dump(by_alias=True, exclude_unset=True) if self.condition else {}


# --- webhook endpoints and the list filters ------------------------------------------------------

class EndpointIn(Input):
    """A webhook endpoint, new or edited (its signing secret is Fieldflow's, never given)."""

    name: Text(160, min_length=1)
    url: Text(1000, min_length=1) = Field(description="A public http(s) URL")
    event_types: list[EventType] = Field(default_factory=list, max_length=len(EVENT_TYPES),
                                         description="The events it subscribes to (rules may send others)")
    project_id: ProjectScope = Unchanged(description=PROJECT)
    enabled: bool = True


class Toggle(Input):
    """Switch on or off (a rule, an endpoint)."""

    enabled: bool


class AlertFilters(PageFilters):
    level: Choice(ALERT_LEVELS) | None = None
    open: bool = Field(False, description="Only the alerts nobody acknowledged")


class DeliveryFilters(PageFilters):
    status: Choice(s.value for s in DeliveryStatus) | None = None
    endpoint: OptionalId = None


class NewAction(Input):
    """The rule form asks for the fields of one more action of this type."""

    new_action_type: Literal[ACTION_TYPES]
