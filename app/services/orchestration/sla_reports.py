"""What the SLA pages, the board badges and the API show of the clocks: percent used, a task's
badge, the at-risk and breached lists, and compliance per service area. The clocks themselves
(start, pause, stop, scan) are `app.services.orchestration.sla`."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from app.extensions import db
from app.models import SlaRecord, SlaStatus, Task, Ticket, User, utcnow
from app.services.platform.access import project_scope
from app.services.orchestration.sla import CHUNK, RESOLUTION, iso_z, remaining_at


def actual_minutes(record: SlaRecord, now: datetime | None = None) -> float:
    """Minutes of the target used (on its calendar), at its stop time if stopped: the seed's `actual_minutes`."""
    return round(_used(record, now), 1)


def _used(record: SlaRecord, now: datetime | None) -> float:
    return record.target_minutes - remaining_at(record, record.stopped_at or now or utcnow())


def percent_used(record: SlaRecord, now: datetime | None = None) -> float:
    """How much of the target is used (over 100 once overdue), at its stop time if stopped."""
    if record.target_minutes <= 0:
        return 100.0
    return round(100 * _used(record, now) / record.target_minutes, 1)


def _pick(records: list[SlaRecord]) -> SlaRecord:
    """The clock a badge shows: the open one due first (paused last), else the resolution clock."""
    open_ = [r for r in records if r.stopped_at is None]
    if open_:
        return min(open_, key=lambda r: (r.due_at is None, r.due_at or r.started_at, r.id))
    return next((r for r in records if r.kind == RESOLUTION), records[0])


def task_sla_summary(task_ids: list[int]) -> dict[int, dict]:
    """Per task id (tasks without clocks are absent): its open clock's kind, status, due time (ISO),
    percent used, and whether it is warned / breached / paused."""
    by_task: dict[int, list[SlaRecord]] = {}
    ids = sorted(set(task_ids))
    for i in range(0, len(ids), CHUNK):
        for record in db.session.execute(select(SlaRecord).where(SlaRecord.task_id.in_(ids[i:i + CHUNK]))).scalars():
            by_task.setdefault(record.task_id, []).append(record)
    now = utcnow()
    out = {}
    for task_id, records in by_task.items():
        r = _pick(records)
        out[task_id] = {"kind": r.kind, "status": r.status, "due_at": iso_z(r.due_at) if r.due_at else None,
                        "target_minutes": r.target_minutes, "actual_minutes": actual_minutes(r, now),
                        "percent_used": percent_used(r, now),
                        "warned": r.warned_at is not None, "breached": r.breached_at is not None,
                        "paused": r.status == SlaStatus.PAUSED.value}
    return out


AT_RISK = and_(SlaRecord.warned_at.is_not(None), SlaRecord.breached_at.is_(None), SlaRecord.stopped_at.is_(None))
BREACHED_OPEN = and_(SlaRecord.breached_at.is_not(None), SlaRecord.stopped_at.is_(None))


def records_query(user: User, which: str):
    """Open clocks of the user's projects that are at risk (warned, not breached) or breached, due first."""
    condition = AT_RISK if which == "at_risk" else BREACHED_OPEN
    return (select(SlaRecord).where(SlaRecord.project_id.in_(project_scope(user)), condition)
            .order_by(SlaRecord.due_at.is_(None), SlaRecord.due_at, SlaRecord.id))


def record_rows(records: list[SlaRecord]) -> list[dict]:
    """Records with their task (title, status), the title to show (a ticket task's is its ticket's
    subject: such tasks have no title of their own) and percent used, for the at-risk / breached lists."""
    found = {task.id: (task, subject) for task, subject in db.session.execute(
        select(Task, Ticket.subject).outerjoin(Ticket, Ticket.id == Task.ticket_id)
        .where(Task.id.in_({r.task_id for r in records} or {-1})))}
    now = utcnow()
    rows = []
    for r in records:
        task, subject = found.get(r.task_id, (None, None))
        title = (subject if task.ticket_id else task.title) if task is not None else ""
        rows.append({"record": r, "task": task, "title": title or "", "percent_used": percent_used(r, now)})
    return rows


def compliance_summary(user: User, days: int = 30, now: datetime | None = None) -> dict:
    """Per service area of the user's projects: clocks met and missed in the last `days` days, clocks
    breached and still open, and compliance = met / (met + missed + breached open); plus how many open
    clocks are at risk or breached."""
    now = now or utcnow()
    scope = SlaRecord.project_id.in_(project_scope(user))
    since = now - timedelta(days=days)
    areas: dict[str, dict] = {}

    def area(name: str) -> dict:
        return areas.setdefault(name, {"service_area": name, "met": 0, "missed": 0, "breached_open": 0})

    for name, status, n in db.session.execute(
            select(SlaRecord.service_area, SlaRecord.status, func.count()).where(
                scope, SlaRecord.stopped_at >= since,
                SlaRecord.status.in_((SlaStatus.MET.value, SlaStatus.MISSED.value)))
            .group_by(SlaRecord.service_area, SlaRecord.status)):
        area(name)[status] += n
    for name, n in db.session.execute(select(SlaRecord.service_area, func.count()).where(scope, BREACHED_OPEN)
                                      .group_by(SlaRecord.service_area)):
        area(name)["breached_open"] += n
    for row in areas.values():
        total = row["met"] + row["missed"] + row["breached_open"]
        row["compliance_percent"] = round(100 * row["met"] / total, 1) if total else None
    at_risk = db.session.execute(select(func.count()).where(scope, AT_RISK)).scalar_one()
    breached = db.session.execute(select(func.count()).where(scope, BREACHED_OPEN)).scalar_one()
    running = db.session.execute(select(func.count()).where(scope, SlaRecord.stopped_at.is_(None))).scalar_one()
    return {"window_days": days, "areas": sorted(areas.values(), key=lambda a: a["service_area"]),
            "at_risk": at_risk, "breached": breached, "open": running}
