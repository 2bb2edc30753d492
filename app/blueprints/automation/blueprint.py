"""The automation pages' blueprint (/automation) and what its view modules share."""
from flask import Blueprint, make_response, render_template
from flask_login import current_user

bp = Blueprint("automation", __name__, url_prefix="/automation")


@bp.context_processor
def _project_names() -> dict:
    return {"project_names": {p.id: p.name for p in current_user.projects} if current_user.is_authenticated else {}}


def partial(template: str, status: int = 200, **context):
    """An HTMX fragment (a table row, a result panel) answering an action."""
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
