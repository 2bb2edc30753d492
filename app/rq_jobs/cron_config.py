"""RQ cron configuration: `rq cron app/rq_jobs/cron_config.py --url $REDIS_URL`.

Every periodic job is declared here, in one list.
"""
import os

from rq import cron

from app.rq_jobs.intake import clear_ended_ticket_batches, retry_ticket_allocations
from app.rq_jobs.maintenance import reap_jobs, sweep_job_checkpoints
from app.rq_jobs.outbox import relay_outbox_job
from app.rq_jobs.schedules import dispatch_schedules
from app.rq_jobs.sla import scan_sla_breaches_job

QUEUE = os.environ.get("RQ_QUEUE", "fieldflow")
# The workflow seed's SLA_MONITOR_INTERVAL (seconds between breach scans; RQ cron's granularity is a second)
SLA_MONITOR_INTERVAL = max(1, int(os.environ.get("SLA_MONITOR_INTERVAL") or 60))

cron.register(reap_jobs, QUEUE, interval=60, job_timeout=120, name="reap-stale-jobs")
# Step checkpoints (retry from the failed step) of ended jobs, kept CHECKPOINT_RETENTION_DAYS for failed ones.
cron.register(sweep_job_checkpoints, QUEUE, interval=3600, job_timeout=600, name="sweep-job-checkpoints")
# Schedules table → due runs; unique job ids per schedule and period, so a second `rq cron` is harmless.
cron.register(dispatch_schedules, QUEUE, interval=60, job_timeout=120, name="dispatch-schedules")
# Tickets whose role source was unreachable are allocated again when it answers.
cron.register(retry_ticket_allocations, QUEUE, interval=60, job_timeout=300, name="retry-ticket-allocations")
# Ticket batches whose worker died (the reaper failed their job): their unreceived tickets are cleared.
cron.register(clear_ended_ticket_batches, QUEUE, interval=300, job_timeout=120, name="clear-ended-ticket-batches")
# Safety net for the outbox relay process (`flask outbox relay`): events and webhooks flow even without it.
cron.register(relay_outbox_job, QUEUE, interval=60, job_timeout=120, name="relay-outbox")
cron.register(scan_sla_breaches_job, QUEUE, interval=SLA_MONITOR_INTERVAL, job_timeout=120, name="scan-sla-breaches")
