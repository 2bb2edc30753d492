"""Processes: named units of work that run as jobs (OGC API – Processes)."""
from app.processes.registry import Process, all_processes, get_process, register_process  # noqa: F401

# Importing a process module registers it.
from app.processes import echo, lqas  # noqa: E402,F401
