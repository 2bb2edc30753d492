"""The seed ticket/task API's JSON shapes (/api/tickets/..., /tasks/api/tasks/...): tickets, intake
outcomes and batches, ticket tasks (the seed's TaskSerializer fields, plus ours) and their assignees.
Error bodies are built in `app/errors.py`."""
from __future__ import annotations

from app.blueprints.api.serializers import iso
from app.models import Task, Ticket, User
from app.services.helpdesk.intake import Outcome, summarize_outcomes
from app.services.helpdesk.ticket_tasks import allowed_actions, current_assignments
from app.services.helpdesk.ticket_batches import TicketBatch
from app.services.orchestration.state_machines import TASK


SEED_STATUS = {state: seed for seed, state in TASK.aliases.items()}  # new → pending, blocked → on_hold


def seed_status(state: str) -> str:
    """A task's status in the seed's vocabulary (pending, in_progress, on_hold, completed, cancelled)."""
    return SEED_STATUS.get(state, state)


def assignees_json(assignments) -> list[dict]:
    """The seed's user assignment objects: {userID, username, status, assigned_on, role} (+ reason)."""
    return [{"userID": a.user_id, "username": a.username, "status": a.status,
             "assigned_on": a.assigned_on.isoformat().replace("+00:00", "Z"), "role": a.role_name, "reason": a.reason}
            for a in assignments]


def task_assignees_json(task: Task) -> list[dict]:
    """The seed's `users` list for the current step."""
    return assignees_json(current_assignments(task))


def assignees_by_status_json(task: Task, status: str | None, assignments) -> dict:
    return {"task_id": task.id, "status": status, "users": assignees_json(assignments)}


def ticket_task_json(task: Task, user: User | None = None) -> dict:
    """A ticket task as the seed's API serves it."""
    step, ticket, workflow = task.current_step, task.ticket, task.workflow
    steps = workflow.steps if workflow is not None else []
    out = {
        "id": task.id, "task_id": task.id, "kind": task.kind, "project_id": task.project_id,
        "ticket_id": task.ticket_id, "ticket_external_id": ticket.external_id, "ticket_subject": ticket.subject,
        "workflow_id": task.workflow_id, "workflow_name": workflow.name if workflow else None,
        "current_step": step.id if step else None, "current_step_name": step.name if step else None,
        "current_step_role": step.role.name if step else None,
        "current_step_order": next((i for i, s in enumerate(steps, start=1) if step and s.id == step.id), None),
        "steps_count": len(steps), "status": seed_status(task.status), "state": task.status,
        "priority": task.priority, "due_date": iso(task.due_at), "fetched_at": iso(task.fetched_at),
        "users": task_assignees_json(task), "created_at": iso(task.created_at), "updated_at": iso(task.updated_at),
        "completed_at": iso(task.completed_at),
    }
    out["assigned_users_count"] = len(out["users"])
    if user is not None:
        out["allowed_actions"] = allowed_actions(task, user)
    return out


def work_item_json(task: Task, user: User | None = None) -> dict:
    """A work item (no ticket, no workflow) on the seed's API: its own fields, the seed's names where
    they exist (`task_id`, `due_date`)."""
    out = {
        "id": task.id, "task_id": task.id, "kind": task.kind, "project_id": task.project_id, "title": task.title,
        "description": task.description, "task_type": task.task_type, "service_area": task.service_area,
        "action_plan_id": task.action_plan_id, "created_by_id": task.created_by_id, "assignee_id": task.assignee_id,
        "status": seed_status(task.status), "state": task.status, "priority": task.priority,
        "due_date": iso(task.due_at), "created_at": iso(task.created_at), "updated_at": iso(task.updated_at),
        "completed_at": iso(task.completed_at),
    }
    if user is not None:
        out["allowed_actions"] = allowed_actions(task, user)
    return out


TASK_JSON = {"ticket_task": ticket_task_json, "work_item": work_item_json}  # by TaskKind


def task_json(task: Task, user: User | None = None) -> dict:
    """A task of either kind, by its kind's serializer."""
    return TASK_JSON[task.kind](task, user)


def ticket_task_action_json(task: Task, message: str, user: User) -> dict:
    """The answer to a task action: what happened and the task as it is now."""
    return {"success": True, "message": message, "task": task_json(task, user)}


def ticket_json(ticket: Ticket, with_task: bool = True) -> dict:
    out = {
        "id": ticket.id, "external_id": ticket.external_id, "ticket_number": ticket.external_id,
        "project_id": ticket.project_id, "subject": ticket.subject, "description": ticket.description,
        "department": ticket.department, "category": ticket.category, "sub_category": ticket.sub_category,
        "priority": ticket.priority, "requester": ticket.requester, "received_at": iso(ticket.received_at),
        "due_date": iso(ticket.due_at), "is_task_allocated": ticket.is_task_allocated,
        "allocation_status": ticket.allocation_status, "allocation_error": ticket.allocation_error,
        "allocation_attempts": ticket.allocation_attempts, "next_allocation_at": iso(ticket.next_allocation_at),
        "workflow_id": ticket.workflow_id, "workflow_name": ticket.workflow.name if ticket.workflow else None,
        "created_at": iso(ticket.created_at), "updated_at": iso(ticket.updated_at),
    }
    if with_task:
        task = ticket.task
        out["task"] = None if task is None else {
            "id": task.id, "status": seed_status(task.status), "state": task.status,
            "current_step_name": task.current_step.name,
            "users": task_assignees_json(task)}
    return out


def intake_outcome_json(outcome: Outcome, ticket_url: str) -> dict:
    """One ticket's intake outcome, linked to the ticket."""
    return {**outcome.as_dict(), "_links": {"ticket": ticket_url}}


def batch_summary_json(outcomes: list[Outcome]) -> dict:
    """A batch processed in the request: counts by action and allocation status, and every outcome
    (the same summary a queued batch's job returns)."""
    return summarize_outcomes(outcomes)


def queued_batch_json(job_id: str, batch_url: str, job_url: str) -> dict:
    return {"id": job_id, "status": "queued", "_links": {"self": batch_url, "job": job_url}}


def ticket_batch_json(batch: TicketBatch, batch_url: str, job_url: str) -> dict:
    """A queued batch: its status, progress and, once finished, its summary; a failed or stopped one
    says so. Linked to its job (OGC statusInfo for JSON clients, the job page for browsers)."""
    body = {"id": batch.id, "status": batch.status, "count": batch.count, "enqueued_at": batch.enqueued_at.isoformat(),
            "progress": batch.progress,
            "_links": {"self": batch_url, "job": job_url}}
    if batch.result is not None:
        body["result"] = batch.result
    elif batch.status in ("failed", "canceled"):
        body["error"] = (f"The batch {'failed' if batch.status == 'failed' else 'was stopped'}: {batch.message} "
                         "Tickets received before that are stored; sending the batch again is safe (tickets are "
                         "matched by their external id and never get a second task).")
    return body


def availability_json(view, handed_back: list | None = None, allocated: int | None = None) -> dict:
    """An agent's availability (`availability.Availability`), and what a change did."""
    return {"user_id": view.user.id, "username": view.user.username, "away": view.away, "note": view.note,
            "available": not view.absent_today, "absent_today": view.absent_today,
            "leaves": [{"id": leave.id, "starts_on": leave.starts_on.isoformat(), "ends_on": leave.ends_on.isoformat(),
                        "note": leave.note} for leave in view.leaves],
            "handed_back": [task_id for task_id, _ in handed_back] if handed_back is not None else None,
            "allocated": allocated}


def comment_json(comment) -> dict:
    return {"id": comment.id, "ticket_id": comment.ticket_id, "task_id": comment.task_id,
            "author_id": comment.author_id, "author": comment.author.username if comment.author else "",
            "visibility": comment.visibility, "body": comment.body,
            "created_at": comment.created_at.isoformat().replace("+00:00", "Z")}
