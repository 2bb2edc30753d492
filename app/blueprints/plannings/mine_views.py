"""An agent's "My assignments": the list, the map, and the map's shapes."""
from flask import jsonify, render_template, url_for
from flask_login import current_user, login_required

from app.blueprints.plannings.blueprint import bp
from app.services.planning import my_assignments as svc
from app.web_delivery import revalidated


@bp.get("/mine")
@login_required
def mine():
    return render_template("plannings/mine.html", assignments=svc.my_assignments(current_user))


@bp.get("/mine/map")
@login_required
def mine_map():
    mapped = svc.my_assignment_map(current_user, url_for("plannings.mine_shapes"))
    return render_template("plannings/mine_map.html", **vars(mapped))


@bp.get("/mine/map/shapes")
@login_required
def mine_shapes():
    """The map's compact geometry, revalidated with its ETag (a revisit downloads no geometry)."""
    return revalidated(jsonify(svc.my_assignment_shapes(current_user)))
