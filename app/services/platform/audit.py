"""The audit trail: who changed what. Rows join the caller's transaction (no commit here)."""
from __future__ import annotations

from app.extensions import db
from app.models import AuditLog, User


def record(actor: User | None, action: str, object_type: str, object_id, changes: dict | None = None,
           source: str = "web") -> AuditLog:
    row = AuditLog(actor_id=actor.id if actor else None, action=action, object_type=object_type,
                   object_id=str(object_id), changes=changes or {}, source=source)
    db.session.add(row)
    return row
