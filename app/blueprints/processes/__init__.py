"""Pages: processes (list, execute form), schedules, DHIS2 connections (admins)."""
from flask import Blueprint

bp = Blueprint("processes", __name__)

from app.blueprints.processes import connections, pages, schedules  # noqa: E402,F401
