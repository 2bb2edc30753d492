"""Org unit tree (lazy children via HTMX, search), unit detail, org unit types. Parse → one service
call → render."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import page_query
from app.blueprints.rendering import page_or_partial
from app.schemas.common import PageFilters
from app.schemas.orgunits import OrgUnitSearch
from app.services.planning import orgunit_pages as pages

bp = Blueprint("orgunits", __name__, url_prefix="/orgunits")


@bp.get("/")
@login_required
def tree():
    found = pages.org_unit_tree(current_user, page_query(OrgUnitSearch).q or "")
    partial = "orgunits/_search_results.html" if found.query else "orgunits/_tree.html"
    return page_or_partial("orgunits/tree.html", partial, **vars(found))


@bp.get("/<int:org_unit_id>/children")
@login_required
def children(org_unit_id: int):
    found = pages.child_units(current_user, org_unit_id, page_query(PageFilters).page)
    return render_template("orgunits/_children.html", **vars(found))


@bp.get("/<int:org_unit_id>")
@login_required
def detail(org_unit_id: int):
    page = pages.org_unit_page(current_user, org_unit_id, page_query(PageFilters).page)
    return render_template("orgunits/detail.html", **vars(page))


def _types_page(types: pages.OrgUnitTypes, status: int = 200):
    return render_template("orgunits/types.html", **vars(types)), status


@bp.route("/types", methods=["GET", "POST"])
@login_required
def types():
    if request.method == "GET":
        return _types_page(pages.org_unit_types_page(current_user))
    saved = pages.create_org_unit_type_from_form(current_user, request.form.to_dict(),
                                                 request.form.getlist("sub_unit_type_ids"))
    if saved.page is not None:
        return _types_page(saved.page, 400)
    flash(f"Org unit type '{saved.created.name}' created.", "success")
    return redirect(url_for("orgunits.types"))
