"""DHIS2 connections (admins): the password is write-only — never sent back to the browser."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.processes.blueprint import bp
from app.services.processing import dhis2
from app.services.platform.errors import Forbidden, ValidationFailed


def _admin() -> None:
    if not current_user.is_admin:
        raise Forbidden("Only administrators manage DHIS2 connections.")


def _page(editing=None, errors=None, form=None, status=200):
    if form is None and editing is not None:
        form = {"name": editing.name, "url": editing.url, "username": editing.username}
    return render_template("processes/connections.html", connections=dhis2.list_connections(), editing=editing,
                           errors=errors or {}, form=form or {}), status


@bp.get("/admin/dhis2-connections")
@login_required
def connections():
    _admin()
    editing = dhis2.get_connection(int(request.args["edit"])) if request.args.get("edit", "").isdigit() else None
    return _page(editing)


@bp.post("/admin/dhis2-connections")
@login_required
def save_connection():
    _admin()
    connection_id = int(request.form["id"]) if request.form.get("id", "").isdigit() else None
    data = {k: request.form.get(k, "") for k in ("name", "url", "username", "password")}
    try:
        dhis2.save_connection(data, current_user, connection_id)
    except ValidationFailed as exc:
        form = {k: v for k, v in data.items() if k != "password"}
        return _page(dhis2.get_connection(connection_id) if connection_id else None, exc.details, form, 400)
    flash("Connection saved.", "success")
    return redirect(url_for("processes.connections"))
