"""The sampling dialog (levels, exceptions picked by name, criteria, seed) and past sampling runs."""
from flask import render_template, request
from flask_login import current_user, login_required
from sqlalchemy import select

from app.blueprints.jobs import panel_response
from app.blueprints.plannings import bp
from app.blueprints.rendering import page_or_partial
from app.extensions import db
from app.models import Job, OrgUnit, OrgUnitType
from app.services.planning import plannings as svc
from app.services.planning import sampling
from app.services.planning import openhexa
from app.services.platform.errors import DomainError, ValidationFailed
from app.services.planning.openhexa_client import OpenHexaError
from app.services.planning.pipeline_choices import describe, launch_for_planning
from app.services.processing.jobs import visible_jobs_filter


def _level_types(planning, parent_type_id: int | None) -> list[OrgUnitType]:
    parent = db.session.get(OrgUnitType, parent_type_id) if parent_type_id else planning.org_unit.org_unit_type
    if parent is None or parent.project_id != planning.project_id:
        return []
    return list(parent.sub_unit_types)


def _levels_from_inputs(inputs: dict) -> list[dict]:
    """Dialog rows from a past run's inputs (for re-launching)."""
    levels = []
    types = inputs.get(sampling.TYPES) or []
    for i, type_id in enumerate(types):
        exceptions = (inputs.get(sampling.EXCEPTIONS) or [[]] * len(types))[i] or []
        names = dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(exceptions))).all()) if exceptions else {}
        levels.append({"type": type_id, "quantity": (inputs.get(sampling.QUANTITIES) or [])[i],
                       "exceptions": [{"id": e, "name": names.get(e, str(e))} for e in exceptions],
                       "criteria": (inputs.get(sampling.CRITERIA) or [None] * len(types))[i] or ""})
    return levels


def _dialog(planning, levels: list[dict], errors: dict | None = None, message: str | None = None,
            seed="", pipeline=None, status: int = 200, values: dict | None = None):
    parent = None
    rows = []
    for index, level in enumerate(levels):
        rows.append({**level, "index": index, "types": _level_types(planning, parent)})
        parent = int(level["type"]) if str(level.get("type") or "").isdigit() else None
    pipelines = describe(current_user, svc.available_pipelines(planning))
    chosen = next((p for p in pipelines if p["id"] == pipeline), pipelines[0])
    parameters = []
    if chosen["kind"] == "generic":
        try:
            parameters = openhexa.visible_parameters(openhexa.get_pipeline(current_user, chosen["id"]))
        except (OpenHexaError, DomainError) as exc:
            message = message or f"Could not read the pipeline's parameters: {exc}"
    html = render_template("plannings/_sample_dialog.html", planning=planning, levels=rows, errors=errors or {},
                           message=message, seed=seed, pipelines=pipelines, chosen=chosen, parameters=parameters,
                           values=values or {})
    return html, status


@bp.get("/<int:planning_id>/sample")
@login_required
def sample_dialog(planning_id: int):
    planning = svc.get_planning(current_user, planning_id)
    rerun = request.args.get("rerun")
    if rerun:
        job = db.session.execute(select(Job).where(Job.id == rerun, visible_jobs_filter(current_user))).scalar_one_or_none()
        if job is not None and job.process_id == "lqas-sampling":
            return _dialog(planning, _levels_from_inputs(job.inputs), seed=job.inputs.get("seed", ""))
    return _dialog(planning, [{"type": "", "quantity": 1, "exceptions": [], "criteria": ""}],
                   pipeline=request.args.get("pipeline"))


@bp.get("/<int:planning_id>/sample/level")
@login_required
def sample_level(planning_id: int):
    """One more level row; its types are the sub-types of the previous level's type."""
    planning = svc.get_planning(current_user, planning_id)
    index = request.args.get("index", 0, type=int)
    level = {"index": index, "type": "", "quantity": 1, "exceptions": [], "criteria": "",
             "types": _level_types(planning, request.args.get("parent_type", type=int))}
    return render_template("plannings/_sample_level.html", planning=planning, level=level, errors={})


@bp.get("/<int:planning_id>/sample/units")
@login_required
def sample_units(planning_id: int):
    """Units of a level's type under the planning root, by name: to pick exceptions."""
    planning = svc.get_planning(current_user, planning_id)
    type_id = request.args.get("type", type=int)
    query = (request.args.get("q") or "").strip()
    units = []
    if type_id and query:
        units = db.session.execute(
            select(OrgUnit).where(OrgUnit.org_unit_type_id == type_id, OrgUnit.path.like(planning.org_unit.path + "%"),
                                  OrgUnit.deleted_at.is_(None), OrgUnit.name.ilike(f"%{query}%"))
            .order_by(OrgUnit.name).limit(20)).scalars().all()
    return render_template("plannings/_sample_units.html", units=units, index=request.args.get("index", 0, type=int),
                           query=query)


def _parse_levels() -> tuple[list[dict], dict]:
    indexes = request.form.getlist("level_index")
    levels = []
    for i in indexes:
        levels.append({"type": request.form.get(f"type_{i}", ""), "quantity": request.form.get(f"quantity_{i}", ""),
                       "exceptions": [{"id": int(e), "name": e} for e in request.form.getlist(f"exceptions_{i}") if e.isdigit()],
                       "criteria": request.form.get(f"criteria_{i}", "")})
    params = {
        sampling.TYPES: [lv["type"] for lv in levels],
        sampling.QUANTITIES: [lv["quantity"] for lv in levels],
        sampling.EXCEPTIONS: [[e["id"] for e in lv["exceptions"]] for lv in levels],
        sampling.CRITERIA: [lv["criteria"] or "-" for lv in levels],
        "seed": request.form.get("seed", ""),
    }
    return levels, params


@bp.post("/<int:planning_id>/sample")
@login_required
def launch(planning_id: int):
    planning = svc.get_planning(current_user, planning_id)
    levels, params = _parse_levels()
    pipeline = request.form.get("pipeline") or svc.BUILTIN_PIPELINE
    values = {k[6:]: v for k, v in request.form.items() if k.startswith("param_")}
    try:
        job = launch_for_planning(current_user, planning, pipeline, params, values,
                                  openhexa.host_url_for(request.host_url))
    except ValidationFailed as exc:
        return _dialog(planning, levels, exc.details, exc.message, seed=params["seed"], pipeline=pipeline, status=422,
                       values=values)
    return panel_response(job)


@bp.get("/<int:planning_id>/runs")
@login_required
def runs(planning_id: int):
    planning = svc.get_planning(current_user, planning_id)
    jobs = sampling.sampling_runs(current_user, planning, limit=100)
    type_names = dict(db.session.execute(select(OrgUnitType.id, OrgUnitType.name)
                                         .where(OrgUnitType.project_id == planning.project_id)).all())
    return page_or_partial("plannings/runs.html", "plannings/_runs.html", planning=planning, jobs=jobs,
                           type_names=type_names, sampling=sampling)
