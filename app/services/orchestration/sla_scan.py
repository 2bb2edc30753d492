"""The SLA scan (DESIGN, "SLA"): clocks whose warning or due time has passed are marked, and one
`SlaWarning` / `SlaBreached` outbox event is written per clock newly marked — two set-based UPDATEs on
indexed columns, whatever the calendars (due times are stored in UTC by `sla`). Run by RQ cron
(`app.rq_jobs.sla`)."""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import String, cast, func, insert, literal, select, update

from app.extensions import db
from app.models import OutboxEvent, SlaRecord, SlaStatus, Task, utcnow
from app.models.base import UTCDateTime
from app.services.orchestration.sla import CHUNK, iso_z
from app.services.orchestration.state_machines import task_correlation
from app.services.platform.bulk_insert import insert_rows, is_postgresql
from app.services.platform.metrics import count
from app.services.platform.outbox import event_columns, event_values

log = logging.getLogger(__name__)


def _correlations(task_ids: set[int]) -> dict[int, str]:
    """Correlation ids as transitions write them: a ticket's tasks share the ticket's."""
    out = {task_id: task_correlation(task_id, None) for task_id in task_ids}
    ids = sorted(task_ids)
    for i in range(0, len(ids), CHUNK):
        rows = db.session.execute(select(Task.id, Task.ticket_id).where(
            Task.id.in_(ids[i:i + CHUNK]), Task.ticket_id.is_not(None))).all()
        out.update({task_id: task_correlation(task_id, ticket_id) for task_id, ticket_id in rows})
    return out


def _event_payload(row) -> dict:
    return {"task_id": row.task_id, "sla_record_id": row.id, "kind": row.kind, "project_id": row.project_id,
            "service_area": row.service_area, "task_type": row.task_type, "due_at": iso_z(row.due_at),
            "target_minutes": row.target_minutes}


def _marks(at):
    """The two idempotent UPDATEs: warn clocks past their warning time and not yet due; breach clocks
    past due. A clock already past due gets only the breach (its warning would be stale)."""
    t = SlaRecord.__table__
    warn = update(t).where(t.c.warned_at.is_(None), t.c.stopped_at.is_(None), t.c.breached_at.is_(None),
                           t.c.warn_at <= at, t.c.due_at >= at).values(warned_at=at)
    breach = update(t).where(t.c.breached_at.is_(None), t.c.stopped_at.is_(None), t.c.due_at < at).values(
        breached_at=at, status=SlaStatus.BREACHED.value, warned_at=func.coalesce(t.c.warned_at, at))
    return (("SlaWarning", warn), ("SlaBreached", breach))


def _returning(stmt):
    t = SlaRecord.__table__
    return stmt.returning(t.c.id, t.c.task_id, t.c.kind, t.c.project_id, t.c.service_area, t.c.task_type,
                          t.c.due_at, t.c.target_minutes)


def _mark_and_emit_in_python(event_type: str, stmt) -> int:
    rows = db.session.execute(_returning(stmt)).all()
    correlations = _correlations({row.task_id for row in rows})
    events = [event_values(event_type, "task", row.task_id, _event_payload(row),
                           correlation_id=correlations[row.task_id]) for row in rows]
    insert_rows(OutboxEvent.__table__, events)
    return len(rows)


def _mark_and_emit_in_postgresql(event_type: str, stmt) -> int:
    """One statement: `WITH hit AS (UPDATE … RETURNING …) INSERT INTO outbox_events SELECT … FROM hit`,
    so 10,000 breaches never travel to Python and back. Constant columns come from `event_columns`,
    the per-row ones (id, aggregate id, payload, correlation id) are built as the Python path does (the
    tests check both paths' payloads against the catalogue)."""
    hit = _returning(stmt).cte("hit")
    outbox = OutboxEvent.__table__
    template = event_columns(event_type, "task")
    per_row = {
        "id": cast(func.gen_random_uuid(), String),
        "aggregate_id": cast(hit.c.task_id, String),
        "payload": func.jsonb_build_object(
            "task_id", hit.c.task_id, "sla_record_id", hit.c.id, "kind", hit.c.kind, "project_id", hit.c.project_id,
            "service_area", hit.c.service_area, "task_type", hit.c.task_type,
            "due_at", func.to_char(func.timezone("UTC", hit.c.due_at), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
            "target_minutes", hit.c.target_minutes),
        # a lookup by primary key per clock: a join let the planner hash the whole tasks table
        "correlation_id": func.coalesce(
            literal("ticket:") + cast(select(Task.ticket_id).where(Task.id == hit.c.task_id).scalar_subquery(), String),
            literal("task:") + cast(hit.c.task_id, String)),
    }
    columns = list(per_row) + [name for name in template if name not in per_row]
    values = [per_row[name] if name in per_row else literal(template[name], outbox.c[name].type) for name in columns]
    source = select(*values).select_from(hit)
    emitted = insert(outbox).from_select(columns, source).returning(outbox.c.id).cte("emitted")
    return db.session.execute(select(func.count()).select_from(emitted)).scalar_one()


def scan_sla_breaches(now: datetime | None = None) -> dict:
    """Mark clocks whose warning time or due time has passed and emit one `SlaWarning` / `SlaBreached`
    outbox event per newly marked clock, in one transaction (commits). Idempotent: a second scan finds
    nothing new, and two overlapping scans cannot mark a clock twice (the second UPDATE re-checks its
    WHERE on the locked row). Breached clocks keep running until the task stops them (then "missed")."""
    now = now or utcnow()
    mark = _mark_and_emit_in_postgresql if is_postgresql() else _mark_and_emit_in_python
    counts = {event_type: mark(event_type, stmt) for event_type, stmt in _marks(literal(now, UTCDateTime()))}
    db.session.commit()
    warned, breached = counts["SlaWarning"], counts["SlaBreached"]
    if breached:
        count("sla_records_breached_total", breached)
    if warned:
        count("sla_records_warned_total", warned)
    if warned or breached:
        log.info("SLA scan: %d warned, %d breached", warned, breached)
    return {"warned": warned, "breached": breached}
