"""WSGI entry point: `gunicorn wsgi:app` in production, `flask --app wsgi run` in development."""
from app import create_app
from app.services.platform.metrics import buffer_counts

app = create_app()
# Web requests add to Prometheus counters without a Redis round trip each (app.services.platform.metrics).
buffer_counts(app.config["METRICS_FLUSH_SECONDS"])
