"""`lqas-sampling`: the built-in LQAS sampling pipeline, run in our workers."""
from __future__ import annotations

from app.models import Permission
from app.schemas.planning import LqasInputs
from app.services.processing.registry import Process, register_process
from app.services.planning import sampling

register_process(
    Process(
        id="lqas-sampling",
        title="LQAS sampling",
        description="Picks org units level by level under a planning's root and assigns them to its teams; "
                    "replaces the planning's assignments atomically. Same inputs and seed give the same result.",
        version="1.0.0",
        inputs=LqasInputs,
        run=sampling.run,
        # the planning's own right: sampling from its page needs MANAGE_PLANNING, so does any launch
        permission=Permission.MANAGE_PLANNING,
        authorize=sampling.authorize_inputs,
        prepare=sampling.prepare_inputs,
        outputs_schema={
            "assignments_created": {"schema": {"type": "integer"}},
            "org_units_selected": {"schema": {"type": "integer"}},
            "teams_assigned": {"schema": {"type": "integer"}},
            "seed": {"schema": {"type": "integer"}},
        },
        timeout_seconds=900,
        describe=sampling.describe_run,
    )
)
