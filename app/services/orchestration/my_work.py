"""The home page's "my work": open tasks the user is assigned to now, how many of them broke their
SLA, and — for admins and the platform operator — the system's health."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.models import SlaRecord, Task, User
from app.services.orchestration.health import health_report
from app.services.orchestration.state_machines import TASK
from app.services.orchestration.task_queries import tasks_query

SHOWN = 8


@dataclass
class MyWork:
    tasks: list[Task]
    open_count: int
    breached: int
    health: dict | None  # /healthz's body with the outbox, for admins and the platform operator


def my_work(user: User) -> MyWork:
    mine = tasks_query(user, mine=True).where(Task.status.in_(TASK.active))
    ids = mine.with_only_columns(Task.id).order_by(None).scalar_subquery()
    open_count = db.session.scalar(select(func.count()).select_from(mine.order_by(None).subquery()))
    breached = db.session.scalar(select(func.count(func.distinct(SlaRecord.task_id)))
                                 .where(SlaRecord.task_id.in_(ids), SlaRecord.breached_at.is_not(None)))
    tasks = list(db.session.execute(mine.limit(SHOWN)).scalars())
    health = health_report(with_outbox=True).body if (user.is_admin or user.is_platform_operator) else None
    return MyWork(tasks, open_count, breached, health)
