"""The JSON API (Iaso-style paths). CSRF-exempt; accepts only `Authorization: Bearer`.
`bp` lives in `blueprint.py`; importing the view modules here adds their routes to it."""
from app.blueprints.api.blueprint import bp
from app.blueprints.api import auth, microplanning, openhexa, orgunits, teams  # noqa: F401

__all__ = ["bp"]
