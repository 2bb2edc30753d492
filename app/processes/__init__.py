"""Processes: named units of work that run as jobs (OGC API – Processes).

Importing this package registers every process in the job engine's registry
(`app.services.processing.registry`); `create_app` does so once.
"""
from app.services.processing.registry import Process, all_processes, get_process, register_process  # noqa: F401

from app.processes import demo_steps, echo, eo_import, lqas, openhexa, ticket_batch  # noqa: E402,F401  (registers them)
