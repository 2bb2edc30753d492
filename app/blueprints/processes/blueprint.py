"""The processes blueprint: process pages, schedules and DHIS2 connections register their routes on it."""
from flask import Blueprint

bp = Blueprint("processes", __name__)
