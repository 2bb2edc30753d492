"""RQ cron configuration: `rq cron app/tasks/cron_config.py --url $REDIS_URL`.

Every periodic job is declared here, in one list.
"""
import os

from rq import cron

from app.tasks.maintenance import reap_jobs

QUEUE = os.environ.get("RQ_QUEUE", "fieldflow")

cron.register(reap_jobs, QUEUE, interval=60, job_timeout=120, name="reap-stale-jobs")
