"""`flask outbox …`: the relay (started by `make run`), a one-off drain, and status."""
from __future__ import annotations

import os
import signal

import click
from flask.cli import AppGroup

outbox_cli = AppGroup("outbox", help="The transactional outbox: relay events to automation and webhooks.")


@outbox_cli.command("relay")
@click.option("--once", is_flag=True, help="Process what is due now (with a progress bar), then exit.")
@click.option("--interval", type=float, default=None, help="Seconds to sleep when idle (WORKFLOW_WORKER_INTERVAL).")
@click.option("--batch", "batch_size", type=int, default=None, help="Events per batch (OUTBOX_BATCH_SIZE).")
@click.option("--processes", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Relays side by side (PostgreSQL only: SKIP LOCKED shares the batches between them).")
def relay_command(once: bool, interval: float, batch_size: int | None, processes: int):
    """Run the outbox relay until stopped (SIGTERM/SIGINT end it after the current batch)."""
    from flask import current_app

    from app.extensions import db
    from app.services.orchestration import relay

    if interval is None:
        interval = current_app.config["WORKFLOW_WORKER_INTERVAL"]
    if processes > 1 and db.engine.dialect.name != "postgresql":
        raise click.UsageError("--processes > 1 needs PostgreSQL (SQLite has one writer).")

    if once:
        total = relay.pending_count()
        with click.progressbar(length=total, label="Relaying events", show_pos=True) as bar:
            result = relay.drain(max_seconds=24 * 3600, batch_size=batch_size,
                                 on_batch=lambda b: bar.update(b.done + b.retrying + b.dead))
        click.echo(f"{result.done} done, {result.retrying} to retry, {result.dead} dead")
        return
    stopping = {"flag": False}

    def stop(_signum, _frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = []
    if processes > 1:
        relay.ensure_defaults()  # once, before the relays start side by side
        db.session.remove()
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:  # a child relay: its own database connections (Redis pools reset themselves)
            _stop_with_parent()
            db.engine.dispose(close=False)
            relay.run_relay(interval=interval, batch_size=batch_size, should_stop=lambda: stopping["flag"])
            os._exit(0)
        children.append(pid)
    relay.run_relay(interval=interval, batch_size=batch_size, should_stop=lambda: stopping["flag"])
    for pid in children:  # stopping the parent stops them all, each after its current batch
        os.kill(pid, signal.SIGTERM)
    for pid in children:
        os.waitpid(pid, 0)


def _stop_with_parent() -> None:
    """Linux: SIGTERM this child when its parent dies, even by SIGKILL (no orphaned relays)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@outbox_cli.command("status")
def status_command():
    """Events by status."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import OutboxEvent

    rows = db.session.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all()
    for status, n in sorted(rows):
        click.echo(f"{status:12} {n}")
