"""The outbox relay's safety net on RQ cron: if `flask outbox relay` is down, events still flow
(once a minute) and due webhook deliveries still go out."""
from __future__ import annotations

from app.extensions import db
from app.rq_jobs import job_app


def relay_outbox_job(max_seconds: float = 45.0) -> dict:
    from app.services.orchestration import relay
    from app.services.orchestration import webhooks

    with job_app().app_context():
        try:
            relay.ensure_defaults()
            result = relay.drain(max_seconds=max_seconds)
            delivered = webhooks.deliver_due(limit=200)
            return {"done": result.done, "retrying": result.retrying, "dead": result.dead, "webhooks": delivered}
        finally:
            db.session.remove()
