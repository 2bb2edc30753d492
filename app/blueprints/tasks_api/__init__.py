"""The seed's task API under /tasks/api/tasks/ (Bearer only). Errors use the workflow family's shape,
`{"success": false, "message", "error_code", "details"}` (STYLE 8), built in `app/errors.py`.
Parse → one service call → JSON."""
from flask import Blueprint, jsonify

from app.blueprints.api.pagination import paginated, paging
from app.blueprints.operations import operation
from app.blueprints.tickets_api.serializers import (
    assignees_by_status_json, comment_json, task_json, ticket_task_action_json,
)
from app.schemas.common import ListOf
from app.schemas.ticket_tasks import (
    ActionIn, AssigneesByStatus, AssigneeStatusQuery, AssignUserIn, CommentIn, CommentOut, CommentsOut, CompleteIn,
    ReassignIn, StatisticsQuery, TicketApiTaskOut, TicketRef, TicketTaskAction, TicketTaskFilters,
    UserStatusIn, WorkflowStatistics,
)
from app.security import api_user
from app.services.helpdesk import comments
from app.services.helpdesk import ticket_tasks as svc
from app.services.platform.paging import paginate

bp = Blueprint("tasks_api", __name__, url_prefix="/tasks/api/tasks")


def _ok(task, message: str, status: int = 200):
    return jsonify(ticket_task_action_json(task, message, api_user())), status


@bp.get("/")
@operation(query=TicketTaskFilters, responses={200: ListOf[TicketApiTaskOut]})
def tasks(query: TicketTaskFilters):
    """List tasks of both kinds (`kind`; `status` with the seed's aliases; `mine`, `user_id`: assigned now)"""
    user = api_user()
    return jsonify(paginated(paginate(svc.task_list_query(user, query), *paging(query)),
                             lambda t: task_json(t, user)))


@bp.get("/<int:task_id>/")
@operation(responses={200: TicketApiTaskOut})
def task(task_id: int):
    """A task (either kind) with the actions you may take; a ticket task with its assignees"""
    return jsonify(task_json(svc.fetch_task(api_user(), task_id), api_user()))


@bp.get("/<int:task_id>/users/")
@operation(query=AssigneeStatusQuery, responses={200: AssigneesByStatus})
def assigned_users(task_id: int, query: AssigneeStatusQuery):
    """The current step's assignees, in one status (the seed's get_assigned_users_by_status)"""
    task, assignments = svc.assigned_users_by_status(api_user(), task_id, query.status)
    return jsonify(assignees_by_status_json(task, query.status, assignments))


@bp.post("/create_task_for_ticket/")
@operation(body=TicketRef, responses={201: TicketTaskAction, 404: None, 409: None, 503: None})
def create_task_for_ticket(body: TicketRef):
    """Allocate a ticket that has no task yet"""
    return _ok(svc.create_task_for_ticket(api_user(), body.ticket_id), "Task created", 201)


@bp.post("/<int:task_id>/assign_user/")
@operation(body=AssignUserIn, responses={200: TicketTaskAction, 409: None})
def assign_user(task_id: int, body: AssignUserIn):
    """Assign a user to the task's current step (supervisors)"""
    assignment = svc.assign_user(api_user(), task_id, body)
    return _ok(assignment.task, f"User {assignment.user_id} assigned")


@bp.post("/<int:task_id>/update_user_status/")
@operation(body=UserStatusIn, responses={200: TicketTaskAction})
def update_user_status(task_id: int, body: UserStatusIn):
    """Set an assignee's status (that user, or a supervisor)"""
    assignment = svc.update_user_status(api_user(), task_id, body)
    return _ok(assignment.task, f"User {assignment.user_id} is now {assignment.status}")


@bp.post("/<int:task_id>/complete_task/")
@bp.post("/<int:task_id>/complete/", endpoint="complete")
@operation(body=CompleteIn, body_required=False, responses={200: TicketTaskAction, 409: None})
def complete_task(task_id: int, body: CompleteIn):
    """Complete the task and run its workflow's end logic (before its last step: with skip_remaining_steps)"""
    return _ok(svc.complete_task(api_user(), task_id, body.reason, body.skip_remaining_steps), "Task completed")


@bp.post("/<int:task_id>/move_to_next_step/")
@operation(responses={200: TicketTaskAction, 409: None, 503: None})
def move_to_next_step(task_id: int):
    """Move the task to its workflow's next step (staffed round-robin); at the last step, complete it"""
    task = svc.move_to_next_step(api_user(), task_id)
    return _ok(task, "Task completed at its last step" if task.status == "completed"
               else f"Task moved to step '{task.current_step.name}'")


@bp.post("/<int:task_id>/<any(start, block, resume, cancel, next_step):action>/")
@operation(body=ActionIn, body_required=False, responses={200: TicketTaskAction, 409: None, 503: None})
def action(task_id: int, action: str, body: ActionIn):
    """The board's other actions: start, block, resume, cancel"""
    task = svc.perform_action(api_user(), task_id, action, body.reason)
    return _ok(task, f"Task {task.id} is now {task.status.replace('_', ' ')}")


@bp.get("/workflow_statistics/")
@operation(query=StatisticsQuery, responses={200: WorkflowStatistics})
def workflow_statistics(query: StatisticsQuery):
    """Task counts by status for each workflow, and ticket allocation counts"""
    return jsonify(svc.workflow_statistics(api_user(), query.project_id))


@bp.post("/<int:task_id>/reassign/")
@operation(body=ReassignIn, responses={200: TicketTaskAction, 409: None, 503: None})
def reassign(task_id: int, body: ReassignIn):
    """Leave the current step with a reason: decline your own assignment, or (leads) move someone's to
    `to_user_id`; otherwise the step's role picks who takes over"""
    return _ok(svc.reassign(api_user(), task_id, body), "Reassigned")


@bp.get("/<int:task_id>/comments/")
@operation(responses={200: CommentsOut})
def task_comments(task_id: int):
    """The comments on a task (and on its ticket), oldest first"""
    return jsonify([comment_json(c) for c in comments.task_comments(api_user(), task_id)])


@bp.post("/<int:task_id>/comments/")
@operation(body=CommentIn, responses={201: CommentOut})
def comment_on_task(task_id: int, body: CommentIn):
    """Comment on a task: an internal note, or a reply to its ticket's requester"""
    return jsonify(comment_json(comments.comment_on_task(api_user(), task_id, body))), 201
