"""Planning pages: list, create/edit, publish, the assignment map, sampling dialog and past runs."""
from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.jobs import panel_response
from app.blueprints.rendering import page_or_partial
from app.extensions import db
from app.models import OrgUnit, Permission
from app.services.planning import assignments as assign_svc
from app.services.planning import plannings as svc
from app.services.planning import teams as team_svc
from app.services.platform.errors import ValidationFailed
from app.services.planning.orgunits import org_units_query

bp = Blueprint("plannings", __name__, url_prefix="/plannings")

from app.blueprints.plannings import sampling_views  # noqa: E402,F401


@bp.get("/")
@login_required
def index():
    status = request.args.get("status")
    stmt = svc.plannings_query(current_user, search=request.args.get("q"),
                               published={"published": True, "draft": False}.get(status))
    page = db.paginate(stmt, per_page=25, error_out=False)
    return page_or_partial("plannings/index.html", "plannings/_list.html", page=page, q=request.args.get("q", ""),
                           status=status, can_manage=current_user.has_permission(Permission.MANAGE_PLANNING))


def _form_context(form: dict, errors: dict, planning=None):
    teams = db.session.execute(team_svc.teams_query(current_user)).scalars().all()
    # Plannings are rooted at a country, region or district; deeper units are too small to plan.
    roots = db.session.execute(org_units_query(current_user).where(OrgUnit.depth <= 2)
                               .order_by(None).order_by(OrgUnit.path)).scalars().all()
    from app.services.planning.pipeline_choices import openhexa_pipelines

    return {"form": form, "errors": errors, "planning": planning, "teams": teams, "roots": roots,
            "openhexa_pipelines": openhexa_pipelines(current_user),
            "forms": db.session.execute(svc.forms_query(current_user)).scalars().all(),
            "projects": current_user.projects, "builtin": svc.BUILTIN_PIPELINE}


def _form_data() -> dict:
    data = {k: v for k, v in request.form.items() if k not in ("csrf_token", "forms", "pipeline_uuids")}
    data["forms"] = request.form.getlist("forms")
    data["pipeline_uuids"] = request.form.getlist("pipeline_uuids")
    return data


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    errors, form = {}, {"pipeline_uuids": [svc.BUILTIN_PIPELINE]}
    if request.method == "POST":
        form = _form_data()
        try:
            planning = svc.create_planning(current_user, form)
        except ValidationFailed as exc:
            errors = exc.details
        else:
            flash(f"Planning '{planning.name}' created.", "success")
            return redirect(url_for("plannings.detail", planning_id=planning.id))
    return render_template("plannings/form.html", **_form_context(form, errors)), 400 if errors else 200


@bp.route("/<int:planning_id>/edit", methods=["GET", "POST"])
@login_required
def edit(planning_id: int):
    planning = svc.get_planning(current_user, planning_id)
    errors = {}
    form = {"name": planning.name, "description": planning.description, "team_id": str(planning.team_id),
            "org_unit_id": str(planning.org_unit_id), "started_at": planning.started_at or "",
            "ended_at": planning.ended_at or "", "forms": [str(f.id) for f in planning.forms],
            "pipeline_uuids": planning.pipeline_uuids or []}
    if request.method == "POST":
        form = _form_data()
        try:
            svc.update_planning(current_user, planning_id, form)
        except ValidationFailed as exc:
            db.session.rollback()
            errors = exc.details
        else:
            flash("Planning saved.", "success")
            return redirect(url_for("plannings.detail", planning_id=planning_id))
    return render_template("plannings/form.html", **_form_context(form, errors, planning)), 400 if errors else 200


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
    from app.services.planning.assignment_map import build_map, display_types, lookups_json

    planning = svc.get_planning(current_user, planning_id)
    type_id = request.args.get("type", type=int)
    rendered = build_map(planning, type_id)
    context = {"planning": planning, "map": rendered, "lookups": lookups_json(rendered),
               "types": display_types(planning), "assignees": assign_svc.assignee_summary(planning),
               "count": assign_svc.live_count(planning.id), "pipelines": svc.available_pipelines(planning),
               "can_manage": current_user.has_permission(Permission.MANAGE_PLANNING),
               "table": _table_page(planning), "sort": request.args.get("sort", "org_unit")}
    return page_or_partial("plannings/detail.html", "plannings/_map.html", **context)


def _table_page(planning):
    stmt = assign_svc.assignments_query(planning.id, sort=request.args.get("sort", "org_unit"))
    return db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=25, error_out=False)


@bp.get("/<int:planning_id>/assignments")
@login_required
def assignments_table(planning_id: int):
    planning = svc.get_planning(current_user, planning_id)
    return page_or_partial("plannings/assignments.html", "plannings/_assignments.html", planning=planning,
                           table=_table_page(planning), sort=request.args.get("sort", "org_unit"))


@bp.get("/<int:planning_id>/assignees")
@login_required
def assignees(planning_id: int):
    planning = svc.get_planning(current_user, planning_id)
    return render_template("plannings/_assignees.html", planning=planning,
                           assignees=assign_svc.assignee_summary(planning),
                           count=assign_svc.live_count(planning.id),
                           can_manage=current_user.has_permission(Permission.MANAGE_PLANNING))


@bp.post("/<int:planning_id>/map/assign")
@login_required
def map_assign(planning_id: int):
    """Click on the map: assign the unit to the selected team/user, or remove it if already theirs."""
    import json

    planning = svc.get_planning(current_user, planning_id)
    result = assign_svc.toggle_assignment(current_user, planning, request.form.get("org_unit_id"),
                                          request.form.get("assignee", ""))
    response = assignees(planning_id)
    response = make_response(response)
    key = None if result is None else (f"team:{result.team_id}" if result.team_id else f"user:{result.user_id}")
    response.headers["HX-Trigger"] = json.dumps({"assignment-changed": {
        "org_unit": int(request.form.get("org_unit_id")), "assignee": key}})
    return response


@bp.post("/<int:planning_id>/assignments/delete")
@login_required
def delete_assignments(planning_id: int):
    planning = svc.get_planning(current_user, planning_id)
    deleted = assign_svc.bulk_delete(current_user, planning, source="web")
    flash(f"{deleted} assignment(s) deleted.", "success")
    return redirect(url_for("plannings.detail", planning_id=planning_id))


__all__ = ["bp", "panel_response"]
