"""Action plan pages: list with filters, create form, detail with history and tasks, and the
Activate / Archive buttons (one `transition()` call; HTMX gets the state panel and a toast).
Parse → one service call → render."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data, page_query
from app.blueprints.rendering import is_partial_request, page_or_partial
from app.schemas.common import PageFilters
from app.schemas.workflow import ActionPlanIn, ActionPlanListFilters
from app.services.orchestration import action_plan_pages as pages

bp = Blueprint("action_plans", __name__, url_prefix="/action-plans")
ACTION_LABELS = {"active": "Activate", "archived": "Archive"}


@bp.context_processor
def _project_names() -> dict:
    return {"project_names": {p.id: p.name for p in current_user.projects} if current_user.is_authenticated else {}}


@bp.get("/")
@login_required
def index():
    listing = pages.action_plan_list(current_user, page_query(ActionPlanListFilters))
    return page_or_partial("action_plans/index.html", "action_plans/_table.html", **vars(listing))


def _form_page(form: pages.ActionPlanForm, status: int = 200):
    return render_template("action_plans/form.html", **vars(form)), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "GET":
        return _form_page(pages.action_plan_form(current_user))
    saved = pages.create_action_plan_from_form(current_user, form_data(ActionPlanIn))
    if saved.form is not None:
        return _form_page(saved.form, 400)
    flash(f"Action plan “{saved.plan.title}” created.", "success")
    return redirect(url_for(".detail", plan_id=saved.plan.id))


@bp.get("/<int:plan_id>")
@login_required
def detail(plan_id: int):
    page = pages.action_plan_page(current_user, plan_id, page_query(PageFilters).page)
    return render_template("action_plans/detail.html", labels=ACTION_LABELS, **vars(page))


@bp.post("/<int:plan_id>/transition")
@login_required
def change_state(plan_id: int):
    # Refusals (InvalidTransition, Forbidden, Conflict) go to app/errors.py: a toast for HTMX, a page otherwise.
    change = pages.change_plan_state(current_user, plan_id, request.form.get("to_state"),
                                     request.form.get("reason", ""))
    message = f"Action plan “{change.state.plan.title}” is now {change.to_state}."
    if is_partial_request():
        return render_template("action_plans/_transitioned.html", level="success", message=message, details={},
                               labels=ACTION_LABELS, **vars(change.state))
    flash(message, "success")
    return redirect(url_for(".detail", plan_id=plan_id))
