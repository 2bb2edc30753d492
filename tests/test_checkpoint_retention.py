"""Step checkpoints (what retry-from-the-failed-step reads) do not pile up: a successful job's go once
it ended, a failed job's after CHECKPOINT_RETENTION_DAYS (it can then only be re-run), a deleted
job's once as old; running jobs and recent failures keep theirs."""
import os
import time
import uuid
from datetime import timedelta

from app.models import Job, User, utcnow
from app.extensions import get_redis
from app.rq_jobs.maintenance import sweep_job_checkpoints
from app.services.processing import job_status as st
from app.services.processing.job_actions import retry_step
from app.services.processing.steps import sweep_checkpoints
from tests.eo_fixtures import box


def test_old_checkpoints_are_swept_and_the_retry_button_goes_with_them(app, db, eo, run_worker, client, login,
                                                                       monkeypatch, tmp_path):
    for application in (app, client.application):  # an instance folder of its own: other tests' checkpoints stay
        monkeypatch.setattr(application, "instance_path", str(tmp_path / "instance"))
    eo.district("Dist0000001", box(18, 3, 20, 5))
    old, recent = (eo.run(run_worker, datasetId="chirps-daily", start="2021-03-05", end="2021-03-05") for _ in range(2))
    app.config["EO_SAMPLE_DATA"] = True
    done = eo.run(run_worker, datasetId="chirps-daily", start="2021-03-05", end="2021-03-05")
    assert (old.status, recent.status, done.status) == (st.FAILED, st.FAILED, st.SUCCESSFUL)
    root = os.path.join(app.instance_path, "checkpoints")
    assert {old.id, recent.id, done.id} <= set(os.listdir(root))
    old.finished_at = utcnow() - timedelta(days=15)  # CHECKPOINT_RETENTION_DAYS is 14
    db.session.commit()
    gone, kept = str(uuid.uuid4()), str(uuid.uuid4())  # folders of jobs deleted since
    for name, age in ((gone, 15), (kept, 1)):
        os.makedirs(os.path.join(root, name))
        then = time.time() - age * 86400
        os.utime(os.path.join(root, name), (then, then))

    assert sweep_job_checkpoints() == 3  # the RQ cron entry
    left = set(os.listdir(root))
    assert recent.id in left and kept in left and not {old.id, done.id, gone} & left
    assert retry_step(old) is None and retry_step(recent) == "extract_source_data"
    login(db.session.get(User, old.launcher_id))
    old_page = client.get(f"/jobs/{old.id}").get_data(as_text=True)
    assert "data-retry-step" not in old_page and ">Re-run<" in old_page  # it can still run again from the start
    assert 'data-retry-step="extract_source_data"' in client.get(f"/jobs/{recent.id}").get_data(as_text=True)
    assert sweep_checkpoints() == 0
    app.config["CHECKPOINT_RETENTION_DAYS"] = 1
    assert sweep_checkpoints(now=utcnow() + timedelta(days=2)) == 2  # the recent failure and the fresh orphan
    assert db.session.get(Job, recent.id).status == st.FAILED  # the job itself stays, for the record


def test_the_sweep_runs_hourly_from_the_rq_cron_scheduler(app):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=get_redis())
    scheduler.load_config_from_file(os.path.join(os.path.dirname(__file__), "..", "app", "rq_jobs", "cron_config.py"))
    sweep = [job for job in scheduler.get_jobs() if job.func is sweep_job_checkpoints]
    assert len(sweep) == 1 and sweep[0].interval == 3600
