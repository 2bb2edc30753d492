"""`demo-steps`: seven no-op steps through the step runner (the bench's seven-step process, and a
way to watch per-step progress on the job page)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from app.schemas.parsing import Input
from app.services.processing.registry import register_process
from app.services.processing.steps import Step, steps_process

STEP_NAMES = ("validate_inputs", "load_org_units", "extract_source_data", "aggregate_to_org_units",
              "build_dhis2_payload", "import_to_dhis2", "publish_results")
MAX_DELAY = 60


class DemoStepsInputs(Input):
    delay: float = Field(default=0, ge=0, le=MAX_DELAY, title="Delay per step (seconds)")
    failAt: Literal[STEP_NAMES] | None = Field(default=None, title="Fail at step")  # noqa: N815 — its input name


def _noop(name: str):
    def run(sctx, state):
        inputs = state["inputs"]
        if inputs.delay:
            sctx.sleep(inputs.delay)
        if inputs.failAt == name:
            raise RuntimeError(f"{name} was asked to fail")
        return name

    return run


register_process(steps_process(
    id="demo-steps",
    title="Seven no-op steps",
    description="Runs seven empty steps (optionally waiting in each). For the bench and for watching per-step progress.",
    version="1.0.0",
    steps=[Step(name, _noop(name)) for name in STEP_NAMES],
    inputs=DemoStepsInputs,
    finish=lambda state: {"steps": len(STEP_NAMES)},
    outputs_schema={"steps": {"title": "Steps run", "schema": {"type": "integer"}}},
    job_control_options=("async-execute", "sync-execute"),
    timeout_seconds=7 * MAX_DELAY + 60,
))
