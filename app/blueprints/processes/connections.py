"""DHIS2 connections (admins): the password is write-only — never sent back to the browser."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data, included, page_query
from app.blueprints.processes.blueprint import bp
from app.schemas.processing import ConnectionRef, Dhis2ConnectionIn
from app.services.processing import process_pages as pages


def _page(page: pages.ConnectionsPage, status: int = 200):
    return render_template("processes/connections.html", **vars(page)), status


@bp.get("/admin/dhis2-connections")
@login_required
def connections():
    return _page(pages.connections_page(current_user, page_query(ConnectionRef).edit))


@bp.post("/admin/dhis2-connections")
@login_required
def save_connection():
    data = {k: v for k, v in form_data(Dhis2ConnectionIn).items() if k != "id"}
    rejected = pages.save_connection_form(current_user, data, included(ConnectionRef).id)
    if rejected is not None:
        return _page(rejected, 400)
    flash("Connection saved.", "success")
    return redirect(url_for("processes.connections"))
