"""Jinja filters and globals shared by every page."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask, request
from flask_login import current_user
from markupsafe import Markup

from app.models import TaskStatus
from app.services.orchestration.state_machines import TASK
from app.services.processing import job_status as st
from app.services.processing.job_access import readable_log
from app.services.processing.registry import get_process
from app.services.platform.errors import NotFound

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


def viewer_zone() -> ZoneInfo | timezone:
    """The time zone times are shown in: the user's own (profile), else the browser's (the `tz`
    cookie app.js sets from Intl), else UTC. An unknown name is UTC."""
    name = current_user.time_zone if current_user and current_user.is_authenticated else None
    name = name or (request.cookies.get("tz") if request else None)
    if not name or name == "UTC" or len(name) > 64:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def format_datetime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time in the viewer's zone, with the zone's short name ("2026-11-29 19:45 CET")."""
    if value is None:
        return "—"
    local = value.astimezone(viewer_zone())
    return local.strftime(fmt) + " " + (local.tzname() or "UTC")


def job_title(job) -> str:
    """What a job did, in people's words: its process's `describe` of the inputs, else its title."""
    try:
        process = get_process(job.process_id)
    except NotFound:
        return job.process_id
    described = process.describe(job.inputs or {}) if process.describe else None
    return described or process.title


def process_title(process_id: str) -> str:
    """A process's title ("LQAS sampling"), else its id (a process no longer registered)."""
    try:
        return get_process(process_id).title
    except NotFound:
        return process_id


def plain_value(value) -> str:
    """A stored input or result in words: yes/no for booleans, "—" for nothing, lists comma-separated
    (lists of lists, one per level, separated by ";")."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        parts = [plain_value(v) for v in value]
        if all(p == "—" for p in parts):
            return "—"
        return ("; " if any(isinstance(v, (list, tuple)) for v in value) else ", ").join(parts)
    return str(value)


def time_ago(value: datetime | None) -> Markup | str:
    """How long ago, as `<time datetime=… data-ago>`: app.js writes "12 s ago", "3 min ago" … in the
    browser and keeps it current; the page itself says the time in the viewer's zone. A page that said
    "12 s ago" would differ from one poll to the next, and a polled partial could never be a 304."""
    if value is None:
        return "—"
    stamp = value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" data-ago>{}</time>').format(stamp, format_datetime(value))


_OP_WORDS = {"eq": "is", "ne": "is not", "gt": "is more than", "gte": "is at least", "lt": "is less than",
             "lte": "is at most", "in": "is one of", "not_in": "is none of", "contains": "contains",
             "startswith": "starts with", "exists": "is set"}
_FIELD_WORDS = {"to": "the new state", "from": "the previous state", "from_state": "the previous state",
                "to_state": "the new state"}


def words(identifier: str) -> str:
    """`TaskStatusChanged`, `it_support`, `payload.sub_category` in words: "task status changed",
    "it support", "sub category"."""
    last = str(identifier).split(".")[-1]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", last).replace("_", " ").replace("-", " ")
    return spaced.lower().strip()


def op_words(op: str) -> str:
    """A condition's operator as the builder offers it: `eq` → "is", `not_in` → "is none of"."""
    return _OP_WORDS.get(op, words(op))


_PLACEHOLDER = re.compile(r"\{payload\.([A-Za-z0-9_.]+)\}")


def placeholder_words(text: str) -> str:
    """An action's text template as people read it: "Job failed: {payload.process_id}" → "Job
    failed: ‹process id›" (the rule form keeps the template as typed)."""
    return _PLACEHOLDER.sub(lambda m: f"‹{words(m.group(1))}›", str(text))


def condition_sentence(condition: dict) -> str:
    """A rule's structured condition read as a sentence: {"field": "payload.to", "op": "eq",
    "value": "completed"} → "the new state is completed"; all/any/not as and/or/not."""
    if not isinstance(condition, dict):
        return str(condition)
    if "all" in condition or "any" in condition:
        joiner, parts = (" and ", condition["all"]) if "all" in condition else (" or ", condition["any"])
        inner = [condition_sentence(c) for c in parts or []]
        return joiner.join(f"({s})" if (" and " in s or " or " in s) else s for s in inner)
    if "not" in condition:
        return f"not ({condition_sentence(condition['not'])})"
    field = condition.get("field", "")
    name = _FIELD_WORDS.get(field.split(".")[-1], "the " + words(field))
    op = condition.get("op", "eq")
    if op == "exists":
        return f"{name} is set"
    value = condition.get("value")
    shown = ", ".join(words(v) for v in value) if isinstance(value, list) else words(value) if isinstance(value, str) else value
    return f"{name} {_OP_WORDS.get(op, op)} {shown}"


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
    app.jinja_env.globals["job_title"] = job_title
    app.jinja_env.filters["words"] = words
    app.jinja_env.filters["op_words"] = op_words
    app.jinja_env.filters["placeholder_words"] = placeholder_words
    app.jinja_env.filters["plain_value"] = plain_value
    app.jinja_env.globals["process_title"] = process_title
    app.jinja_env.globals["condition_sentence"] = condition_sentence

    @app.context_processor
    def _nav():
        return {"current_user": current_user}
