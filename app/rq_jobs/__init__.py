"""RQ job functions: load by id → call a service → report progress. Each runs in an app context."""
from __future__ import annotations

import os

from flask import current_app, has_app_context

_app = None
_app_pid = None


def job_app():
    """The Flask app for a job: the current one (worker.py pushes it) or one per process."""
    global _app, _app_pid
    if has_app_context():
        return current_app._get_current_object()
    if _app is None or _app_pid != os.getpid():
        from app import create_app

        _app, _app_pid = create_app(), os.getpid()
    return _app
