"""Admin › OpenHEXA: the connection settings (the token is write-only)."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.services.planning import openhexa as svc
from app.services.platform.errors import ValidationFailed
from app.services.planning.openhexa_client import OpenHexaError

bp = Blueprint("openhexa_admin", __name__, url_prefix="/admin/openhexa")


@bp.route("/", methods=["GET", "POST"])
@login_required
def settings():
    if not current_user.is_admin:
        abort(403)
    config = svc.get_config()
    errors, form = {}, {}
    if request.method == "POST":
        form = {k: v for k, v in request.form.items() if k != "csrf_token"}
        try:
            svc.save_config(current_user, form)
        except ValidationFailed as exc:
            errors = exc.details
        else:
            flash("OpenHEXA settings saved.", "success")
            return redirect(url_for("openhexa_admin.settings"))
    elif config is not None:
        form = {"openhexa_url": config.openhexa_url, "workspace_slug": config.workspace_slug,
                "lqas_pipeline_code": config.lqas_pipeline_code or "", "poll_delay_seconds": config.poll_delay_seconds,
                "timeout_minutes": config.timeout_minutes}
    pipelines, pipelines_error = [], None
    if config is not None and request.args.get("check"):
        try:
            pipelines = svc.list_pipelines(current_user)
        except OpenHexaError as exc:
            pipelines_error = str(exc)
    return render_template("admin/openhexa.html", form=form, errors=errors, has_token=bool(config and config.token_encrypted),
                           pipelines=pipelines, pipelines_error=pipelines_error,
                           checked=bool(request.args.get("check"))), 400 if errors else 200
