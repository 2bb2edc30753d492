"""Queued ticket batches (`POST /api/tickets/bulk/`): jobs of the `ticket-batch` process.

A batch is a job like any other (a row in `jobs`: progress, log, on `/jobs` and the OGC `/jobs`, in its
project). Its tickets are staged in `ticket_batch_items`, one row per ticket, keyed by the job's id —
not in the job's inputs (job lists, the job page and schedules read those: thousands of tickets and
their requesters) nor in the RQ job's arguments (Redis keeps them; the RQ dashboard shows them). The
job's inputs only name the batch, and its RQ arguments are the job's id.

The job receives the tickets a chunk at a time (one transaction each, progress and a log line after
each), then writes every ticket's outcome on its row and clears its payload. A batch that ends
otherwise (failed, dismissed, its worker died and the reaper failed it) has its remaining payloads
cleared too: by the job itself, or by `clear_ended_batches` (RQ cron) when its worker died. Tickets
received before a failure stay received; sending the batch again is safe, since intake creates or
updates each ticket by (project, external id) and never gives a ticket a second task.

The batch's status URL reads the job row and the outcomes: it answers as long as the job row exists,
whatever RQ has expired.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, null, select, update

from app.extensions import db
from app.models import Job, TicketBatchItem, User
from app.schemas.tickets import TicketBatchIn
from app.services.helpdesk.intake import Outcome, receive_tickets, summarize_outcomes
from app.services.helpdesk.tickets import receiving_project
from app.services.platform.bulk_insert import insert_rows
from app.services.platform.errors import NotFound, ValidationFailed
from app.services.processing import job_status as st
from app.services.processing.errors import NoSuchJob
from app.services.processing.job_access import get_job_for
from app.services.processing.jobs import enqueue_job

log = logging.getLogger(__name__)

PROCESS_ID = "ticket-batch"
CHUNK = 500  # tickets received per transaction, and per progress report
_items = TicketBatchItem.__table__


def enqueue_batch(user: User, batch: TicketBatchIn) -> str:
    """Stage the batch's tickets and queue its job; returns the job's id (also the batch's id:
    GET /api/tickets/batches/<id>/). CREATE_TASK needed, in the caller's project (or `project_id`)."""
    project_id = receiving_project(user, batch.project_id)
    batch_id = str(uuid.uuid4())
    insert_rows(_items, [{"batch_id": batch_id, "position": i, "project_id": project_id, "payload": ticket}
                         for i, ticket in enumerate(batch.tickets)])
    try:
        # The engine authorizes the launch (the staged rows are visible to that check in this
        # transaction) and commits the job's row: the staged tickets are committed with it, or not at all.
        enqueue_job(PROCESS_ID, {"batch": batch_id}, launcher=user, project_id=project_id, job_id=batch_id)
    except Exception:
        db.session.rollback()
        _clear(batch_id)  # the queue was unreachable after the job row was written: the job failed
        raise
    return batch_id


def staged_batch_project(principal, batch_id: str) -> int:
    """The project of a staged batch with tickets still to receive, if `principal` (who also holds
    CREATE_TASK: the engine checks it) is in that project; else ValidationFailed naming `batch`."""
    project_id = db.session.scalar(select(_items.c.project_id).where(
        _items.c.batch_id == batch_id, _items.c.payload.is_not(None)).limit(1))
    if project_id is None or project_id not in principal.project_ids:
        raise ValidationFailed("Invalid inputs — batch: no ticket batch of yours is waiting to be received",
                               {"batch": ["names no ticket batch waiting to be received"]})
    return project_id


def receive_batch(batch_id: str, report: Callable[[int, int], None]) -> dict:
    """Receive a staged batch, a chunk at a time; `report(done, total)` after each chunk (it may raise to
    stop: the job was dismissed). Returns the counts of the batch's summary (its outcomes stay on the
    staged rows). Whatever stops it, the tickets not received are cleared."""
    total, project_id = db.session.execute(select(func.count(), func.min(_items.c.project_id))
                                           .select_from(_items).where(_items.c.batch_id == batch_id)).one()
    try:
        while True:
            rows = db.session.execute(
                select(_items.c.position, _items.c.payload)
                .where(_items.c.batch_id == batch_id, _items.c.payload.is_not(None))
                .order_by(_items.c.position).limit(CHUNK)).all()
            if not rows:
                break
            outcomes = receive_tickets(project_id, [row.payload for row in rows])  # commits the tickets
            for outcome in outcomes:
                outcome.index = rows[outcome.index].position
            db.session.execute(
                update(_items).where(_items.c.batch_id == batch_id, _items.c.position == bindparam("_position"))
                .values(outcome=bindparam("_outcome"), payload=null()),
                [{"_position": o.index, "_outcome": o.as_dict()} for o in outcomes])
            db.session.commit()
            report(rows[-1].position + 1, total)
    except BaseException:
        db.session.rollback()
        try:
            _clear(batch_id)
        except Exception:  # the database is unreachable: clear_ended_batches will do it
            log.exception("could not clear the staged tickets of batch %s", batch_id)
        raise
    summary = summarize_outcomes(_outcomes(batch_id))
    return {key: summary[key] for key in ("received", "actions", "allocation")}


def _outcomes(batch_id: str) -> list[Outcome]:
    return [Outcome(**outcome) for outcome in db.session.execute(
        select(_items.c.outcome).where(_items.c.batch_id == batch_id, _items.c.outcome.is_not(None))
        .order_by(_items.c.position)).scalars()]


def _clear(batch_id: str) -> None:
    db.session.execute(update(_items).where(_items.c.batch_id == batch_id, _items.c.payload.is_not(None))
                       .values(payload=null()))
    db.session.commit()


def clear_ended_batches() -> int:
    """Clear the tickets still staged for batches whose job has ended (their worker died; the reaper
    failed the job). RQ cron. Returns how many were cleared."""
    ended = select(Job.id).where(Job.process_id == PROCESS_ID, Job.status.in_(st.TERMINAL))
    cleared = db.session.execute(update(_items).where(_items.c.payload.is_not(None), _items.c.batch_id.in_(ended))
                                 .values(payload=null())).rowcount
    db.session.commit()
    return cleared


@dataclass(frozen=True)
class TicketBatch:
    """A queued batch as its status URL shows it: its job's status (in RQ's words, which that URL has
    always used), and once finished the summary (`summarize_outcomes`)."""

    id: str
    status: str
    count: int
    enqueued_at: datetime
    progress: int
    message: str
    result: dict | None = None


def batch_status(user: User, batch_id: str) -> TicketBatch:
    """A queued batch, for a user of its project (another project's batch is a 404): status and,
    once finished, its summary with every ticket's outcome."""
    try:
        job = get_job_for(user, batch_id)  # a batch whose worker died is failed here, not left running
    except NoSuchJob:
        job = None
    if job is None or job.process_id != PROCESS_ID:
        raise NotFound(f"No ticket batch '{batch_id}'")
    count = db.session.scalar(select(func.count()).select_from(_items).where(_items.c.batch_id == batch_id))
    result = summarize_outcomes(_outcomes(batch_id)) if job.status == st.SUCCESSFUL else None
    return TicketBatch(job.id, st.to_rq(job.status), count, job.created_at, job.progress, job.message, result)
