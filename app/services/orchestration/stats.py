"""What /api/workflow/metadata and /api/workflow/stats report."""
from __future__ import annotations

from sqlalchemy import func, or_, select

from app.extensions import db
from app.models import ActionPlan, AutomationRule, RuleExecution, Task, User
from app.services.platform.permissions import require_permission
from app.services.platform.access import project_scope
from app.services.platform.events import EVENT_TYPES, payload_schema
from app.services.orchestration.outbox_admin import outbox_counts
from app.services.orchestration.state_machines import TASK, metadata as machine_metadata
from app.schemas.workflow import PRIORITIES, TASK_TYPES


def metadata(user: User | None) -> dict:
    """States and transitions of both machines, task types, priorities, the event catalogue (each event
    type's payload schema) — what any client may know — and, for a user, the rules that apply to their
    projects (project data: none without a user)."""
    rules = []
    if user is not None:
        rules = db.session.execute(select(AutomationRule).where(
            or_(AutomationRule.project_id.is_(None), AutomationRule.project_id.in_(project_scope(user))))
            .order_by(AutomationRule.id)).scalars()
    return {"state_machines": machine_metadata(), "task_types": list(TASK_TYPES), "priorities": list(PRIORITIES),
            "rules": [{"id": r.id, "key": r.key, "name": r.name, "event_type": r.event_type, "enabled": r.enabled,
                       "condition": r.condition, "actions": r.actions, "built_in": r.key is not None} for r in rules],
            "events": {name: payload_schema(name) for name in EVENT_TYPES}}


def _grouped(*columns, where) -> list:
    return db.session.execute(select(*columns, func.count()).where(where).group_by(*columns)).all()


def stats(user: User) -> dict:
    """Counts for the caller's projects: tasks by state/type/area, action plans, automation, outbox, SLA."""
    require_permission(user, "VIEW_STATS")
    scope = project_scope(user)
    in_scope = Task.project_id.in_(scope)
    by_state = dict.fromkeys(TASK.states, 0)
    by_state.update(dict(_grouped(Task.status, where=in_scope)))
    by_area: dict = {}
    for area, state, n in _grouped(Task.service_area, Task.status, where=in_scope):
        by_area.setdefault(area, {})[state] = n
    fired = dict(db.session.execute(select(RuleExecution.outcome, func.count()).group_by(RuleExecution.outcome)).all())
    from app.services.orchestration import sla_reports

    return {
        "tasks": {"total": sum(by_state.values()), "by_state": by_state,
                  "by_type": dict(_grouped(Task.task_type, where=in_scope)), "by_service_area": by_area},
        "action_plans": {"by_state": dict(_grouped(ActionPlan.status, where=ActionPlan.project_id.in_(scope)))},
        "automation": {"executions_by_outcome": fired},
        "outbox": outbox_counts(),
        "sla": sla_reports.compliance_summary(user),
    }
