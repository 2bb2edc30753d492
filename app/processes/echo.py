"""`echo`: returns its message; optional delay and steps make it useful for integrators and tests."""
from __future__ import annotations

from app.services.processing.registry import Process, register_process
from app.services.platform.errors import FieldErrors
from app.services.processing.steps import PermanentError

MAX_DELAY_SECONDS = 600


def validate(inputs: dict) -> dict:
    errors = FieldErrors()
    if not isinstance(inputs, dict):
        errors.add("inputs", "must be an object")
        errors.raise_if_any()
    unknown = set(inputs) - {"message", "delay", "steps", "fail"}
    for name in sorted(unknown):
        errors.add(name, "is not an input of this process")
    message = inputs.get("message")
    if not isinstance(message, str):
        errors.add("message", "is required and must be a string")
    elif len(message) > 10_000:
        errors.add("message", "must be at most 10,000 characters")
    delay = inputs.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= MAX_DELAY_SECONDS:
        errors.add("delay", f"must be a number of seconds between 0 and {MAX_DELAY_SECONDS}")
    steps = inputs.get("steps", 1)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 100:
        errors.add("steps", "must be a whole number between 1 and 100")
    fail = inputs.get("fail", False)
    if not isinstance(fail, bool):
        errors.add("fail", "must be true or false")
    errors.raise_if_any("Invalid inputs for echo")
    return {"message": message, "delay": delay, "steps": steps, "fail": fail}


def run(ctx, inputs: dict) -> dict:
    steps = inputs["steps"]
    for step in range(1, steps + 1):
        ctx.sleep(inputs["delay"] / steps)
        ctx.progress(round(100 * step / steps) if step < steps else 99, f"Step {step} of {steps}")
    if inputs["fail"]:
        raise PermanentError("echo was asked to fail")
    return {"echo": inputs["message"]}


register_process(
    Process(
        id="echo",
        title="Echo",
        description="Returns its message. For integrators checking their client, and for tests.",
        version="1.0.0",
        run=run,
        validate=validate,
        inputs_schema={
            "message": {"title": "Message", "schema": {"type": "string", "maxLength": 10000}, "minOccurs": 1},
            "delay": {"title": "Delay (seconds)", "schema": {"type": "number", "minimum": 0, "maximum": MAX_DELAY_SECONDS, "default": 0}, "minOccurs": 0},
            "steps": {"title": "Steps", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 1}, "minOccurs": 0},
            "fail": {"title": "Fail on purpose", "schema": {"type": "boolean", "default": False}, "minOccurs": 0},
        },
        outputs_schema={"echo": {"title": "Echoed message", "schema": {"type": "string"}}},
        timeout_seconds=MAX_DELAY_SECONDS + 60,
        # quick enough to run inside the request when a client asks for a synchronous execution
        job_control_options=("async-execute", "sync-execute"),
    )
)
