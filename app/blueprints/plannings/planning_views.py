"""Planning pages: the list, the create/edit form (OpenHEXA's pipelines loaded after the page),
publish, delete, and the assignment map page with its tables. Parse → one service call → render."""
import json

from flask import flash, jsonify, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import page_query
from app.blueprints.plannings.blueprint import bp
from app.blueprints.rendering import page_or_partial
from app.web_delivery import revalidated
from app.schemas.planning import AssignmentsQuery, PlanningListFilters, PlanningMapQuery
from app.services.planning import planning_pages as pages
from app.services.planning import plannings as svc


def _form_data() -> dict:
    data = {k: v for k, v in request.form.items() if k not in ("csrf_token", "forms", "pipeline_uuids")}
    data["forms"] = request.form.getlist("forms")
    data["pipeline_uuids"] = request.form.getlist("pipeline_uuids")
    return data


def _form_page(form: pages.PlanningForm, status: int = 200):
    return render_template("plannings/form.html", **vars(form)), status


@bp.get("/")
@login_required
def index():
    listing = pages.planning_list(current_user, page_query(PlanningListFilters))
    return page_or_partial("plannings/index.html", "plannings/_list.html", **vars(listing))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    if request.method == "GET":
        return _form_page(pages.planning_form(current_user))
    saved = pages.save_planning_form(current_user, _form_data())
    if saved.form is not None:
        return _form_page(saved.form, 400)
    flash(f"Planning '{saved.planning.name}' created.", "success")
    return redirect(url_for("plannings.detail", planning_id=saved.planning.id))


@bp.route("/<int:planning_id>/edit", methods=["GET", "POST"])
@login_required
def edit(planning_id: int):
    if request.method == "GET":
        return _form_page(pages.planning_form(current_user, planning_id))
    saved = pages.save_planning_form(current_user, _form_data(), planning_id)
    if saved.form is not None:
        return _form_page(saved.form, 400)
    flash("Planning saved.", "success")
    return redirect(url_for("plannings.detail", planning_id=planning_id))


@bp.get("/pipeline-choices")
@login_required
def pipeline_choices():
    """The form's pipeline picker with OpenHEXA's list: loaded by the form after the page."""
    choices = pages.pipeline_choices(current_user, request.args.getlist("pipeline_uuids"))
    return render_template("plannings/_pipeline_choices.html", choices=choices)


@bp.post("/<int:planning_id>/publish")
@login_required
def publish(planning_id: int):
    planning = svc.publish_planning(current_user, planning_id, request.form.get("published", "1") == "1")
    flash("Planning published." if planning.published_at else "Planning back to draft.", "success")
    return redirect(url_for("plannings.detail", planning_id=planning_id))


@bp.post("/<int:planning_id>/delete")
@login_required
def delete(planning_id: int):
    svc.delete_planning(current_user, planning_id)
    flash("Planning deleted.", "success")
    return redirect(url_for("plannings.index"))


# --- the assignment map page ---------------------------------------------------------------------

@bp.get("/<int:planning_id>")
@login_required
def detail(planning_id: int):
    query = page_query(PlanningMapQuery)
    shapes = url_for("plannings.map_shapes", planning_id=planning_id, type=query.type)
    page = pages.planning_page(current_user, planning_id, query, shapes)
    return page_or_partial("plannings/detail.html", "plannings/_map.html", **vars(page))


@bp.get("/<int:planning_id>/map/shapes")
@login_required
def map_shapes(planning_id: int):
    """The map's compact geometry (see `assignment_map.map_shapes`), revalidated with its ETag."""
    return revalidated(jsonify(pages.map_shapes(current_user, planning_id, page_query(PlanningMapQuery))))


@bp.get("/<int:planning_id>/assignments")
@login_required
def assignments_table(planning_id: int):
    table = pages.assignments_table(current_user, planning_id, page_query(AssignmentsQuery))
    return page_or_partial("plannings/assignments.html", "plannings/_assignments.html", **vars(table))


@bp.get("/<int:planning_id>/assignees")
@login_required
def assignees(planning_id: int):
    return render_template("plannings/_assignees.html", **vars(pages.assignees_panel(current_user, planning_id)))


@bp.post("/<int:planning_id>/map/assign")
@login_required
def map_assign(planning_id: int):
    """Click on the map: assign the unit to the selected team/user, or remove it if already theirs."""
    click = pages.click_on_map(current_user, planning_id, request.form.get("org_unit_id"),
                               request.form.get("assignee", ""))
    response = make_response(render_template("plannings/_assignees.html", **vars(click.panel)))
    response.headers["HX-Trigger"] = json.dumps({"assignment-changed": click.event})
    return response


@bp.post("/<int:planning_id>/assignments/delete")
@login_required
def delete_assignments(planning_id: int):
    deleted = pages.clear_assignments(current_user, planning_id)
    flash(f"{deleted} assignment(s) deleted.", "success")
    return redirect(url_for("plannings.detail", planning_id=planning_id))
