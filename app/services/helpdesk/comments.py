"""Comments on tickets and tasks (internal notes, replies to the requester) and a ticket's history
timeline: received, allocated or waiting, assignments and hand-overs, state changes with their reasons,
and comments, oldest first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Comment, OutboxEvent, Permission, StateTransition, Task, Ticket, User
from app.schemas.ticket_tasks import CommentIn
from app.services.platform.access import get_scoped
from app.services.platform.outbox import emit_event
from app.services.platform.permissions import require_permission


def _add(user: User, ticket: Ticket | None, task: Task | None, data: CommentIn) -> Comment:
    require_permission(user, Permission.UPDATE_TASK)
    comment = Comment(project_id=(ticket or task).project_id, ticket_id=ticket.id if ticket else None,
                      task_id=task.id if task else None, author_id=user.id, visibility=data.visibility, body=data.body)
    db.session.add(comment)
    db.session.flush()
    emit_event("CommentAdded", "comment", comment.id, {
        "comment_id": comment.id, "project_id": comment.project_id, "ticket_id": comment.ticket_id,
        "external_id": ticket.external_id if ticket else None, "task_id": comment.task_id, "author_id": user.id,
        "visibility": data.visibility, "requester": ticket.requester if ticket else "", "body": data.body},
        correlation_id=f"ticket:{ticket.id}" if ticket else None)
    db.session.commit()
    return comment


def comment_on_ticket(user: User, ticket_id, data: CommentIn) -> Comment:
    """A comment on a ticket (and its task, if it has one)."""
    ticket = get_scoped(Ticket, ticket_id, user, "ticket")
    return _add(user, ticket, ticket.task, data)


def comment_on_task(user: User, task_id, data: CommentIn) -> Comment:
    """A comment on a task (and its ticket, for a ticket task)."""
    task = get_scoped(Task, task_id, user, "task")
    return _add(user, task.ticket, task, data)


def task_comments(user: User, task_id) -> list[Comment]:
    task = get_scoped(Task, task_id, user, "task")
    where = Comment.task_id == task.id if task.ticket_id is None else or_(Comment.task_id == task.id,
                                                                         Comment.ticket_id == task.ticket_id)
    return list(db.session.execute(select(Comment).where(where).order_by(Comment.created_at, Comment.id)).scalars())


def ticket_comments(user: User, ticket_id) -> list[Comment]:
    ticket = get_scoped(Ticket, ticket_id, user, "ticket")
    return _of_ticket(ticket)


def _of_ticket(ticket: Ticket) -> list[Comment]:
    where = Comment.ticket_id == ticket.id
    if ticket.task is not None:
        where = or_(where, Comment.task_id == ticket.task.id)
    return list(db.session.execute(select(Comment).where(where).order_by(Comment.created_at, Comment.id)).scalars())


def block_reason(task: Task | None) -> str:
    """Why a blocked task is blocked: the reason given when it was blocked last ("" otherwise)."""
    if task is None or task.status != "blocked":
        return ""
    return db.session.execute(select(StateTransition.reason).where(
        StateTransition.entity_type == "task", StateTransition.entity_id == task.id,
        StateTransition.to_state == "blocked").order_by(StateTransition.at.desc(), StateTransition.id.desc())
        .limit(1)).scalar() or ""


def block_reasons(tasks: list[Task]) -> dict[int, str]:
    """{task id: why it is blocked} for the blocked ones, in one query."""
    blocked = [t.id for t in tasks if t.status == "blocked"]
    out: dict[int, str] = {}
    if blocked:
        for task_id, reason in db.session.execute(
                select(StateTransition.entity_id, StateTransition.reason).where(
                    StateTransition.entity_type == "task", StateTransition.entity_id.in_(blocked),
                    StateTransition.to_state == "blocked").order_by(StateTransition.at, StateTransition.id)).all():
            out[task_id] = reason  # the latest wins
    return out


@dataclass(frozen=True)
class Moment:
    at: datetime
    kind: str  # received | state | assigned | handed_on | step | comment | reply | allocation
    who: str  # a username, or "" for the system
    text: str


def ticket_timeline(ticket: Ticket) -> list[Moment]:
    """The ticket's history, oldest first."""
    names = {}

    def who(user_id):
        if user_id is None:
            return ""
        if user_id not in names:
            user = db.session.get(User, user_id)
            names[user_id] = user.username if user else f"user {user_id}"
        return names[user_id]

    out = [Moment(ticket.created_at, "received", "", f"Received from {ticket.requester or 'the sender'}")]
    if ticket.allocation_status != "allocated" and ticket.allocation_error:
        out.append(Moment(ticket.updated_at, "allocation", "", ticket.allocation_error))
    task = ticket.task
    if task is not None:
        steps = {s.id: s.name for s in task.workflow.steps} if task.workflow else {}
        for a in task.assignments:
            out.append(Moment(a.assigned_on, "assigned", a.username, a.reason))
        for t in db.session.execute(select(StateTransition).where(
                StateTransition.entity_type == "task", StateTransition.entity_id == task.id)).scalars():
            text = f"{t.from_state.replace('_', ' ')} → {t.to_state.replace('_', ' ')}" + (
                f": {t.reason}" if t.reason else "")
            out.append(Moment(t.at, "state", who(t.actor_id), text))
        for e in db.session.execute(select(OutboxEvent).where(
                OutboxEvent.correlation_id == f"ticket:{ticket.id}",
                OutboxEvent.event_type.in_(("TaskReassigned", "TaskStepChanged")))).scalars():
            p = e.payload
            if e.event_type == "TaskReassigned":
                taker = f" → {who(p['to_user_id'])}" if p["to_user_id"] else " (nobody free)"
                out.append(Moment(e.created_at, "handed_on", who(p["actor_id"]),
                                  f"{p['how'].replace('_', ' ')}: {who(p['from_user_id'])}{taker} — {p['reason']}"))
            else:
                out.append(Moment(e.created_at, "step", who(p["actor_id"]), f"moved to step {steps.get(p['to_step_id'], p['to_step_id'])}"))
    for c in _of_ticket(ticket):
        out.append(Moment(c.created_at, "reply" if c.visibility == "reply" else "comment", who(c.author_id), c.body))
    return sorted(out, key=lambda m: m.at)
