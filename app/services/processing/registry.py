"""The process registry: id → how to validate inputs and how to run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from app.services.processing.errors import NoSuchProcess


@dataclass(frozen=True)
class Process:
    id: str
    title: str
    description: str
    version: str
    # run(ctx, inputs) -> results dict; ctx is a JobContext (progress, log, sleep, check_kill)
    run: Callable[[Any, dict], dict]
    # validate(inputs) -> normalised inputs; raises ValidationFailed naming each bad field
    validate: Callable[[dict], dict]
    inputs_schema: dict = field(default_factory=dict)
    outputs_schema: dict = field(default_factory=dict)
    timeout_seconds: int | None = None
    # Inputs never stored or shown (replaced by "***" in the job row).
    secret_inputs: frozenset[str] = frozenset()
    # OGC jobControlOptions: "async-execute" and/or "sync-execute" (sync runs in the web request)
    job_control_options: tuple[str, ...] = ("async-execute",)
    # Names of the steps when the process runs through the step runner (app/services/processing/steps.py)
    step_names: tuple[str, ...] = ()


_REGISTRY: dict[str, Process] = {}


def register_process(process: Process) -> Process:
    _REGISTRY[process.id] = process
    return process


def get_process(process_id: str) -> Process:
    try:
        return _REGISTRY[process_id]
    except KeyError:
        raise NoSuchProcess(f"No process '{process_id}'", {"processID": process_id}) from None


def all_processes() -> list[Process]:
    return sorted(_REGISTRY.values(), key=lambda p: p.id)
