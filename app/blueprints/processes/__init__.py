"""Pages: processes (list, execute form), schedules, DHIS2 connections (admins).
`bp` lives in `blueprint.py`; importing the view modules here adds their routes to it."""
from app.blueprints.processes.blueprint import bp
from app.blueprints.processes import connections, pages, schedules  # noqa: F401

__all__ = ["bp"]
