"""The Iaso-style JSON API's blueprint (/api): CSRF-exempt, `Authorization: Bearer` only. Its view
modules add their routes to it; the package imports them."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")
