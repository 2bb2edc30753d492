"""Logging: text or JSON lines (LOG_FORMAT), correlation ids on every record, secrets redacted.

A request takes its correlation id from X-Correlation-ID (else X-Request-ID, else a new one) and
echoes it in the response; background code (the outbox relay, RQ jobs) sets one with
`correlation_scope(cid)`. `current_correlation_id()` is what services put on outbox events.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

from flask import Flask, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect

from app.logging_filters import install_redaction, mask_literal, redact_text

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HEADER = "X-Correlation-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_scoped_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("fieldflow_correlation_id", default=None)
request_log = logging.getLogger("app.request")

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_CONTEXT = ("correlation_id", "request_id", "path", "method", "user_id")


def valid_id(value: str | None) -> str | None:
    """The id if it is ≤ 64 characters of [A-Za-z0-9._:-], else None (never trust a header blindly)."""
    return value if value and _VALID_ID.match(value) else None


def new_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str | None:
    """The correlation id of the work in progress: an enclosing `correlation_scope`, else the
    current request's, else None."""
    scoped = _scoped_id.get()
    if scoped:
        return scoped
    if has_request_context():
        return g.get("correlation_id")
    return None


@contextmanager
def correlation_scope(correlation_id: str | None = None) -> Iterator[str]:
    """Run a block under a correlation id (a new one when None or invalid); yields the id in use."""
    cid = valid_id(correlation_id) or new_id()
    token = _scoped_id.set(cid)
    try:
        yield cid
    finally:
        _scoped_id.reset(token)


def _user_id() -> int | None:
    # Only a user already loaded for this request: a log call must never query the database.
    # The identity map's key, never an attribute: after a commit the user's attributes are expired, and
    # reading one (`is_authenticated` reads `active`) would reload the row just to write a log line.
    for user in (g.get("_login_user"), g.get("api_user")):
        state = sa_inspect(user, raiseerr=False) if user is not None else None
        if state is not None and state.identity:
            return state.identity[0]
    return None


class ContextFilter(logging.Filter):
    """Puts correlation_id, request_id, path, method and user_id on each record (values passed
    with `extra=` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = {"correlation_id": current_correlation_id(), "request_id": None, "path": None,
                   "method": None, "user_id": None}
        if has_request_context():
            context.update(request_id=g.get("request_id"), path=request.path, method=request.method,
                           user_id=_user_id())
        for key, value in context.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


class TextFormatter(logging.Formatter):
    """The usual text line, with ` [cid=…]` when the record has a correlation id."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        cid = getattr(record, "correlation_id", None)
        return redact_text(f"{line} [cid={cid}]" if cid else line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the request context and `extra` fields.
    Each value is redacted on its own (redacting the serialized line could break its quoting)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": redact_text(record.getMessage()),
        }
        for key in _CONTEXT:
            value = getattr(record, key, None)
            if value is not None or key in ("correlation_id", "request_id"):
                entry[key] = value
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _CONTEXT and key not in entry and not key.startswith("_"):
                entry[key] = redact_text(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc_info"] = redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = redact_text(record.stack_info)
        return json.dumps(entry, default=lambda o: redact_text(str(o)), ensure_ascii=False)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(app: Flask) -> None:
    """Root logging for this process: our handler on stderr (unless something else, e.g. pytest or
    a logging config, already installed handlers), the context and redaction filters on every root
    handler, the chosen formatter on ours; and the request hooks on `app`."""
    root = logging.getLogger()
    root.setLevel(app.config["LOG_LEVEL"])
    ours = [h for h in root.handlers if getattr(h, "fieldflow", False)]
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.fieldflow = True
        root.addHandler(handler)
        ours = [handler]
    for handler in ours:
        handler.setFormatter(make_formatter(app.config.get("LOG_FORMAT", "text")))
    for handler in root.handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
    install_redaction()
    mask_literal(app.config.get("EO_CDS_KEY"))
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Alembic's env.py runs fileConfig(), which disables every logger that exists by then; a later
    # create_app in the same process (tests, `flask db upgrade` then serve) must get its request log back.
    request_log.disabled = False
    _install_request_hooks(app)


def _install_request_hooks(app: Flask) -> None:
    @app.before_request
    def _start_request():
        g.request_started = time.monotonic()
        given_request_id = valid_id(request.headers.get("X-Request-ID"))
        g.request_id = given_request_id or new_id()
        g.correlation_id = valid_id(request.headers.get(HEADER)) or given_request_id or g.request_id

    @app.after_request
    def _finish_request(response):
        cid = g.get("correlation_id")
        if cid:
            response.headers[HEADER] = cid
            response.headers["X-Request-ID"] = g.request_id
        started = g.get("request_started")
        if started is not None and request.endpoint != "static":
            request_log.info("%s %s %s", request.method, request.path, response.status_code,
                             extra={"status": response.status_code,
                                    "duration_ms": round((time.monotonic() - started) * 1000, 1)})
        return response
