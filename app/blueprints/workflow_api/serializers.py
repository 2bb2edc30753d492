"""The workflow API's JSON shapes (/api/workflow/...: tasks, action plans, transitions, SLA configs,
metadata, stats). Every answer carries `"success": true`; error bodies (`"success": false`) are
built in `app/errors.py`."""
from __future__ import annotations

from datetime import datetime

from app.models import ActionPlan, SlaConfig, StateTransition, Task, User
from app.services.orchestration.sla_configs import config_form
from app.services.orchestration.task_queries import step_assignee_ids
from app.services.orchestration.transitions import TransitionResult, allowed_transitions
from app.services.orchestration.work_items import action_plan_task_counts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def succeeded(body: dict) -> dict:
    """A successful answer: the body (a page of items, metadata, stats) marked `"success": true`."""
    return {"success": True, **body}


def _task_fields(task: Task, user: User | None) -> dict:
    return {
        "id": task.id, "kind": task.kind, "title": task.title, "description": task.description,
        "task_type": task.task_type, "service_area": task.service_area, "status": task.status,
        "priority": task.priority, "project_id": task.project_id, "ticket_id": task.ticket_id,
        "action_plan_id": task.action_plan_id, "created_by_id": task.created_by_id, "assignee_id": task.assignee_id,
        "assigned_to": task.assigned_to, "due_at": _iso(task.due_at), "due_date": _iso(task.due_at), "created_at": _iso(task.created_at), "updated_at": _iso(task.updated_at),
        "completed_at": _iso(task.completed_at),
        "allowed_transitions": allowed_transitions(task, user) if user is not None else [],
    }


def work_item_json(task: Task, user: User | None = None) -> dict:
    """A work item (no ticket)."""
    return _task_fields(task, user)


def ticket_task_json(task: Task, user: User | None = None) -> dict:
    """A ticket's task: titled by its ticket, with its workflow step and who is on it."""
    step = task.current_step
    return {**_task_fields(task, user), "title": task.title or task.ticket.subject,
            "ticket_external_id": task.ticket.external_id, "workflow_id": task.workflow_id,
            "current_step_id": task.current_step_id, "current_step_name": step.name if step else None,
            "step_assignee_ids": step_assignee_ids(task)}


TASK_JSON = {"ticket_task": ticket_task_json, "work_item": work_item_json}  # by TaskKind


def workflow_task_json(task: Task, user: User | None = None) -> dict:
    """A task of either kind, by its kind's serializer."""
    return TASK_JSON[task.kind](task, user)


def workflow_action_plan_json(plan: ActionPlan, user: User | None = None) -> dict:
    task_count = action_plan_task_counts([plan.id]).get(plan.id, 0)
    return {"id": plan.id, "title": plan.title, "description": plan.description, "service_area": plan.service_area,
            "status": plan.status, "project_id": plan.project_id, "created_by_id": plan.created_by_id,
            "created_at": _iso(plan.created_at), "activated_at": _iso(plan.activated_at),
            "archived_at": _iso(plan.archived_at), "goals": plan.goals or [], "metadata": plan.plan_metadata or {},
            "task_count": task_count,
            "allowed_transitions": allowed_transitions(plan, user) if user is not None else []}


def state_history_json(rows: list[StateTransition]) -> list[dict]:
    return [{"from": r.from_state, "to": r.to_state, "actor_id": r.actor_id, "reason": r.reason,
             "context": r.context, "correlation_id": r.correlation_id, "event_id": r.event_id,
             "at": r.at.isoformat().replace("+00:00", "Z")} for r in rows]


def task_created_json(task: Task, user: User) -> dict:
    return {"success": True, "message": f"Task {task.id} created", "task": workflow_task_json(task, user)}


def task_detail_json(task: Task, user: User, history: list[StateTransition], sla: dict | None) -> dict:
    return {"success": True, "task": workflow_task_json(task, user), "history": state_history_json(history),
            "sla": sla}


def action_plan_created_json(plan: ActionPlan, user: User) -> dict:
    return {"success": True, "message": f"Action plan {plan.id} created",
            "action_plan": workflow_action_plan_json(plan, user)}


def action_plan_detail_json(plan: ActionPlan, user: User, history: list[StateTransition]) -> dict:
    return {"success": True, "action_plan": workflow_action_plan_json(plan, user),
            "history": state_history_json(history)}


def transition_result_json(label: str, body: dict, result: TransitionResult) -> dict:
    """A changed task or action plan (`label`; `body` is its JSON, taken before the commit) and the
    transition that changed it."""
    return {"success": True, "message": f"{label.replace('_', ' ').capitalize()} {body['id']} is now "
            f"{result.to_state.replace('_', ' ')}", label: body,
            "transition": {"from": result.from_state, "to": result.to_state, "event_id": result.event_id,
                           "correlation_id": result.correlation_id}}


def transitions_batch_json(results: list[dict]) -> dict:
    """One result per requested transition, with how many were applied and refused."""
    applied = sum(1 for r in results if r["ok"])
    return {"success": applied == len(results), "message": f"{applied} of {len(results)} transitions applied",
            "applied": applied, "refused": len(results) - applied, "results": results}


def sla_config_json(config: SlaConfig) -> dict:
    return {"id": config.id, **config_form(config), "calendar": config.calendar.name if config.calendar else None,
            "target_minutes": config.resolution_minutes, "active": config.enabled,
            "scope": "global" if config.project_id is None else "project",
            "updated_at": config.updated_at.isoformat().replace("+00:00", "Z") if config.updated_at else None}


def sla_config_list_json(configs: list[SlaConfig]) -> dict:
    return {"success": True, "items": [sla_config_json(c) for c in configs]}


def sla_config_saved_json(config: SlaConfig, created: bool) -> dict:
    return {"success": True, "message": f"SLA config {config.id} {'created' if created else 'updated'}",
            "sla_config": sla_config_json(config)}
