"""Processes: named units of work that run as jobs (OGC API – Processes)."""
from dataclasses import replace

from app.processes.registry import Process, all_processes, get_process, register_process  # noqa: F401

# Importing a process module registers it.
from app.processes import demo_steps, echo, eo_import, lqas  # noqa: E402,F401

# echo is quick enough to run inside the request when a client asks for a synchronous execution.
register_process(replace(get_process("echo"), job_control_options=("async-execute", "sync-execute")))
