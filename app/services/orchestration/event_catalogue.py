"""The event catalogue: every event type the outbox carries and the payload fields rules can test
(DESIGN: "every event type and its payload schema is listed in one event catalogue").

Rules listen to these types, webhook endpoints subscribe to them, the rule form suggests their fields.
"""
from __future__ import annotations

EVENT_TYPES = ("TaskCreated", "TaskStatusChanged", "ActionPlanCreated", "ActionPlanStatusChanged", "SlaWarning",
               "SlaBreached", "TaskAssigned", "TaskStepChanged", "NotificationRequested", "AlertRaised",
               "JobFailed")
# Hints for the condition builder (fields are "payload.<name>"); the event carries what it carries.
PAYLOAD_FIELDS = {
    "TaskStatusChanged": ("task_id", "from", "to", "task_type", "service_area", "priority", "project_id", "actor_id",
                          "reason"),
    "TaskCreated": ("task_id", "task_type", "service_area", "priority", "project_id", "created_by_id"),
    "ActionPlanStatusChanged": ("action_plan_id", "from", "to", "service_area", "project_id", "actor_id"),
    "SlaWarning": ("task_id", "kind", "service_area", "task_type", "due_at"),
    "SlaBreached": ("task_id", "kind", "service_area", "task_type", "due_at"),
    "JobFailed": ("job_id", "process_id", "project_id", "schedule_id", "failed_step", "message"),
}
EVENT_FIELDS = ("event_type", "aggregate_type", "aggregate_id", "depth", "correlation_id")
# The events whose aggregate is a task, or an action plan (a rule's transition action moves it).
TASK_EVENTS = frozenset({"TaskCreated", "TaskStatusChanged", "TaskAssigned", "TaskStepChanged", "SlaWarning",
                         "SlaBreached"})
PLAN_EVENTS = frozenset({"ActionPlanCreated", "ActionPlanStatusChanged"})


def payload_fields(event_type: str) -> list[str]:
    """Field paths the condition builder suggests for this event type."""
    return [f"payload.{name}" for name in PAYLOAD_FIELDS.get(event_type, ())] + list(EVENT_FIELDS)
