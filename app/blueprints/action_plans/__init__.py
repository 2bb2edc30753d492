"""Action plan pages: list with filters, create form, detail with history and tasks, and the
Activate / Archive buttons (one `transition()` call; HTMX gets the state panel and a toast)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.rendering import is_partial_request, page_or_partial
from app.extensions import db
from app.models import Permission
from app.services.platform.permissions import require_permission
from app.services.orchestration import work_items as svc
from app.services.platform.errors import ValidationFailed
from app.services.orchestration.state_machines import ACTION_PLAN
from app.services.orchestration.transitions import allowed_transitions, transition

bp = Blueprint("action_plans", __name__, url_prefix="/action-plans")
PER_PAGE = 50
ACTION_LABELS = {"active": "Activate", "archived": "Archive"}


@bp.context_processor
def _project_names() -> dict:
    return {"project_names": {p.id: p.name for p in current_user.projects} if current_user.is_authenticated else {}}


@bp.get("/")
@login_required
def index():
    status = ACTION_PLAN.normalise(request.args.get("status"))
    area = (request.args.get("service_area") or "").strip().lower() or None
    page = db.paginate(svc.action_plans_query(current_user, status, area), page=request.args.get("page", 1, type=int),
                       per_page=PER_PAGE, error_out=False)
    return page_or_partial("action_plans/index.html", "action_plans/_table.html", page=page, status=status,
                           service_area=area or "", statuses=ACTION_PLAN.states,
                           task_counts=svc.action_plan_task_counts([p.id for p in page.items]),
                           can_create=current_user.has_permission(Permission.CREATE_ACTION_PLAN))


def _form(form, errors=None, status=200):
    return render_template("action_plans/form.html", form=form, errors=errors or {},
                           projects=current_user.projects), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    require_permission(current_user, Permission.CREATE_ACTION_PLAN)
    if request.method == "GET":
        return _form({"service_area": "general"})
    try:
        plan = svc.create_action_plan(current_user, request.form.to_dict())
    except ValidationFailed as exc:
        return _form(request.form, exc.details, 400)
    flash(f"Action plan “{plan.title}” created.", "success")
    return redirect(url_for(".detail", plan_id=plan.id))


def _state(plan) -> dict:
    """What the state panel shows: status, dates, allowed buttons, history."""
    return {"plan": plan, "history": svc.action_plan_history(plan), "labels": ACTION_LABELS,
            "allowed": allowed_transitions(plan, current_user)}


@bp.get("/<int:plan_id>")
@login_required
def detail(plan_id: int):
    plan = svc.get_action_plan(current_user, plan_id)
    tasks = db.paginate(svc.tasks_query(current_user, action_plan_id=plan.id),
                        page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    return render_template("action_plans/detail.html", tasks=tasks, **_state(plan))


@bp.post("/<int:plan_id>/transition")
@login_required
def change_state(plan_id: int):
    # Refusals (InvalidTransition, Forbidden, Conflict) go to app/errors.py: a toast for HTMX, a page otherwise.
    result = transition(current_user, "action_plan", plan_id, request.form.get("to_state"),
                        reason=request.form.get("reason", ""))
    message = f"Action plan “{result.entity.title}” is now {result.to_state}."
    if is_partial_request():
        return render_template("action_plans/_transitioned.html", level="success", message=message, details={},
                               **_state(result.entity))
    flash(message, "success")
    return redirect(url_for(".detail", plan_id=plan_id))
