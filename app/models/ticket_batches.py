"""Queued ticket batches: the tickets of a batch, staged for the job that receives them."""
from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, JSONType


class TicketBatchItem(Base):
    """One ticket of a queued batch (`POST /api/tickets/bulk/`). `batch_id` is the id of the
    `ticket-batch` job that receives it. `payload` is the ticket as sent, kept only until the job has
    received it (or the job ended otherwise); `outcome` is what happened to it, listed by the batch's
    status URL. Not in the job's inputs (lists and the OGC API read those) nor in RQ (Redis)."""

    __tablename__ = "ticket_batch_items"
    __table_args__ = (
        # the tickets still to receive (the job's next chunk, the sweep of ended batches)
        Index("ix_ticket_batch_items_pending", "batch_id", postgresql_where=text("payload IS NOT NULL"),
              sqlite_where=text("payload IS NOT NULL")),
    )

    batch_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    payload: Mapped[dict | None] = mapped_column(JSONType)
    outcome: Mapped[dict | None] = mapped_column(JSONType)
