"""What a task card says about time: the deadline that comes first — its open SLA clock's due time or
the task's own due date (a ticket's due date) — as time left or how long overdue, coloured by the
thresholds (the clock's warning time; for a due date, WARNING_SHARE of the time from the task's creation
to it), with the percentage of that window used. The board's at-risk and breached filters use the same
rules in SQL (`at_risk_condition`, `breached_condition`), so a card and its filter never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, extract, not_, or_, select

from app.extensions import db
from app.models import SlaRecord, SlaStatus, Task, utcnow
from app.services.orchestration.sla import remaining_at
from app.services.orchestration.sla_reports import percent_used
from app.services.orchestration.state_machines import TASK

WARNING_SHARE = 0.8  # as the SLA configs' default warning_percent
FILTERS = ("at_risk", "breached")
RANK = {"breached": 0, "warning": 1, "ok": 2, "paused": 3}


@dataclass(frozen=True)
class Deadline:
    state: str  # ok | warning | breached | paused
    due_at: datetime | None  # None: a paused clock
    seconds_left: float  # negative once overdue
    percent: int  # of the window used (over 100 once overdue)
    source: str  # "SLA resolution", "SLA response" or "due date"
    label: str  # "3 h 20 min left", "2 d 4 h overdue", "paused, 2 h left"


def span(seconds: float) -> str:
    """"2 d 4 h", "3 h 20 min", "25 min" (at least "1 min")."""
    minutes = max(round(abs(seconds) / 60), 1)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def _label(state: str, seconds_left: float) -> str:
    if state == "paused":
        return f"paused, {span(seconds_left)} left"
    return f"{span(seconds_left)} overdue" if seconds_left < 0 else f"{span(seconds_left)} left"


def _from_clock(record: SlaRecord, now: datetime) -> Deadline:
    percent = int(round(percent_used(record, now)))
    if record.status == SlaStatus.PAUSED.value or record.due_at is None:
        left = (record.remaining_minutes or 0.0) * 60
        return Deadline("paused", None, left, percent, f"SLA {record.kind}", _label("paused", left))
    left = (record.due_at - now).total_seconds()
    state = "breached" if left < 0 else ("warning" if record.warn_at is not None and record.warn_at <= now else "ok")
    return Deadline(state, record.due_at, left, percent, f"SLA {record.kind}", _label(state, left))


def _from_due_date(task: Task, now: datetime) -> Deadline:
    window = (task.due_at - task.created_at).total_seconds()
    used = (now - task.created_at).total_seconds()
    left = (task.due_at - now).total_seconds()
    percent = int(round(100 * used / window)) if window > 0 else 100 + (1 if left < 0 else 0)
    state = "breached" if left < 0 else ("warning" if window <= 0 or used >= WARNING_SHARE * window else "ok")
    return Deadline(state, task.due_at, left, max(percent, 0), "due date", _label(state, left))


def deadlines(tasks: list[Task], now: datetime | None = None) -> dict[int, Deadline]:
    """{task id: its deadline} for the open tasks that have one (an open SLA clock or a due date)."""
    now = now or utcnow()
    open_tasks = [t for t in tasks if t.status not in TASK.terminal]
    clocks: dict[int, list[SlaRecord]] = {}
    if open_tasks:
        for record in db.session.execute(select(SlaRecord).where(
                SlaRecord.task_id.in_([t.id for t in open_tasks]), SlaRecord.stopped_at.is_(None))).scalars():
            clocks.setdefault(record.task_id, []).append(record)
    out = {}
    for task in open_tasks:
        found = [_from_clock(r, now) for r in clocks.get(task.id, [])]
        if task.due_at is not None:
            found.append(_from_due_date(task, now))
        if found:  # the worst state (as the filters see it), then the least time left
            out[task.id] = min(found, key=lambda d: (RANK[d.state], d.seconds_left))
    return out


def _epoch(column):
    return extract("epoch", column)


def breached_condition(now: datetime):
    """An open task past its due date or one of its running SLA clocks' due time."""
    clock = exists().where(SlaRecord.task_id == Task.id, SlaRecord.stopped_at.is_(None),
                           SlaRecord.due_at.is_not(None), SlaRecord.due_at < now)
    return and_(Task.status.not_in(TASK.terminal), or_(clock, and_(Task.due_at.is_not(None), Task.due_at < now)))


def at_risk_condition(now: datetime):
    """An open task not breached but past a clock's warning time or WARNING_SHARE of its due date's window."""
    clock = exists().where(SlaRecord.task_id == Task.id, SlaRecord.stopped_at.is_(None),
                           SlaRecord.warn_at.is_not(None), SlaRecord.warn_at <= now)
    window = and_(Task.due_at.is_not(None), _epoch(Task.due_at) * WARNING_SHARE
                  + _epoch(Task.created_at) * (1 - WARNING_SHARE) <= now.timestamp())
    return and_(Task.status.not_in(TASK.terminal), or_(clock, window), not_(breached_condition(now)))
