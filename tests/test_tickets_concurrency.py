"""Four real worker processes take 2,000 tickets (PostgreSQL): IT tickets for a round-robin role of seven
users of whom one is away and one on leave; HR tickets for a least-open-tasks role of four users with a
cap of open tasks, one of them away. Nobody unavailable is picked, caps and the rotation are exact,
no ticket gets two tasks and none is lost: those that found nobody free wait, and are allocated when
someone comes back and when the cap is lifted."""
import random
import time
from datetime import timedelta

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from app.extensions import get_queue
from app.models import Job, OutboxEvent, Task, TaskAssignment, Ticket, utcnow
from app.schemas.helpdesk import AvailabilityIn, CategoryIn, DepartmentIn, LeaveIn, StaffRoleChanges, StaffRoleIn
from app.services.helpdesk import availability
from app.services.helpdesk.intake import allocate_waiting
from app.schemas.tickets import TicketBatchIn
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk.ticket_batches import enqueue_batch
from tests.ticket_fixtures import make_workflow

TICKETS, WORKERS = 2000, 4
HR_EVERY, HR_CAP = 4, 100  # every 4th ticket is HR's (500); HR agents hold at most 100 open tasks each


def test_four_workers_share_2000_tickets_evenly_and_never_twice(app, db, make_user, worker_process, worker_env,
                                                                monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has one writer, so nothing runs concurrently")
    monkeypatch.setitem(worker_env, "LOG_LEVEL", "WARNING")  # the fixture pipes stderr: keep it small
    boss = make_user("coordinator", username="boss")
    staff = [make_user("agent", username=f"officer{i}") for i in range(7)]
    hr_staff = [make_user("agent", username=f"hr{i}") for i in range(4)]
    it = catalog.create_department(boss, DepartmentIn(name="IT"))
    hr = catalog.create_department(boss, DepartmentIn(name="HR"))
    hardware = catalog.create_category(boss, CategoryIn(name="Hardware"))
    role = catalog.create_staff_role(boss, StaffRoleIn(name="Intake officer", user_ids=[u.id for u in staff]))
    hr_role = catalog.create_staff_role(boss, StaffRoleIn(name="HR agent", user_ids=[u.id for u in hr_staff],
                                                          max_assignments=1, assignment_mode="least_open",
                                                          max_open_tasks=HR_CAP))
    make_workflow(boss, "Intake", it, hardware, steps=[("Triage", role)])
    make_workflow(boss, "HR intake", hr, hardware, steps=[("Triage", hr_role)])
    today = utcnow().date()
    availability.set_availability(boss, staff[0].id, AvailabilityIn(away=True))
    availability.add_leave(boss, staff[1].id, LeaveIn(starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=1)))
    availability.set_availability(boss, hr_staff[0].id, AvailabilityIn(away=True))
    unavailable = {staff[0].id, staff[1].id, hr_staff[0].id}

    def ticket(n):
        return {"ticket_number": f"C-{n:05d}", "subject": f"Ticket {n}",
                "department": "HR" if n % HR_EVERY == HR_EVERY - 1 else "IT", "category": "Hardware"}

    # Single tickets queued (batches of one), batches, and re-deliveries of tickets other jobs are creating
    # at the same time: each a `ticket-batch` job, staged in the database, its RQ job carrying its id.
    batches = [[ticket(n)] for n in range(200)]
    batches += [[ticket(n) for n in range(start, start + 25)] for start in range(200, TICKETS, 25)]
    rng = random.Random(7)
    batches += [[ticket(rng.randrange(TICKETS)) for _ in range(20)] for _ in range(15)]
    rng.shuffle(batches)
    jobs = [enqueue_batch(boss, TicketBatchIn(tickets=batch)) for batch in batches]
    queue = get_queue()

    started = time.monotonic()
    workers = [worker_process(burst=True) for _ in range(WORKERS)]
    for proc in workers:
        proc.wait(timeout=120)
    elapsed = time.monotonic() - started
    assert FailedJobRegistry(queue=queue).count == 0, [p.stderr.read()[-2000:] for p in workers]
    assert db.session.execute(select(Job.status, func.count()).where(Job.id.in_(jobs)).group_by(Job.status)).all() == [
        ("successful", len(jobs))]

    db.session.expire_all()
    count = lambda model, *where: db.session.scalar(select(func.count()).select_from(model).where(*where))  # noqa: E731
    hr_tickets = TICKETS // HR_EVERY
    hr_now = 3 * HR_CAP  # three HR agents free, each up to the cap
    assert count(Ticket) == TICKETS and count(Task) == TICKETS - (hr_tickets - hr_now)
    assert count(Ticket, Ticket.allocation_status == "unassigned") == hr_tickets - hr_now
    assert count(Ticket, Ticket.is_task_allocated.is_(False)) == hr_tickets - hr_now
    twice = db.session.execute(select(Task.ticket_id).group_by(Task.ticket_id).having(func.count() > 1)).all()
    assert twice == []
    doubled = db.session.execute(select(TaskAssignment.task_id, TaskAssignment.user_id).group_by(
        TaskAssignment.task_id, TaskAssignment.user_id).having(func.count() > 1)).all()
    assert doubled == []  # nobody twice on one task
    assert count(OutboxEvent, OutboxEvent.event_type == "TaskCreated") == count(Task)
    per_user = dict(db.session.execute(select(TaskAssignment.user_id, func.count())
                                       .group_by(TaskAssignment.user_id)).all())
    assert not unavailable & set(per_user), per_user  # an unavailable agent is never picked
    it_counts = [per_user[u.id] for u in staff if u.id not in unavailable]
    hr_counts = [per_user[u.id] for u in hr_staff if u.id not in unavailable]
    assert sum(it_counts) == 3 * (TICKETS - hr_tickets) and max(it_counts) - min(it_counts) <= 1, per_user
    assert hr_counts == [HR_CAP] * 3, per_user  # the cap holds exactly under four workers

    # Nothing is lost: hr0 comes back and takes up to the cap; lifting the cap allocates the rest.
    back = availability.set_availability(boss, hr_staff[0].id, AvailabilityIn(away=False))
    assert back.allocated == HR_CAP
    catalog.update_staff_role(boss, hr_role.id, StaffRoleChanges(max_open_tasks=None))  # tries the queue again
    assert allocate_waiting() == 0
    db.session.expire_all()
    assert count(Task) == TICKETS and count(Ticket, Ticket.is_task_allocated.is_(False)) == 0
    hr_final = dict(db.session.execute(select(TaskAssignment.user_id, func.count())
                                       .where(TaskAssignment.user_id.in_([u.id for u in hr_staff]))
                                       .group_by(TaskAssignment.user_id)).all())
    assert sum(hr_final.values()) == hr_tickets
    print(f"\n{TICKETS} tickets, {len(jobs)} jobs, {WORKERS} workers: {elapsed:.1f} s")
    print(f"IT round-robin, 5 of 7 available (officer0 away, officer1 on leave): per user {sorted(it_counts)}, "
          f"max-min {max(it_counts) - min(it_counts)}")
    print(f"HR least-open, cap {HR_CAP}, hr0 away: per user {hr_counts} while the run lasted, "
          f"{hr_tickets - hr_now} waiting; after hr0 came back and the cap was lifted: "
          f"{[hr_final.get(u.id, 0) for u in hr_staff]}")
