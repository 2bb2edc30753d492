"""RQ job functions for ticket intake, ids only. A queued batch of tickets (or a single ticket sent
asynchronously: a batch of one) is a job of the `ticket-batch` process, run by `app.rq_jobs.runner`."""
from __future__ import annotations

from app.extensions import db
from app.rq_jobs import job_app


def create_task_for_ticket(ticket_id: int) -> dict:
    """The seed's `create_task_for_ticket(ticket_id)`: allocate an existing ticket without a task."""
    from app.services.helpdesk.intake import allocate_tickets

    with job_app().app_context():
        try:
            return allocate_tickets([ticket_id])[0].as_dict()
        finally:
            db.session.remove()


def retry_ticket_allocations() -> int:
    """RQ cron: retry allocations whose role source was unreachable, once their backoff has passed."""
    from app.services.helpdesk.intake import retry_due_allocations

    with job_app().app_context():
        try:
            return retry_due_allocations()
        finally:
            db.session.remove()


def clear_ended_ticket_batches() -> int:
    """RQ cron: clear the tickets still staged for batches whose job ended without them (worker died)."""
    from app.services.helpdesk.ticket_batches import clear_ended_batches

    with job_app().app_context():
        try:
            return clear_ended_batches()
        finally:
            db.session.remove()
