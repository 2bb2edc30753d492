"""Job status vocabularies: the canonical OGC statuses and every view over them, in one table.

Canonical = OGC API – Processes: accepted | running | successful | failed | dismissed.
"""
from __future__ import annotations

ACCEPTED = "accepted"
RUNNING = "running"
SUCCESSFUL = "successful"
FAILED = "failed"
DISMISSED = "dismissed"

CANONICAL = (ACCEPTED, RUNNING, SUCCESSFUL, FAILED, DISMISSED)
TERMINAL = frozenset({SUCCESSFUL, FAILED, DISMISSED})
ACTIVE = frozenset({ACCEPTED, RUNNING})

# canonical -> (Iaso task, eo-api job)
_VIEWS = {
    ACCEPTED: ("QUEUED", "queued"),
    RUNNING: ("RUNNING", "running"),
    SUCCESSFUL: ("SUCCESS", "succeeded"),
    FAILED: ("ERRORED", "failed"),
    DISMISSED: ("KILLED", "failed"),
}

# canonical -> RQ's job status words, which the ticket batch status URL spoke when RQ held its status
_RQ = {ACCEPTED: "queued", RUNNING: "started", SUCCESSFUL: "finished", FAILED: "failed", DISMISSED: "canceled"}

# OpenHEXA pipeline run status (inbound) -> (canonical, skipped). `queued` is RUNNING, as the Iaso seed
# maps it: once launched, the Iaso task runs (QUEUED is the task's state before the launch).
_FROM_OPENHEXA = {
    "queued": (RUNNING, False),
    "running": (RUNNING, False),
    "terminating": (RUNNING, False),
    "success": (SUCCESSFUL, False),
    "failed": (FAILED, False),
    "stopped": (DISMISSED, False),
    "skipped": (SUCCESSFUL, True),
}

# Case-insensitive aliases seen in Iaso, folded onto an OpenHEXA value.
_ALIASES = {
    "completed": "success",
    "exported": "success",  # Iaso's EXPORTED: the results have been exported
    "done": "success",
    "succeeded": "success",
    "successful": "success",
    "errored": "failed",
    "error": "failed",
    "cancelled": "failed",
    "killed": "stopped",
    "dismissed": "stopped",
    "pending": "running",
    "started": "running",

}


def to_iaso(status: str, skipped: bool = False) -> str:
    """Iaso task status for a canonical status (SKIPPED when a successful run was skipped)."""
    if status == SUCCESSFUL and skipped:
        return "SKIPPED"
    return _VIEWS[status][0]


def to_eo(status: str) -> str:
    """eo-api job status for a canonical status."""
    return _VIEWS[status][1]


def to_rq(status: str) -> str:
    """RQ's word for a canonical status (the ticket batch status URL's vocabulary)."""
    return _RQ[status]


def from_external(value: str) -> tuple[str, bool]:
    """Canonical status and skipped flag for an OpenHEXA run status or an Iaso alias.

    Raises ValueError for a value no vocabulary knows.
    """
    key = (value or "").strip().lower()
    if key in CANONICAL:
        return key, False
    key = _ALIASES.get(key, key)
    if key in _FROM_OPENHEXA:
        return _FROM_OPENHEXA[key]
    iaso = {v[0].lower(): k for k, v in _VIEWS.items()}
    if key in iaso:
        return iaso[key], False
    raise ValueError(f"unknown job status {value!r}")


def is_terminal(status: str) -> bool:
    return status in TERMINAL
