"""`demo-steps`: seven no-op steps through the step runner (the bench's seven-step process, and a
way to watch per-step progress on the job page)."""
from __future__ import annotations

from app.services.processing.registry import register_process
from app.services.processing.steps import Step, steps_process
from app.services.platform.errors import FieldErrors

STEP_NAMES = ("validate_inputs", "load_org_units", "extract_source_data", "aggregate_to_org_units",
              "build_dhis2_payload", "import_to_dhis2", "publish_results")
MAX_DELAY = 60


def validate(inputs: dict) -> dict:
    errors = FieldErrors()
    for name in sorted(set(inputs) - {"delay", "failAt"}):
        errors.add(name, "is not an input of this process")
    delay = inputs.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY:
        errors.add("delay", f"must be a number of seconds per step between 0 and {MAX_DELAY}")
    fail_at = inputs.get("failAt")
    if fail_at is not None and fail_at not in STEP_NAMES:
        errors.add("failAt", f"must be one of {', '.join(STEP_NAMES)}")
    errors.raise_if_any("Invalid inputs for demo-steps")
    return {"delay": delay, **({"failAt": fail_at} if fail_at else {})}


def _noop(name: str):
    def run(sctx, state):
        inputs = state["inputs"]
        if inputs["delay"]:
            sctx.sleep(inputs["delay"])
        if inputs.get("failAt") == name:
            raise RuntimeError(f"{name} was asked to fail")
        return name

    return run


register_process(steps_process(
    id="demo-steps",
    title="Seven no-op steps",
    description="Runs seven empty steps (optionally waiting in each). For the bench and for watching per-step progress.",
    version="1.0.0",
    steps=[Step(name, _noop(name)) for name in STEP_NAMES],
    validate=validate,
    finish=lambda state: {"steps": len(STEP_NAMES)},
    inputs_schema={
        "delay": {"title": "Delay per step (seconds)",
                  "schema": {"type": "number", "minimum": 0, "maximum": MAX_DELAY, "default": 0}, "minOccurs": 0},
        "failAt": {"title": "Fail at step", "schema": {"type": "string", "enum": list(STEP_NAMES)}, "minOccurs": 0},
    },
    outputs_schema={"steps": {"title": "Steps run", "schema": {"type": "integer"}}},
    job_control_options=("async-execute", "sync-execute"),
    timeout_seconds=7 * MAX_DELAY + 60,
))
