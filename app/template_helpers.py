"""Jinja filters and globals shared by every page."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Flask, request
from flask_login import current_user

from app.models import TaskStatus
from app.services.orchestration.state_machines import TASK
from app.services.processing import job_status as st
from app.services.processing.job_access import readable_log

_BADGE = {
    st.ACCEPTED: "badge-queued",
    st.RUNNING: "badge-running",
    st.SUCCESSFUL: "badge-ok",
    st.FAILED: "badge-error",
    st.DISMISSED: "badge-muted",
}


# a task state's badge, by the enum (a state added to the machine without one is a test failure)
TASK_BADGES = {
    TaskStatus.NEW: "badge-queued",
    TaskStatus.IN_PROGRESS: "badge-running",
    TaskStatus.BLOCKED: "badge-error",
    TaskStatus.COMPLETED: "badge-ok",
    TaskStatus.CANCELLED: "badge-muted",
}


def status_badge_class(status: str) -> str:
    return _BADGE.get(status, "badge-muted")


def task_badge_class(status: str) -> str:
    return TASK_BADGES.get(status, "badge-muted")


def task_is_closed(status: str) -> bool:
    """A task in a terminal state of the machine (nothing more to do on it)."""
    return status in TASK.terminal


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(timezone.utc).strftime(fmt) + " UTC"


def time_ago(value: datetime | None) -> str:
    if value is None:
        return "—"
    seconds = int((datetime.now(timezone.utc) - value).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def url_with(**changes) -> str:
    """The current URL with some query arguments replaced (None removes one)."""
    from urllib.parse import urlencode

    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return request.path + ("?" + urlencode(args) if args else "")


def register(app: Flask) -> None:
    app.jinja_env.filters["badge"] = status_badge_class
    app.jinja_env.filters["task_badge"] = task_badge_class
    app.jinja_env.globals["task_is_closed"] = task_is_closed
    app.jinja_env.filters["dt"] = format_datetime
    app.jinja_env.filters["ago"] = time_ago
    app.jinja_env.globals["url_with"] = url_with
    app.jinja_env.globals["is_terminal"] = st.is_terminal
    app.jinja_env.globals["job_log"] = lambda job: readable_log(job, current_user)

    @app.context_processor
    def _nav():
        return {"current_user": current_user}
