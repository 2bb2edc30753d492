"""RQ job functions for ticket intake (plain RQ jobs: one per ticket or per batch, no `jobs` row —
intake is high-volume). Each loads ids/data, calls a service, returns a small summary."""
from __future__ import annotations

from app.extensions import db
from app.rq_jobs import job_app


def receive_ticket(ticket_data: dict, project_id: int) -> dict:
    """The seed's `receive_ticket(ticket_data)`: create or update one ticket and allocate it if new."""
    from app.services.helpdesk.intake import receive_ticket as receive

    with job_app().app_context():
        try:
            return receive(project_id, ticket_data).as_dict()
        finally:
            db.session.remove()


def receive_tickets_job(project_id: int, tickets: list) -> dict:
    """A bulk batch, in one transaction."""
    from app.services.helpdesk.intake import receive_tickets, summarize_outcomes

    with job_app().app_context():
        try:
            return summarize_outcomes(receive_tickets(project_id, tickets))
        finally:
            db.session.remove()


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
