"""The processes pages' blueprint (process execute forms, schedules, DHIS2 connections); its view
modules add their routes to it."""
from flask import Blueprint

bp = Blueprint("processes", __name__)
