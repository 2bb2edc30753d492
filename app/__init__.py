"""Fieldflow: field operations for health programmes.

create_app(overrides=None): config → extensions → blueprints → CLI → errors.
"""
from __future__ import annotations

import os
import time

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import Pool

from app import request_limits, web_delivery
from app.config import engine_options, load_config


def create_app(overrides: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=os.environ.get("FIELDFLOW_INSTANCE_PATH") or None,
                instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if overrides:
        app.config.update(overrides)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))

    _configure_logging(app)
    _init_extensions(app)
    web_delivery.init_app(app)  # compression, hashed static names, conditional polled partials
    request_limits.init_app(app)  # before the blueprints: their `<int:…>` routes use the bounded converter
    _register_blueprints(app)

    from app.cli import register_cli
    from app.errors import register_error_handlers

    from app import processes  # noqa: F401  (importing it registers the processes with the job engine)

    register_cli(app)
    register_error_handlers(app)
    _configure_templates(app)
    return app


def _configure_logging(app: Flask) -> None:
    # LOG_FORMAT text/json, correlation ids (request hooks), secret redaction
    from app.logging_setup import configure_logging

    configure_logging(app)


def _init_extensions(app: Flask) -> None:
    from app.extensions import csrf, db, htmx, jwt, login_manager, migrate
    from app import security

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    login_manager.init_app(app)
    jwt.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    security.init_app(app)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL and a busy timeout let the web process, workers and progress writes share SQLite."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


# A pooled connection idle this long is pinged before use; one in steady use is not (pool_pre_ping pinged
# at every checkout: a round trip more for every request and every job write).
IDLE_PING_SECONDS = 10.0


@event.listens_for(Pool, "checkin")
def _note_checkin(dbapi_connection, connection_record):
    connection_record.info["checked_in_at"] = time.monotonic()


@event.listens_for(Pool, "checkout")
def _ping_if_idle(dbapi_connection, connection_record, connection_proxy):
    """A connection that sat idle is checked first: a restarted PostgreSQL or a dropped socket is met with a
    fresh connection (the pool retries on DisconnectionError), as pool_pre_ping did."""
    idle_since = connection_record.info.get("checked_in_at")
    if idle_since is None or time.monotonic() - idle_since < IDLE_PING_SECONDS:
        return
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        if not getattr(dbapi_connection, "autocommit", False):
            dbapi_connection.rollback()
    except Exception as exc:
        raise DisconnectionError("the pooled connection is dead") from exc


def _register_blueprints(app: Flask) -> None:
    from app.blueprints.admin import register_rq_dashboard
    from app.blueprints.admin.openhexa import bp as openhexa_admin_bp
    from app.blueprints.api import bp as api_bp
    from app.blueprints.auth import bp as auth_bp
    from app.blueprints.jobs import bp as jobs_bp
    from app.blueprints.main import bp as main_bp
    from app.blueprints.ogc import bp as ogc_bp
    from app.blueprints.processes import bp as processes_bp
    from app.blueprints.orgunits import bp as orgunits_bp
    from app.blueprints.plannings import bp as plannings_bp
    from app.blueprints.teams import bp as teams_bp
    from app.extensions import csrf

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(orgunits_bp)
    app.register_blueprint(plannings_bp)
    app.register_blueprint(teams_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # Bearer tokens only; no cookies are read there
    _register_ticket_blueprints(app)
    app.register_blueprint(openhexa_admin_bp)
    app.register_blueprint(ogc_bp)  # OGC API – Processes; execution is CSRF-checked unless Bearer
    app.register_blueprint(processes_bp)
    _register_orchestration_blueprints(app)
    register_rq_dashboard(app)


def _register_ticket_blueprints(app: Flask) -> None:
    """Tickets, the task board, workflow admin; and their Bearer-only APIs (CSRF-exempt)."""
    from app.blueprints.tasks_api import bp as tasks_api_bp
    from app.blueprints.tasks_board import bp as tasks_board_bp
    from app.blueprints.tickets import bp as tickets_bp
    from app.blueprints.tickets_api import bp as tickets_api_bp
    from app.blueprints.workflows import bp as workflows_bp
    from app.extensions import csrf

    for blueprint in (tickets_bp, tasks_board_bp, workflows_bp):
        app.register_blueprint(blueprint)
    for blueprint in (tickets_api_bp, tasks_api_bp):
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)


def _register_orchestration_blueprints(app: Flask) -> None:
    """Workflow API (Bearer only, CSRF-exempt), SLA and automation pages, metrics and the outbox admin."""
    from app.blueprints.action_plans import bp as action_plans_bp
    from app.blueprints.automation import bp as automation_bp
    from app.blueprints.observability import bp as observability_bp
    from app.blueprints.sla import bp as sla_bp
    from app.blueprints.sla.api import bp as sla_api_bp
    from app.blueprints.workflow_api import bp as workflow_api_bp
    from app.extensions import csrf

    for blueprint in (sla_bp, automation_bp, observability_bp, action_plans_bp):
        app.register_blueprint(blueprint)
    for blueprint in (workflow_api_bp, sla_api_bp):
        app.register_blueprint(blueprint)
        csrf.exempt(blueprint)


def _configure_templates(app: Flask) -> None:
    from jinja2 import StrictUndefined

    from app import template_helpers

    app.jinja_env.undefined = StrictUndefined
    template_helpers.register(app)
