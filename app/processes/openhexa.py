"""`openhexa-pipeline`: one run of an OpenHEXA pipeline — launched on OpenHEXA, then polled by the job
engine until OpenHEXA ends it (or the timeout or a dismissal stops it)."""
from __future__ import annotations

from app.models import Permission
from app.schemas.openhexa import OpenHexaRunInputs
from app.services.planning import openhexa
from app.services.processing.registry import Process, register_process

register_process(
    Process(
        id=openhexa.PROCESS_ID,
        title="OpenHEXA pipeline run",
        description="Runs a pipeline of the deployment's OpenHEXA workspace and follows the run until OpenHEXA "
                    "ends it. The run gets `connection_host`, `task_id` and a token scoped to this job and its "
                    "planning, to report progress and write the planning's assignments.",
        version="1.0.0",
        inputs=OpenHexaRunInputs,
        run=openhexa.start_run,
        poll=openhexa.poll_run,
        resume=openhexa.resume_run,
        permission=Permission.MANAGE_PIPELINES,
        authorize=openhexa.authorize_inputs,
        prepare=openhexa.prepare_inputs,
        # the run's results are what the pipeline reports (free-form); `skipped` when OpenHEXA skipped it
        outputs_schema={"skipped": {"schema": {"type": "boolean"}}},
        timeout_seconds=120,  # one launch or one poll; the run's own limit is the OpenHEXA setting
    )
)
