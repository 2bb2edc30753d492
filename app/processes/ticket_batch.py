"""`ticket-batch`: receives a batch of tickets queued with `POST /api/tickets/bulk/`.

The tickets are staged in the database for the job (`app.services.helpdesk.ticket_batches`); the job's
inputs only name the batch, whose id is the job's own. Launching it in any other way (an OGC execute
request, a schedule) names no batch of its own: such a job fails without touching any ticket.
"""
from __future__ import annotations

from pydantic import Field

from app.models import Permission
from app.schemas.parsing import Input
from app.schemas.types import Text
from app.services.helpdesk import ticket_batches
from app.services.platform.errors import DomainError
from app.services.processing.registry import Process, register_process


class TicketBatchRun(Input):
    batch: Text(36, min_length=1) = Field(
        title="Batch", description="The staged batch this job receives (its id is the job's; "
                                   "made by POST /api/tickets/bulk/)")


def authorize(principal, inputs: TicketBatchRun) -> int:
    return ticket_batches.staged_batch_project(principal, inputs.batch)


def run(ctx, inputs: TicketBatchRun) -> dict:
    if inputs.batch != ctx.job_id:
        raise DomainError("A ticket batch is received by the job it was queued with; send tickets with "
                          "POST /api/tickets/bulk/.")

    def report(done: int, total: int) -> None:
        ctx.progress(100 * done / total if done < total else 99, f"Received {done} of {total} tickets")

    return ticket_batches.receive_batch(inputs.batch, report)


register_process(
    Process(
        id=ticket_batches.PROCESS_ID,
        title="Ticket batch",
        description="Receives a batch of tickets sent to POST /api/tickets/bulk/: creates or updates each by its "
                    "external id and allocates the new ones, a chunk at a time. Its tickets are staged in the "
                    "database for this job only (never in its inputs or the queue) and cleared once received.",
        version="1.0.0",
        inputs=TicketBatchRun,
        run=run,
        # what POST /api/tickets/bulk/ needs, checked again in the worker
        permission=Permission.CREATE_TASK,
        authorize=authorize,
        outputs_schema={
            "received": {"schema": {"type": "integer"}},
            "actions": {"schema": {"type": "object", "additionalProperties": {"type": "integer"}}},
            "allocation": {"schema": {"type": "object", "additionalProperties": {"type": "integer"}}},
        },
        timeout_seconds=900,
    )
)
