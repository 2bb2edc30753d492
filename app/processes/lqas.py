"""`lqas-sampling`: the built-in LQAS sampling pipeline, run in our workers."""
from __future__ import annotations

from app.models import Permission
from app.services.processing.registry import Process, register_process
from app.services.planning import sampling

_ID_LIST = {"oneOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "string"}]}

register_process(
    Process(
        id="lqas-sampling",
        title="LQAS sampling",
        description="Picks org units level by level under a planning's root and assigns them to its teams; "
                    "replaces the planning's assignments atomically. Same inputs and seed give the same result.",
        version="1.0.0",
        run=sampling.run,
        validate=sampling.validate_inputs,
        # the planning's own right: sampling from its page needs MANAGE_PLANNING, so does any launch
        permission=Permission.MANAGE_PLANNING,
        authorize=sampling.authorize_inputs,
        inputs_schema={
            "planning_id": {"title": "Planning", "schema": {"type": "integer"}, "minOccurs": 1},
            sampling.TYPES: {"title": "Org unit type per level", "schema": _ID_LIST, "minOccurs": 1},
            sampling.QUANTITIES: {"title": "Quantity per level", "schema": _ID_LIST, "minOccurs": 1},
            sampling.EXCEPTIONS: {"title": "Excluded org units per level ('-' for none)",
                                  "schema": {"oneOf": [{"type": "array"}, {"type": "string"}]}, "minOccurs": 0},
            sampling.CRITERIA: {"title": "URBAN/RURAL per level ('-' for none)",
                                "schema": {"oneOf": [{"type": "array"}, {"type": "string"}]}, "minOccurs": 0},
            "seed": {"title": "Random seed", "schema": {"type": "integer", "minimum": 0}, "minOccurs": 0},
        },
        outputs_schema={
            "assignments_created": {"schema": {"type": "integer"}},
            "org_units_selected": {"schema": {"type": "integer"}},
            "teams_assigned": {"schema": {"type": "integer"}},
            "seed": {"schema": {"type": "integer"}},
        },
        timeout_seconds=900,
    )
)
