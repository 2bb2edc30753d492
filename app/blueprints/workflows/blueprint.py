"""The workflow admin blueprint (/workflows, MANAGE_WORKFLOWS) and what its view modules share."""
from flask import Blueprint

from app.extensions import db
from app.models import Permission
from app.security import permission_required

bp = Blueprint("workflows", __name__, url_prefix="/workflows")
manage = permission_required(Permission.MANAGE_WORKFLOWS)


def all_rows(stmt) -> list:
    return db.session.execute(stmt).scalars().all()
