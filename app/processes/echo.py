"""`echo`: returns its message; optional delay and steps make it useful for integrators and tests."""
from __future__ import annotations

from pydantic import Field

from app.schemas.parsing import Input
from app.schemas.types import Text
from app.services.processing.registry import Process, register_process
from app.services.processing.steps import PermanentError

MAX_DELAY_SECONDS = 600


class EchoInputs(Input):
    message: Text(10_000, strip=False) = Field(title="Message", description="Returned as it was sent")
    delay: float = Field(default=0, ge=0, le=MAX_DELAY_SECONDS, title="Delay (seconds)")
    steps: int = Field(default=1, ge=1, le=100, title="Steps", description="Progress reports over the delay")
    fail: bool = Field(default=False, title="Fail on purpose")


def run(ctx, inputs: EchoInputs) -> dict:
    steps = inputs.steps
    for step in range(1, steps + 1):
        ctx.sleep(inputs.delay / steps)
        ctx.progress(round(100 * step / steps) if step < steps else 99, f"Step {step} of {steps}")
    if inputs.fail:
        raise PermanentError("echo was asked to fail")
    return {"echo": inputs.message}


register_process(
    Process(
        id="echo",
        title="Echo",
        description="Returns its message. For integrators checking their client, and for tests.",
        version="1.0.0",
        inputs=EchoInputs,
        run=run,
        outputs_schema={"echo": {"title": "Echoed message", "schema": {"type": "string"}}},
        timeout_seconds=MAX_DELAY_SECONDS + 60,
        # quick enough to run inside the request when a client asks for a synchronous execution
        job_control_options=("async-execute", "sync-execute"),
    )
)
