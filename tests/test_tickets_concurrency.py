"""Four real worker processes take 2,000 tickets for one role of seven users (PostgreSQL)."""
import random
import time

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select

from app.extensions import get_queue
from app.models import Job, OutboxEvent, Task, TaskAssignment, Ticket
from app.schemas.helpdesk import CategoryIn, DepartmentIn, StaffRoleIn
from app.schemas.tickets import TicketBatchIn
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk.ticket_batches import enqueue_batch
from tests.ticket_fixtures import make_workflow

TICKETS, WORKERS = 2000, 4


def test_four_workers_share_2000_tickets_evenly_and_never_twice(app, db, make_user, worker_process, worker_env,
                                                                monkeypatch):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has one writer, so nothing runs concurrently")
    monkeypatch.setitem(worker_env, "LOG_LEVEL", "WARNING")  # the fixture pipes stderr: keep it small
    boss = make_user("coordinator", username="boss")
    staff = [make_user("agent", username=f"officer{i}") for i in range(7)]
    it = catalog.create_department(boss, DepartmentIn(name="IT"))
    hardware = catalog.create_category(boss, CategoryIn(name="Hardware"))
    role = catalog.create_staff_role(boss, StaffRoleIn(name="Intake officer", user_ids=[u.id for u in staff]))
    make_workflow(boss, "Intake", it, hardware, steps=[("Triage", role)])

    def ticket(n):
        return {"ticket_number": f"C-{n:05d}", "subject": f"Ticket {n}", "department": "IT", "category": "Hardware"}

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
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert count(Ticket) == TICKETS and count(Task) == TICKETS
    assert db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.is_task_allocated.is_(False))) == 0
    twice = db.session.execute(select(Task.ticket_id).group_by(Task.ticket_id).having(func.count() > 1)).all()
    assert twice == []
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)
                             .where(OutboxEvent.event_type == "TaskCreated")) == TICKETS
    per_user = dict(db.session.execute(select(TaskAssignment.user_id, func.count())
                                       .group_by(TaskAssignment.user_id)).all())
    assert sorted(per_user) == sorted(u.id for u in staff)
    assert sum(per_user.values()) == 3 * TICKETS
    assert max(per_user.values()) - min(per_user.values()) <= 1, per_user
    print(f"\n{TICKETS} tickets, {len(jobs)} jobs, {WORKERS} workers: {elapsed:.1f} s; per user {sorted(per_user.values())}")
