"""An RQ worker with the Fieldflow app loaded once: `python worker.py [--burst]`.

Jobs run in a forked work horse; after the fork the child drops the parent's database
connections (sharing a socket between processes corrupts both).
"""
from __future__ import annotations

import argparse
import os

from app import create_app
from app.extensions import db, get_queue, get_redis
from app.rq_jobs.workers import FieldflowSimpleWorker, FieldflowWorker

app = create_app()


def _drop_inherited_connections() -> None:
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def serve_metrics(port: int) -> None:
    """PROMETHEUS_PORT: the /metrics exposition on its own port, in a daemon thread of this worker (for
    Prometheus on the internal network: no token, as its own port is not published)."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from app.services.orchestration.metrics_exposition import CONTENT_TYPE, render_metrics

    def exposition(environ, start_response):
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found\n"]
        with app.app_context():
            body = render_metrics()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
        return [body]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):  # one line per scrape is noise
            pass

    server = make_server("0.0.0.0", port, exposition, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", action="store_true", help="Quit when the queue is empty.")
    parser.add_argument("--name", default=None, help="Worker name (default: host.pid).")
    parser.add_argument("--fork", action="store_true",
                        help="Run each job in a forked work horse (isolation; ~150 ms more per job).")
    args = parser.parse_args()
    os.register_at_fork(after_in_child=_drop_inherited_connections)
    if app.config["METRICS_ENABLED"] and app.config["PROMETHEUS_PORT"]:
        serve_metrics(app.config["PROMETHEUS_PORT"])
    fork = args.fork or os.environ.get("FIELDFLOW_WORKER_FORK") == "1"
    worker_class = FieldflowWorker if fork else FieldflowSimpleWorker
    with app.app_context():
        worker = worker_class([get_queue()], connection=get_redis(), name=args.name)
        # The scheduler moves delayed jobs (the next OpenHEXA poll) onto the queue when due.
        worker.work(burst=args.burst, logging_level=app.config["LOG_LEVEL"], with_scheduler=True)


if __name__ == "__main__":
    main()
