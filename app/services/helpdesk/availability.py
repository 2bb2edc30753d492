"""Agents' availability: away or available (set by the agent, or by a lead of one of their projects),
and leaves (date ranges). Assignment (`round_robin`) skips whoever is away or on leave today and says
so in the pick's reason; going away can hand one's open ticket tasks back; coming back (or a leave
removed) lets the unassigned queue be allocated at once — RQ cron does it when a leave just ends.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import AgentAvailability, AgentLeave, Permission, User, utcnow
from app.schemas.helpdesk import AvailabilityIn, LeaveIn
from app.schemas.parsing import validate_data
from app.services.helpdesk.intake import allocate_waiting
from app.services.helpdesk.round_robin import absences
from app.services.helpdesk.ticket_tasks import hand_back_tasks
from app.services.orchestration.transitions import is_supervisor
from app.services.platform import audit
from app.services.platform.access import project_scope
from app.services.platform.errors import Forbidden, NotFound, ValidationFailed


@dataclass
class Availability:
    user: User
    away: bool
    note: str
    absent_today: str  # "" when available today, else why ("away", "on leave until 2026-12-03")
    leaves: list[AgentLeave]  # those not over yet, soonest first
    can_edit: bool


@dataclass
class AvailabilityChange:
    availability: Availability
    handed_back: list[tuple[int, int | None]]  # (task id, who took over or None)
    allocated: int  # tickets of the unassigned queue that got a task


def _agent(actor: User, user_id, edit: bool = False) -> User:
    """The agent `user_id` as `actor` may see them (a user of one of their projects); editing: only
    themselves, or a lead (MANAGE_WORKFLOWS)."""
    try:
        agent = db.session.get(User, int(user_id))
    except (TypeError, ValueError):
        agent = None
    if agent is None or (agent.id != actor.id and not set(agent.project_ids) & set(project_scope(actor))):
        raise NotFound(f"No user {user_id}")
    if edit and agent.id != actor.id and not is_supervisor(actor):
        raise Forbidden("Only the agent or a lead can change their availability.",
                        {"permission": Permission.MANAGE_WORKFLOWS.value})
    return agent


def _view(actor: User, agent: User) -> Availability:
    row = db.session.get(AgentAvailability, agent.id)
    today = utcnow().date()
    why = absences([agent.id], today).get(agent.id)
    leaves = list(db.session.execute(select(AgentLeave).where(AgentLeave.user_id == agent.id,
                                                              AgentLeave.ends_on >= today)
                                     .order_by(AgentLeave.starts_on, AgentLeave.id)).scalars())
    return Availability(agent, bool(row and row.away), row.note if row else "", "".join(why) if why else "", leaves,
                        agent.id == actor.id or is_supervisor(actor))


def get_availability(actor: User, user_id) -> Availability:
    return _view(actor, _agent(actor, user_id))


def set_availability(actor: User, user_id, data: AvailabilityIn) -> AvailabilityChange:
    """Away or available. Going away with `hand_back`: the agent's open ticket tasks go to whoever their
    step's role picks now (in the same transaction). Coming back: the unassigned queue of the agent's
    projects is tried again."""
    agent = _agent(actor, user_id, edit=True)
    row = db.session.get(AgentAvailability, agent.id) or AgentAvailability(user_id=agent.id)
    row.away, row.note, row.updated_by_id, row.updated_at = data.away, data.note, actor.id, utcnow()
    db.session.add(row)
    db.session.flush()
    handed = hand_back_tasks(actor, agent, f"{agent.username} is away" + (f": {data.note}" if data.note else "")) \
        if data.away and data.hand_back else []
    audit.record(actor, "set_availability", "user", agent.id, {"away": data.away, "note": data.note,
                                                                "handed_back": [t for t, _ in handed]})
    db.session.commit()
    allocated = 0 if data.away else allocate_waiting(agent.project_ids)
    return AvailabilityChange(_view(actor, agent), handed, allocated)


def add_leave(actor: User, user_id, data: LeaveIn) -> AgentLeave:
    agent = _agent(actor, user_id, edit=True)
    leave = AgentLeave(user_id=agent.id, starts_on=data.starts_on, ends_on=data.ends_on, note=data.note,
                       created_by_id=actor.id)
    db.session.add(leave)
    db.session.flush()
    audit.record(actor, "add_leave", "user", agent.id, {"leave": leave.id, "starts_on": data.starts_on.isoformat(),
                                                        "ends_on": data.ends_on.isoformat()})
    db.session.commit()
    return leave


def remove_leave(actor: User, leave_id) -> Availability:
    """Remove a leave; if that makes the agent available today, the unassigned queue is tried again."""
    leave = db.session.get(AgentLeave, int(leave_id)) if str(leave_id).isdigit() else None
    if leave is None:
        raise NotFound(f"No leave {leave_id}")
    agent = _agent(actor, leave.user_id, edit=True)
    audit.record(actor, "remove_leave", "user", agent.id, {"leave": leave.id})
    db.session.delete(leave)
    db.session.commit()
    allocate_waiting(agent.project_ids)
    return _view(actor, agent)


def add_leave_from_form(actor: User, user_id, form: dict) -> str | None:
    """A leave from the board's form (dates as typed): None when added, else what is wrong with it
    (each field named). Not allowed or not found is raised, whatever was posted."""
    _agent(actor, user_id, edit=True)
    try:
        add_leave(actor, user_id, validate_data(LeaveIn, {k: v for k, v in form.items() if v}, "Cannot add the leave"))
    except ValidationFailed as exc:
        db.session.rollback()
        return exc.message + " — " + "; ".join(f"{k.replace('_', ' ')}: {v[0]}" for k, v in exc.details.items())
    return None


def my_leaves(user: User) -> list[AgentLeave]:
    return _view(user, user).leaves
