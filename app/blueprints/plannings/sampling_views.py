"""The sampling dialog (levels, exceptions picked by name, criteria, seed), the parts it loads
after it opens (OpenHEXA pipeline names and definition), and past sampling runs."""
from flask import render_template, request
from flask_login import current_user, login_required

from app.blueprints.jobs import panel_response
from app.blueprints.plannings.blueprint import bp
from app.blueprints.rendering import page_or_partial
from app.services.planning import sample_dialog as dialogs


def _dialog(dialog: dialogs.SampleDialog, status: int = 200):
    return render_template("plannings/_sample_dialog.html", **vars(dialog)), status


def _dialog_form() -> dialogs.DialogForm:
    levels = [dialogs.LevelForm(type=request.form.get(f"type_{i}", ""), quantity=request.form.get(f"quantity_{i}", ""),
                                exceptions=request.form.getlist(f"exceptions_{i}"),
                                criteria=request.form.get(f"criteria_{i}", ""))
              for i in request.form.getlist("level_index")]
    return dialogs.DialogForm(pipeline=request.form.get("pipeline") or "", levels=levels,
                              seed=request.form.get("seed", ""),
                              values={k[6:]: v for k, v in request.form.items() if k.startswith("param_")},
                              replace=request.form.get("replace", ""))


@bp.get("/<int:planning_id>/sample")
@login_required
def sample_dialog(planning_id: int):
    return _dialog(dialogs.sample_dialog(current_user, planning_id, request.args.get("rerun"),
                                         request.args.get("pipeline")))


@bp.get("/<int:planning_id>/sample/pipelines")
@login_required
def sample_pipelines(planning_id: int):
    """The dialog's pipeline select, named by OpenHEXA: loaded after the dialog when the names are not cached."""
    partial = dialogs.pipeline_picker(current_user, planning_id, request.args.get("pipeline"))
    return render_template("plannings/_sample_pipelines.html", **vars(partial))


@bp.get("/<int:planning_id>/sample/pipeline")
@login_required
def sample_pipeline(planning_id: int):
    """An OpenHEXA pipeline's part of the dialog (levels or its parameters): loaded after the dialog."""
    section = dialogs.pipeline_section(current_user, planning_id, request.args.get("pipeline", ""))
    return render_template("plannings/_sample_section.html", **vars(section))


@bp.get("/<int:planning_id>/sample/level")
@login_required
def sample_level(planning_id: int):
    """One more level row; its types are the sub-types of the previous level's type."""
    row = dialogs.sample_level(current_user, planning_id, request.args.get("index", 0, type=int),
                               request.args.get("parent_type", type=int))
    return render_template("plannings/_sample_level.html", **vars(row), errors={})


@bp.get("/<int:planning_id>/sample/units")
@login_required
def sample_units(planning_id: int):
    """Units of a level's type under the planning root, by name: to pick exceptions."""
    found = dialogs.exception_candidates(current_user, planning_id, request.args.get("type", type=int),
                                         request.args.get("q") or "", request.args.get("index", 0, type=int))
    return render_template("plannings/_sample_units.html", **vars(found))


@bp.post("/<int:planning_id>/sample")
@login_required
def launch(planning_id: int):
    launched = dialogs.launch_from_dialog(current_user, planning_id, _dialog_form(), request.host_url)
    if launched.job is None:
        return _dialog(launched.dialog, 422)
    return panel_response(launched.job)


@bp.get("/<int:planning_id>/runs")
@login_required
def runs(planning_id: int):
    return page_or_partial("plannings/runs.html", "plannings/_runs.html",
                           **vars(dialogs.sampling_runs(current_user, planning_id)))
