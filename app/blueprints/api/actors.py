"""Who may call the endpoints a pipeline also uses: users (Bearer), or a pipeline token scoped to
one job and one planning (only while that job is live)."""
from __future__ import annotations

from app.extensions import db
from app.models import Job, Planning, User
from app.security import api_actor
from app.services.platform.permissions import PipelineActor
from app.services.processing import job_status as st
from app.services.platform.errors import Forbidden
from app.services.planning.plannings import get_planning


def _live_pipeline(actor: PipelineActor) -> None:
    job = db.session.get(Job, actor.job_id)
    if job is None or job.status in st.TERMINAL:
        raise Forbidden("This pipeline run has ended; its token is no longer accepted.")


def planning_actor(planning_id) -> tuple[User, Planning, str]:
    """(user to act as, the planning, audit source); a pipeline token only for its own planning."""
    actor = api_actor()
    if isinstance(actor, PipelineActor):
        _live_pipeline(actor)
        if actor.planning_id is None or str(planning_id) != str(actor.planning_id):
            raise Forbidden(f"This pipeline token may only touch planning {actor.planning_id}.")
        return actor.user, get_planning(actor.user, planning_id), "pipeline"
    return actor, get_planning(actor, planning_id), "api"


def reader() -> tuple[User, Planning | None]:
    """The user whose projects scope a read, and the planning a pipeline token is limited to."""
    actor = api_actor()
    if isinstance(actor, PipelineActor):
        _live_pipeline(actor)
        planning = db.session.get(Planning, actor.planning_id) if actor.planning_id else None
        if planning is None:
            raise Forbidden("This pipeline token is not tied to a planning.")
        return actor.user, planning
    return actor, None
