"""Round-robin picks made by the database under the role's lock (`locked_pick`), and intake's guess of
workflows and staffing from what its process read last (checked before anything is committed)."""
import threading
from collections import Counter

import pytest
from sqlalchemy import delete, select, update

from app.extensions import db as _db
from app.models import OutboxEvent, RoundRobinState, Task, TaskAssignment, Ticket
from app.schemas.helpdesk import AvailabilityIn, StaffRoleChanges
from app.services.helpdesk import availability
from app.services.helpdesk import workflows as wf
from app.services.helpdesk.intake import receive_ticket
from app.services.helpdesk.round_robin import Member, next_assignees
from app.services.helpdesk.staff_roles import update_staff_role
from tests.ticket_fixtures import desk, payload  # noqa: F401


def _assignments(db, external_id):
    db.session.expire_all()
    return db.session.execute(
        select(TaskAssignment.user_id, TaskAssignment.reason).join(Task).join(Ticket)
        .where(Ticket.external_id == external_id).order_by(TaskAssignment.id)).all()


def test_the_database_picks_what_the_rotation_would_even_after_a_former_member(app, db, desk):
    a1, a2, a3 = desk.agents
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(user_ids=[a1.id, a3.id], max_assignments=2))
    receive_ticket(desk.project_id, payload("LP-0"))  # a1, a3
    # The last user served has since left the role: the rotation carries on after their id.
    db.session.execute(update(RoundRobinState).where(RoundRobinState.staff_role_id == desk.intake.id)
                       .values(last_user_id=a2.id))
    db.session.commit()
    outcome = receive_ticket(desk.project_id, payload("LP-1"))
    expected, _last = next_assignees([Member(a1.id, "a1"), Member(a3.id, "a3")], a2.id, 2, "Intake officer")
    assert [(p.user_id, p.reason) for p in expected] == [(a3.id, f"round-robin for role Intake officer: next after "
                                                                 f"user {a2.id}"),
                                                         (a1.id, f"round-robin for role Intake officer: next after "
                                                                 f"user {a3.id}")]
    assert [(u["userID"], u["reason"]) for u in outcome.users] == [(p.user_id, p.reason) for p in expected]
    assert _assignments(db, "LP-1") == [(p.user_id, p.reason) for p in expected]
    event = db.session.execute(select(OutboxEvent).where(OutboxEvent.aggregate_id == str(outcome.task_id))).scalar_one()
    assert event.payload["assignees"] == [a3.id, a1.id]
    state = db.session.get(RoundRobinState, desk.intake.id)
    assert state.last_user_id == a1.id


def test_nobody_served_yet_starts_the_rotation_and_away_members_are_skipped(app, db, desk):
    a1, a2, a3 = desk.agents
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1))
    availability.set_availability(desk.boss, a1.id, AvailabilityIn(away=True))
    first = receive_ticket(desk.project_id, payload("LP-A"))
    assert [(u["userID"], u["reason"]) for u in first.users] == [
        (a2.id, f"round-robin for role Intake officer: first in the rotation (skipped away user {a1.id})")]
    second = receive_ticket(desk.project_id, payload("LP-B"))
    assert [u["userID"] for u in second.users] == [a3.id]


def test_intake_checks_its_guess_of_staffing_and_workflows(app, db, desk):
    a1, a2, a3 = desk.agents
    receive_ticket(desk.project_id, payload("G-0"))  # this process now knows the index and the staffing
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(user_ids=[a2.id, a3.id]))
    assert {u["userID"] for u in receive_ticket(desk.project_id, payload("G-1")).users} == {a2.id, a3.id}
    wf.set_deployed(desk.boss, desk.workflow.id, False)
    assert receive_ticket(desk.project_id, payload("G-2")).allocation_status == "no_workflow"
    wf.set_deployed(desk.boss, desk.workflow.id, True)
    assert receive_ticket(desk.project_id, payload("G-3")).allocation_status == "allocated"


def test_concurrent_single_tickets_share_the_role_exactly_in_turn(app, db, desk):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1))
    receive_ticket(desk.project_id, payload("C-first"))  # this process has met the role's state row ...
    db.session.execute(delete(RoundRobinState))  # ... which is gone now: the racers must not each start afresh
    db.session.commit()
    project_id, errors, start = desk.project_id, [], threading.Barrier(4)

    def send(thread: int) -> None:
        try:
            with app.app_context():
                start.wait(10)  # all four race for the role's next ticket (its state row does not exist)
                for n in range(15):
                    assert receive_ticket(project_id, payload(f"C-{thread}-{n}")).allocation_status == "allocated"
                _db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    db.session.expire_all()
    # In commit order (assignment ids), every user follows the one before in the rotation: never twice running.
    served = db.session.execute(select(TaskAssignment.user_id).join(Task).join(Ticket)
                                .where(Ticket.external_id.like("C-%-%")).order_by(TaskAssignment.id)).scalars().all()
    members = sorted(a.id for a in desk.agents)
    assert len(served) == 60 and Counter(served) == {m: 20 for m in members}
    assert all(members[(members.index(a) + 1) % 3] == b for a, b in zip(served, served[1:]))
