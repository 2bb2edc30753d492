"""DHIS2 connections (admins): the password is write-only — never sent back to the browser."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.processes.blueprint import bp
from app.services.processing import process_pages as pages


def _page(page: pages.ConnectionsPage, status: int = 200):
    return render_template("processes/connections.html", **vars(page)), status


def _id(raw: str | None) -> int | None:
    return int(raw) if (raw or "").isdigit() else None


@bp.get("/admin/dhis2-connections")
@login_required
def connections():
    return _page(pages.connections_page(current_user, _id(request.args.get("edit"))))


@bp.post("/admin/dhis2-connections")
@login_required
def save_connection():
    data = {k: request.form.get(k, "") for k in ("project_id", "name", "url", "username", "password")}
    rejected = pages.save_connection_form(current_user, data, _id(request.form.get("id")))
    if rejected is not None:
        return _page(rejected, 400)
    flash("Connection saved.", "success")
    return redirect(url_for("processes.connections"))
