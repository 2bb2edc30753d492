"""Admin › OpenHEXA: the connection settings (the token is write-only). Administrators only (checked
by the service). Parse → one service call → render."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data, page_query
from app.schemas.openhexa import OpenHexaSettingsIn, SettingsQuery
from app.services.planning import openhexa_settings as svc

bp = Blueprint("openhexa_admin", __name__, url_prefix="/admin/openhexa")


def _render(page: svc.OpenHexaSettings, status: int = 200):
    return render_template("admin/openhexa.html", **vars(page)), status


@bp.route("/", methods=["GET", "POST"])
@login_required
def settings():
    check = page_query(SettingsQuery).check
    if request.method == "GET":
        return _render(svc.openhexa_settings(current_user, check))
    saved = svc.save_openhexa_settings(current_user, form_data(OpenHexaSettingsIn), check)
    if saved.page is not None:
        return _render(saved.page, 400)
    flash("OpenHEXA settings saved.", "success")
    return redirect(url_for("openhexa_admin.settings"))
