"""The JSON API (Iaso-style paths). CSRF-exempt; accepts only `Authorization: Bearer`."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from app.blueprints.api import auth, microplanning, openhexa, orgunits, teams  # noqa: E402,F401
