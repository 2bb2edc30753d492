"""The task board: tasks by status column, with what each card shows loaded up front (assignees, SLA
clock, the actions the user may take), and the board's actions, each answered with the board."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.extensions import db
from app.models import AssignmentStatus, Task, TaskAssignment, TaskStatus, User, Workflow, utcnow
from app.schemas.helpdesk import BoardQuery
from app.schemas.parsing import validate_data
from app.schemas.ticket_tasks import ReassignIn, UserStatusIn
from app.services.helpdesk import ticket_tasks as svc
from app.services.helpdesk.availability import my_leaves
from app.services.helpdesk.comments import block_reasons
from app.services.helpdesk.deadlines import Deadline, at_risk_condition, breached_condition, deadlines
from app.services.helpdesk.round_robin import absences
from app.services.helpdesk.workflows import workflows_query
from app.services.orchestration.task_queries import tasks_query, with_related
from app.services.orchestration.state_machines import TASK
from app.services.orchestration.transitions import is_supervisor

COLUMNS = TASK.states
OPEN_LIMIT, CLOSED_LIMIT = 100, 20  # closed columns show the most recent only


@dataclass
class TaskBoard:
    columns: dict[str, list[Task]]  # status → tasks, newest first
    totals: dict[str, int]  # status → how many (columns show the first OPEN_LIMIT / CLOSED_LIMIT)
    allowed: dict[int, list[str]]  # task id → the board actions the user may take now
    assignees: dict[int, list[TaskAssignment]]  # task id → its current step's assignments
    deadlines: dict[int, Deadline]  # task id → what its card says about time (open tasks with a deadline)
    blocked_because: dict[int, str]  # task id → why it is blocked (blocked tasks)
    workflows: list[Workflow]
    mine: bool
    kind: str | None  # one kind only (TaskKind), or both
    workflow_id: int | None
    sla_filter: str | None  # at_risk | breached | None
    highlight: int | None
    actions: dict[str, tuple]  # action → (from state, to state, label): the buttons' labels
    assignment_statuses: list[str]  # what an assignee may set as their own status
    lead: bool = False  # may reassign anyone's step and set others away
    my_absence: str = ""  # why the caller takes no new work today ("away", "on leave until …"), or ""
    my_leaves: list = field(default_factory=list)  # the caller's leaves not over yet
    notice: str = ""  # what the action just done did (a toast)
    moved_to: str = ""  # the column the acted-on card is in now (narrow screens show that one)


def _columns(user: User, view: BoardQuery) -> tuple[dict, dict]:
    columns, totals = {}, {}
    now = utcnow()
    for status in COLUMNS:
        stmt = tasks_query(user, status=status, kind=view.kind, workflow_id=view.workflow_id, mine=view.mine)
        if view.sla:
            stmt = stmt.where((breached_condition if view.sla == "breached" else at_risk_condition)(now))
        totals[status] = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        limit = CLOSED_LIMIT if status in TASK.terminal else OPEN_LIMIT
        columns[status] = db.session.execute(with_related(stmt).limit(limit)).scalars().all()
    return columns, totals


def task_board(user: User, view: BoardQuery) -> TaskBoard:
    """The caller's projects' tasks by status column (newest first); `view.mine` keeps the tasks the
    caller is assigned to now, `view.kind` one kind."""
    columns, totals = _columns(user, view)
    tasks = [t for column in columns.values() for t in column]
    return TaskBoard(
        columns=columns, totals=totals, allowed={t.id: svc.allowed_actions(t, user) for t in tasks},
        assignees={t.id: svc.current_assignments(t) for t in tasks}, deadlines=deadlines(tasks),
        blocked_because=block_reasons(tasks),
        workflows=list(db.session.execute(workflows_query(user)).scalars()),
        mine=view.mine, kind=view.kind, workflow_id=view.workflow_id, sla_filter=view.sla, highlight=view.task, actions=svc.ACTIONS,
        assignment_statuses=[s.value for s in AssignmentStatus], lead=is_supervisor(user),
        my_absence="".join(absences([user.id], utcnow().date()).get(user.id, ())),
        my_leaves=my_leaves(user))


def reassign_on_board(user: User, task_id: int, form: dict, view: BoardQuery) -> TaskBoard:
    """Decline one's own step (or, a lead, hand someone's on) with the reason the button asked for;
    the board after it."""
    svc.get_task(user, task_id)
    task = svc.reassign(user, task_id, validate_data(ReassignIn, form, "Cannot reassign"))
    taker = [a.username or str(a.user_id) for a in svc.current_assignments(task) if a.status == "assigned"]
    return _after(user, task, view, f"Task {task.id} handed on" + (f"; on it now: {', '.join(taker)}." if taker
                                                                     else "; nobody else was free."))


def act_on_task(user: User, task_id: int, action: str, reason: str, view: BoardQuery,
                skip_remaining_steps: bool = False) -> TaskBoard:
    """Take a board action (start, block, resume, next_step, complete, cancel); the board after it, the
    card highlighted in its new column and a toast saying what happened.
    `skip_remaining_steps`: Complete's confirmation at an early step (the button asks first)."""
    task = svc.perform_action(user, task_id, action, reason, skip_remaining_steps)
    if action == "next_step" and task.status != TaskStatus.COMPLETED.value:
        notice = f"Task {task.id} moved to step '{task.current_step.name}'."
    else:
        notice = f"Task {task.id} is now {task.status.replace('_', ' ')}."
    return _after(user, task, view, notice)


def _after(user: User, task: Task, view: BoardQuery, notice: str) -> TaskBoard:
    board = task_board(user, view.model_copy(update={"task": task.id}))
    board.notice, board.moved_to = notice, task.status
    return board


def set_my_status(user: User, task_id: int, status: str | None, view: BoardQuery) -> TaskBoard:
    """Set the caller's own status on the task's current step; the board after it. The task is looked up
    before the form is read: another project's task is a 404 whatever was posted."""
    svc.get_task(user, task_id)
    assignment = svc.update_user_status(user, task_id, validate_data(
        UserStatusIn, {"user_id": user.id, "status": status}, "Cannot update your status"))
    return _after(user, assignment.task, view, f"Your status on task {task_id} is now {assignment.status.replace('_', ' ')}.")
