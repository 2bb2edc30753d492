"""WSGI entry point: `gunicorn wsgi:app` in production, `flask --app wsgi run` in development."""
import sys

from app import create_app
from app.services.platform.metrics import buffer_counts

WEB_SWITCH_INTERVAL_SECONDS = 0.0005

app = create_app()
# Web requests add to Prometheus counters without a Redis round trip each (app.services.platform.metrics).
buffer_counts(app.config["METRICS_FLUSH_SECONDS"])
# A thread waiting for the GIL gets it after at most this long (Python's default: 5 ms). A request holding a row
# lock (the round-robin state of a role, from the first round trip of intake to its COMMIT) needs the GIL back
# when its answers arrive; with 4 threads a process, waiting 5 ms for it made every other request for that
# role wait too (measured: single-ticket intake 111-128/s with the default, 155-168/s with 0.5 ms; the floor
# app is unchanged by it).
sys.setswitchinterval(WEB_SWITCH_INTERVAL_SECONDS)
