"""Pages: processes (list, execute form), schedules, DHIS2 connections (admins). The blueprint lives
in `blueprint`; importing the page modules here registers their routes on it."""
from app.blueprints.processes import connections, pages, schedules  # noqa: F401  (they register routes)
from app.blueprints.processes.blueprint import bp  # noqa: F401  (what the app factory registers)
