"""The RQ worker classes `worker.py` runs: RQ's own, with the worker's heartbeat in one round trip.

RQ beats before every dequeue (and in its work loop) with three commands sent one after another — HSET of
`last_heartbeat`, EXPIRE of the worker's key and of its executions' key; a queued job waited for three
round trips to Redis before it was even taken. Here the three go in one pipeline (no MULTI: they are
independent), as RQ itself sends them when it is handed a pipeline.
"""
from __future__ import annotations

from rq import SimpleWorker, Worker


class _HeartbeatInOneRoundTrip:
    def heartbeat(self, timeout: int | None = None, pipeline=None):
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        with self.connection.pipeline(transaction=False) as own:
            super().heartbeat(timeout, own)
            own.execute()


class FieldflowSimpleWorker(_HeartbeatInOneRoundTrip, SimpleWorker):
    """Jobs run in the worker process itself (the default)."""


class FieldflowWorker(_HeartbeatInOneRoundTrip, Worker):
    """Each job in a forked work horse (`worker.py --fork`)."""
