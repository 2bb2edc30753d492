"""Org unit tree (lazy children via HTMX, search), unit detail, org unit types."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.rendering import page_or_partial
from app.extensions import db
from app.services.planning import orgunits as svc
from app.services.platform.errors import ValidationFailed

bp = Blueprint("orgunits", __name__, url_prefix="/orgunits")

SEARCH_LIMIT = 100


@bp.get("/")
@login_required
def tree():
    query = (request.args.get("q") or "").strip()
    if query:
        units = db.session.execute(svc.org_units_query(current_user, search=query).limit(SEARCH_LIMIT + 1)).scalars().all()
        more = len(units) > SEARCH_LIMIT
        units = units[:SEARCH_LIMIT]
        paths = _ancestor_names(units)
        return page_or_partial("orgunits/tree.html", "orgunits/_search_results.html", query=query, units=units,
                               more=more, paths=paths, counts=svc.child_counts([u.id for u in units]))
    roots = db.session.execute(svc.org_units_query(current_user, roots=True)).scalars().all()
    return page_or_partial("orgunits/tree.html", "orgunits/_tree.html", query="", units=roots,
                           counts=svc.child_counts([u.id for u in roots]))


@bp.get("/<int:org_unit_id>/children")
@login_required
def children(org_unit_id: int):
    parent = svc.get_org_unit(current_user, org_unit_id)
    units = db.session.execute(svc.org_units_query(current_user, parent_id=parent.id)).scalars().all()
    return render_template("orgunits/_children.html", parent=parent, units=units,
                           counts=svc.child_counts([u.id for u in units]))


@bp.get("/<int:org_unit_id>")
@login_required
def detail(org_unit_id: int):
    unit = svc.get_org_unit(current_user, org_unit_id)
    page = db.paginate(svc.org_units_query(current_user, parent_id=unit.id), per_page=50, error_out=False)
    return render_template("orgunits/detail.html", unit=unit, ancestors=svc.ancestors(unit), children=page,
                           counts=svc.child_counts([u.id for u in page.items]))


@bp.route("/types", methods=["GET", "POST"])
@login_required
def types():
    errors, form = {}, {}
    if request.method == "POST":
        form = request.form.to_dict()
        data = {**form, "sub_unit_type_ids": request.form.getlist("sub_unit_type_ids")}
        try:
            created = svc.create_org_unit_type(current_user, data)
        except ValidationFailed as exc:
            errors = exc.details
        else:
            flash(f"Org unit type '{created.name}' created.", "success")
            return redirect(url_for("orgunits.types"))
    all_types = db.session.execute(svc.org_unit_types_query(current_user)).scalars().all()
    return render_template("orgunits/types.html", types=all_types, errors=errors, form=form,
                           projects=current_user.projects), 400 if errors else 200


def _ancestor_names(units) -> dict[int, str]:
    """'Country › Region › District' for each unit, fetched in one query."""
    from sqlalchemy import select

    from app.models import OrgUnit

    ids = {a for u in units for a in u.ancestor_ids}
    names = dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    return {u.id: " › ".join(names.get(a, "?") for a in u.ancestor_ids) for u in units}
