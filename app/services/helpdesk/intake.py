"""Ticket intake: validate and parse, create or update by external id, and allocate tickets that
have no task yet (matching workflow → first step → round-robin → task with its SLA clocks →
ticket allocated: `allocation`).

A batch is one transaction with set-based statements. The tickets go in one INSERT: on PostgreSQL
`… ON CONFLICT DO UPDATE` locks and returns the ones that existed, and returns each ticket with an id
for its task; elsewhere `ON CONFLICT DO NOTHING` and a locking read. The ones that existed become
updates, and an update never creates a second task. Every outcome of the seed's error table is stored
on the ticket (`allocation_status`, `allocation_error`). An unreachable role source is retried with
backoff by `retry_due_allocations` (RQ cron), up to MAX_ALLOCATION_ATTEMPTS, and on request at any time.

On PostgreSQL a request makes two round trips: the routes and staffing are guessed from what the
process read last (`_guess_routes`) and checked in the first, with the BEGIN, the insert and the
reads allocating needs; the second carries the tasks, their assignments and clocks, and the COMMIT.

Lock order is the same in every transaction (tickets, then their tasks, then role states by id;
task operations lock a task, then role states), so concurrent work waits instead of deadlocking.
On SQLite each write transaction starts with a write, which takes the database's single write
lock before anything is read.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg
from flask import current_app
from sqlalchemy import bindparam, select, update

from app.extensions import db
from app.models import AllocationStatus as AS
from app.models import Priority, Task, Ticket, utcnow
from app.services.helpdesk.allocation import AllocationReads, allocate, send_allocation_reads, update_by_id
from app.services.helpdesk.matching import (
    STAMP_COLUMNS, Route, cached_matching_index, match, matching_index, matching_is_current, send_matching_stamp,
)
from app.services.helpdesk.round_robin import (
    STATE_EXISTS, RoleSourceUnreachable, Staffing, local_staffing, role_staffing, send_local_staffing,
)
from app.services.platform.bulk_insert import (
    begin_in_pipeline, is_postgresql, pipelined, send, send_rows, send_rows_or_lock,
)
from app.services.platform.errors import ValidationFailed
from app.schemas.parsing import validate_data
from app.schemas.common import read_priority
from app.schemas.tickets import EXTERNAL_ID_KEYS, MAX_BATCH, TEXT_LIMITS, TicketIn, read_external_id, requester_name
from app.schemas.types import read_datetime

MAX_ALLOCATION_ATTEMPTS = 8
# Due date when the sender gives none: received time plus this, by priority.
DUE_AFTER = {Priority.CRITICAL: timedelta(days=1), Priority.HIGH: timedelta(days=3),
             Priority.MEDIUM: timedelta(days=7), Priority.LOW: timedelta(days=14)}
_tickets, _tasks = Ticket.__table__, Task.__table__
# What each staffing row of a guess's check carries after the staffing: the workflows' stamp, and whether
# the row's role has its state row.
_CHECK_COLUMNS = (*STAMP_COLUMNS, STATE_EXISTS)
_STAMP_AT = slice(-len(_CHECK_COLUMNS), -1)


@dataclass
class Outcome:
    """What happened to one ticket of a batch (`index` is its position in the request)."""

    index: int
    external_id: str | None
    action: str  # created | updated | rejected | superseded | not_found | skipped
    ticket_id: int | None = None
    allocation_status: str | None = None
    message: str = ""
    task_id: int | None = None
    workflow_id: int | None = None
    users: list[dict] = field(default_factory=list)
    errors: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"index": self.index, "external_id": self.external_id, "action": self.action,
               "ticket_id": self.ticket_id, "allocation_status": self.allocation_status, "message": self.message,
               "task_id": self.task_id, "workflow_id": self.workflow_id, "users": self.users}
        if self.errors:
            out["errors"] = self.errors
        return out


def summarize_outcomes(outcomes: list[Outcome]) -> dict:
    """A batch's summary (also the RQ job's result): counts by action and allocation status, and
    every outcome."""
    return {"received": len(outcomes), "actions": dict(Counter(o.action for o in outcomes)),
            "allocation": dict(Counter(o.allocation_status for o in outcomes if o.allocation_status)),
            "outcomes": [o.as_dict() for o in outcomes]}


def retry_delay(attempts: int) -> timedelta:
    """Backoff after the n-th failed attempt to reach the role source: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def _plan(values: dict, route: Route | None, members: dict) -> tuple[str, str]:
    """(allocation status, message) for a valid ticket, before anything is written."""
    if route is None:
        sub = f", sub-category '{values['sub_category']}'" if values.get("sub_category") else ""
        return AS.NO_WORKFLOW, (f"No published, deployed workflow for department '{values['department']}', "
                                f"category '{values['category']}'{sub}.")
    if route.step_id is None:
        return AS.NO_STEPS, f"Workflow '{route.workflow_name}' has no steps."
    found = members.get(route.role_id)
    if isinstance(found, RoleSourceUnreachable):
        return AS.ROLE_SOURCE_UNREACHABLE, f"{found.message} The allocation will be retried."
    if found is None or not any(m.active for m in found.members):
        inactive = [str(m.user_id) for m in (found.members if found else [])]
        note = f" (inactive: users {', '.join(inactive)})" if inactive else ""
        return AS.NO_USERS_FOR_ROLE, (f"No active users for role '{route.role_name}' (first step '{route.step_name}' "
                                      f"of workflow '{route.workflow_name}'){note}.")
    return AS.ALLOCATED, ""


def _allocation_values(status: str, message: str, route: Route | None, attempts: int, now) -> dict:
    retry = status == AS.ROLE_SOURCE_UNREACHABLE and attempts < MAX_ALLOCATION_ATTEMPTS
    return {"allocation_status": str(status), "allocation_error": message, "allocation_attempts": attempts,
            "next_allocation_at": now + retry_delay(attempts) if retry else None,
            "is_task_allocated": status == AS.ALLOCATED, "workflow_id": route.workflow_id if route else None}


# {(database, role id): its staffing} as this process read it last (one entry a role): intake guesses from
# it, and from the cached matching index, and checks the guess in its first round trip of writes
# (`_guess_routes`).
_STAFFING_READ: dict[tuple[str, int], Staffing] = {}


class _StaleGuess(Exception):
    """The matching index or the staffing changed since this process read them."""


def _roles_of(index, tickets: dict[str, dict]) -> tuple[dict, dict]:
    routes = {key: match(index, v["department"], v["category"], v.get("sub_category")) for key, v in tickets.items()}
    return routes, {r.role_id: r.role_name for r in routes.values() if r is not None and r.role_id is not None}


def _resolve_routes(project_id: int, tickets: dict[str, dict]) -> tuple[dict, dict]:
    """Routes for valid tickets ({key: values}) and the members of every role they need. Runs before
    the write transaction: an external role source is never called while locks are held."""
    # The check of the cached index and the staffing of the roles it routes to go in one round trip;
    # if the index changed meanwhile, the staffing is read again for the roles of the new one.
    cached = cached_matching_index(project_id)
    guessed = sorted(_roles_of(cached, tickets)[1]) if cached is not None else []
    with pipelined():
        stamp = send_matching_stamp(project_id)
        staffing = send_local_staffing(guessed) if guessed else None
    routes, roles = _roles_of(matching_index(project_id, stamp), tickets)
    members = role_staffing(roles, staffing if sorted(roles) == guessed else None)
    if not current_app.config.get("TTS_SERVICE_URL"):
        database = str(db.session.get_bind().url)
        _STAFFING_READ.update(((database, role_id), staffing) for role_id, staffing in members.items())
    return routes, members


def _guess_routes(project_id: int, tickets: dict[str, dict]) -> tuple[dict, dict] | None:
    """`_resolve_routes` from what this process read last, without a round trip (PostgreSQL, our own
    role members); `_write_batch` checks it in its first round trip and raises _StaleGuess if the
    workflows or the staffing changed. None: nothing to guess from."""
    if not is_postgresql() or current_app.config.get("TTS_SERVICE_URL"):
        return None
    index = cached_matching_index(project_id)
    if index is None:
        return None
    routes, roles = _roles_of(index, tickets)
    database = str(db.session.get_bind().url)
    staffing = {role_id: _STAFFING_READ.get((database, role_id)) for role_id in roles}
    return (routes, staffing) if None not in staffing.values() else None


def _read(payload: TicketIn | dict) -> tuple[str | None, dict, dict]:
    """(external id, column values, errors by field) of one ticket as sent (a dict, read with
    TicketIn) or already read; the values are complete when there are no errors."""
    if isinstance(payload, TicketIn):
        ticket, errors = payload, {}
    elif not isinstance(payload, dict):
        return None, {}, {"ticket": ["must be a JSON object"]}
    else:
        try:
            ticket, errors = validate_data(TicketIn, payload, "Invalid ticket"), {}
        except ValidationFailed as exc:
            ticket, errors = None, exc.details
    external_id = ticket.external_id if ticket is not None else (
        None if "external_id" in errors else _readable(payload)["external_id"])
    if external_id is None and "external_id" not in errors:
        errors = {"external_id": [f"is required (one of {', '.join(EXTERNAL_ID_KEYS)})"], **errors}
    if errors:
        return external_id, {}, errors
    received = ticket.received_at or utcnow()
    values = {"subject": ticket.subject, "description": ticket.description, "department": ticket.department,
              "category": ticket.category, "sub_category": ticket.sub_category or None,
              "priority": ticket.priority, "requester": ticket.requester or "", "received_at": received,
              "due_at": ticket.due_date or received + DUE_AFTER[ticket.priority]}
    return ticket.external_id, values, {}


def _readable(payload: dict) -> dict:
    """Column values for storing an invalid ticket so people can see it: whatever is readable."""
    fields = TicketIn.folded(payload)

    def text(name: str) -> str:
        raw = fields.get(name)
        return str(raw).replace("\x00", "").strip()[:TEXT_LIMITS[name]] if isinstance(raw, (str, int)) else ""

    def readable(read, raw):
        try:
            return read(raw)
        except ValueError:
            return None

    return {"external_id": readable(read_external_id, fields.get("external_id")),
            **{name: text(name) for name in ("subject", "description", "department", "category")},
            "sub_category": text("sub_category") or None,
            "priority": read_priority(fields.get("priority")),
            "requester": requester_name(fields.get("requester")) or "",
            "received_at": readable(read_datetime, fields.get("received_at")) or utcnow(), "due_at": None}


def receive_tickets(project_id: int, payloads: list[TicketIn | dict], strict: bool = False) -> list[Outcome]:
    """Create or update tickets by external id and allocate the new ones; returns one outcome per
    payload (a dict as sent, read here with TicketIn, or a TicketIn). `strict`: raise ValidationFailed
    (naming every bad field, nothing stored) instead of storing invalid tickets as `invalid_data`.
    Commits once."""
    if not payloads or len(payloads) > MAX_BATCH:
        raise ValidationFailed(f"Send 1 to {MAX_BATCH} tickets.", {"tickets": [f"must hold 1 to {MAX_BATCH} items"]})
    outcomes: dict[int, Outcome] = {}
    latest: dict[str, tuple[int, dict, dict, dict]] = {}  # external id → (index, values, errors, payload)
    for i, payload in enumerate(payloads):
        external_id, values, errors = _read(payload)
        if strict and errors:
            named = "; ".join(f"{k}: {v[0]}" for k, v in errors.items())
            raise ValidationFailed(f"Invalid ticket — {named}", errors)
        if isinstance(payload, TicketIn):
            payload = payload.model_dump(mode="json", exclude_none=True)
        if external_id is None:
            outcomes[i] = Outcome(i, None, "rejected", allocation_status=AS.INVALID_DATA.value,
                                  message="Rejected: the ticket has no usable external id.", errors=errors)
            continue
        if external_id in latest:  # the same ticket twice in one batch: the later one wins
            earlier = latest[external_id][0]
            outcomes[earlier] = Outcome(earlier, external_id, "superseded",
                                        message=f"Superseded by item {i} of the same batch.")
        latest[external_id] = (i, values, errors, payload if isinstance(payload, dict) else {})
    valid = {ext: item[1] for ext, item in latest.items() if not item[2]}
    guess = _guess_routes(project_id, valid)
    try:
        try:
            if guess is None:
                raise _StaleGuess
            begin_in_pipeline()  # nothing has been read yet: BEGIN goes with the first round trip
            written = _write_batch(project_id, latest, *guess, guessed=True)
        except _StaleGuess:
            db.session.rollback()
            written = _write_batch(project_id, latest, *_resolve_routes(project_id, valid))
        for outcome in written:
            outcomes[outcome.index] = outcome
        db.session.commit()  # on PostgreSQL, usually sent with the last writes already
    except Exception:
        db.session.rollback()
        raise
    return [outcomes[i] for i in sorted(outcomes)]


def _ticket_values(values: dict) -> dict:
    return {k: values.get(k) for k in ("subject", "description", "department", "category", "sub_category",
                                      "priority", "requester", "received_at", "due_at")}


def _write_batch(project_id: int, latest: dict, routes: dict, members: dict, guessed: bool = False) -> list[Outcome]:
    """Store the batch and allocate; `guessed`: routes and members come from `_guess_routes`, checked here
    (_StaleGuess) before anything is committed."""
    now = utcnow()
    new_rows, plans = [], {}
    for ext in sorted(latest):
        index, values, errors, payload = latest[ext]
        if errors:
            status, message, route = AS.INVALID_DATA, "Invalid data — " + "; ".join(
                f"{k}: {v[0]}" for k, v in errors.items()), None
            row = {k: v for k, v in _readable(payload).items() if k != "external_id"}
        else:
            route = routes[ext]
            status, message = _plan(values, route, members)
            row = _ticket_values(values)
        plans[ext] = (status, message, route)
        new_rows.append({**row, "project_id": project_id, "external_id": ext, "data": payload, "created_at": now,
                         "updated_at": now, **_allocation_values(status, message, route, 1, now)})
    allocatable = [(plans[ext][2], latest[ext][1]) for ext in sorted(plans) if plans[ext][0] == AS.ALLOCATED]
    # One round trip on PostgreSQL: the insert, the lock of the tickets it did not insert (re-deliveries),
    # then — in the documented lock order, tickets before role states — what allocating will read.
    try:
        inserted, existing, reads = _send_batch(project_id, latest, new_rows, allocatable, members, now, guessed)
    except psycopg.Error:
        if guessed:  # a guess from stale caches can break a constraint (a workflow deleted meanwhile)
            raise _StaleGuess from None
        raise

    outcomes, to_allocate = [], []
    for ext in sorted(inserted):
        status, message, route = plans[ext]
        outcomes.append(Outcome(latest[ext][0], ext, "created", inserted[ext], str(status), message,
                                workflow_id=route.workflow_id if route else None))
        if status == AS.ALLOCATED:
            to_allocate.append((inserted[ext], ext, latest[ext][1], route))
    if existing:
        outcomes += _update_existing(existing, latest, plans, to_allocate, now)
    allocated, waiting = allocate(project_id, to_allocate, members, now, reads, commit=True)
    for outcome in outcomes:
        _allocated(outcome, allocated, waiting)
    return outcomes


def _send_batch(project_id: int, latest: dict, new_rows: list[dict], allocatable: list, members: dict, now,
                guessed: bool) -> tuple[dict, list, "AllocationReads | None"]:
    """The first round trip of writes: ({external id: ticket id} inserted, rows of the re-deliveries,
    locked; what allocating reads). `guessed`: the guess of routes and members is checked too."""
    with pipelined(begin=True):
        if guessed:  # the staffing, each row with the workflows' stamp and whether its role has a state row
            check = (send_local_staffing(members, also=_CHECK_COLUMNS, params={"project_id": project_id}) if members
                     else send_matching_stamp(project_id))
        if is_postgresql():  # one statement: the ones that exist are locked by the insert
            sent = send_rows_or_lock(_tickets, new_rows, ("project_id", "external_id"), _LOCKED_COLUMNS,
                                     reserve=_tasks)  # each ticket comes back with an id for its task
            locked = None
        else:
            sent = send_rows(_tickets, new_rows, returning=("external_id", "id"),
                             on_conflict_do_nothing=("project_id", "external_id"))
            locked = send(_LOCK_TICKETS, {"project_id": project_id, "external_ids": sorted(latest)})
        reads = (send_allocation_reads(project_id, allocatable, members, now, ids_reserved=locked is None,
                                       states_checked=guessed) if allocatable else None)
        if guessed:
            rows = check.all()
            stamp = rows[0][_STAMP_AT] if members else rows[0]
            staffing = local_staffing(members, check) if members else {}
            if not (matching_is_current(project_id, stamp) and staffing == members):
                raise _StaleGuess
            if reads is not None:
                reads.missing_states = sorted({row[0] for row in rows if not row[-1]})
        if locked is None:
            rows = sent.all()
            if reads is not None:
                reads.task_ids = [row.reserved_id for row in rows]
            inserted = {row.external_id: row.id for row in rows if row.inserted}
            return inserted, [row for row in rows if not row.inserted], reads
        inserted = dict(sent.all())
        return inserted, [row for row in locked.all() if row.external_id not in inserted], reads


def _allocated(outcome: Outcome, allocated: dict, waiting: dict) -> None:
    """Fill in an outcome from `allocate`'s answer: its task and users, or why it waits."""
    if outcome.ticket_id in allocated:
        outcome.task_id, outcome.users = allocated[outcome.ticket_id]
    elif outcome.ticket_id in waiting:
        outcome.allocation_status, outcome.message = AS.UNASSIGNED.value, waiting[outcome.ticket_id]


# The tickets of a batch, locked (the ones it inserted are already its own): re-deliveries are updated.
_LOCKED_COLUMNS = ("external_id", "id", "is_task_allocated", "allocation_attempts", "allocation_status")
_LOCK_TICKETS = (select(_tickets.c.id, _tickets.c.external_id, _tickets.c.is_task_allocated,
                        _tickets.c.allocation_attempts, _tickets.c.allocation_status)
                 .where(_tickets.c.project_id == bindparam("project_id"),
                        _tickets.c.external_id.in_(bindparam("external_ids", expanding=True)))
                 .order_by(_tickets.c.external_id).with_for_update())


def _update_existing(rows: list, latest: dict, plans: dict, to_allocate: list, now) -> list[Outcome]:
    """Re-deliveries (their rows locked by `_LOCK_TICKETS`): update their fields; tickets still without a
    task get another allocation attempt, tickets with one keep it (and their task takes the new priority)."""
    task_ids = dict(db.session.execute(select(_tasks.c.ticket_id, _tasks.c.id).where(
        _tasks.c.ticket_id.in_([r.id for r in rows if r.is_task_allocated]))).all()) if rows else {}
    outcomes, data_updates, allocation_updates, priorities = [], [], [], []
    for row in rows:
        index, values, errors, payload = latest[row.external_id]
        if errors:
            outcomes.append(Outcome(index, row.external_id, "rejected", row.id, row.allocation_status,
                                    "Invalid data: the stored ticket was not changed.", errors=errors))
            continue
        data_updates.append({**_ticket_values(values), "data": payload, "updated_at": now, "_id": row.id})
        if row.is_task_allocated:
            priorities.append({"_tid": row.id, "priority": values["priority"], "updated_at": now})
            outcomes.append(Outcome(index, row.external_id, "updated", row.id, AS.ALLOCATED.value,
                                    "Updated; it keeps its task.", task_ids.get(row.id)))
            continue
        status, message, route = plans[row.external_id]
        allocation_updates.append({**_allocation_values(status, message, route, row.allocation_attempts + 1, now),
                                   "_id": row.id})
        outcomes.append(Outcome(index, row.external_id, "updated", row.id, str(status), message,
                                workflow_id=route.workflow_id if route else None))
        if status == AS.ALLOCATED:
            to_allocate.append((row.id, row.external_id, values, route))
    update_by_id(_tickets, data_updates, "_id")
    update_by_id(_tickets, allocation_updates, "_id")
    if priorities:
        db.session.execute(update(_tasks).where(_tasks.c.ticket_id == bindparam("_tid"))
                           .values(priority=bindparam("priority"), updated_at=bindparam("updated_at")), priorities)
    return outcomes


def receive_ticket(project_id: int, payload, strict: bool = False) -> Outcome:
    """One ticket (the seed's `receive_ticket`); see receive_tickets."""
    return receive_tickets(project_id, [payload], strict=strict)[0]


def allocate_tickets(ticket_ids: list[int]) -> list[Outcome]:
    """(Re)try allocation for existing tickets without a task (the seed's create_task_for_ticket,
    and the retry of an unreachable role source). Invalid tickets wait for a corrected delivery.
    Commits once; returns an outcome per id (`not_found` for ids without a ticket)."""
    wanted = sorted({int(i) for i in ticket_ids})
    rows = db.session.execute(select(_tickets).where(_tickets.c.id.in_(wanted))).all()
    found = {row.id: row for row in rows}
    outcomes = {i: Outcome(n, None, "not_found", i, AS.NOT_FOUND.value, f"Ticket {i} not found.")
                for n, i in enumerate(wanted) if i not in found}
    by_project: dict[int, dict[int, dict]] = {}
    for n, row in enumerate(rows):
        if row.is_task_allocated or row.allocation_status == AS.INVALID_DATA:
            note = ("It already has a task." if row.is_task_allocated
                    else "Its data is invalid; send a corrected ticket.")
            outcomes[row.id] = Outcome(wanted.index(row.id), row.external_id, "skipped", row.id,
                                       row.allocation_status, note)
            continue
        by_project.setdefault(row.project_id, {})[row.id] = dict(row._mapping)
    resolved = {pid: _resolve_routes(pid, tickets) for pid, tickets in by_project.items()}
    try:
        now = utcnow()
        for project_id, tickets in by_project.items():
            routes, members = resolved[project_id]
            # The first statement writes: it locks the rows (and SQLite's write lock) and tells
            # which tickets are still without a task now that we hold them.
            returned = db.session.execute(
                update(_tickets).where(_tickets.c.id.in_(sorted(tickets)), _tickets.c.is_task_allocated.is_(False))
                .values(updated_at=now)
                .returning(_tickets.c.id, _tickets.c.department, _tickets.c.category, _tickets.c.sub_category)).all()
            # A re-delivery may have changed where the ticket goes since it was read: leave it to that one.
            locked = {r.id for r in returned if (r.department, r.category, r.sub_category) == tuple(
                tickets[r.id][k] for k in ("department", "category", "sub_category"))}
            updates, to_allocate = [], []
            for ticket_id in sorted(locked):
                values, route = tickets[ticket_id], routes[ticket_id]
                status, message = _plan(values, route, members)
                updates.append({**_allocation_values(status, message, route, values["allocation_attempts"] + 1, now),
                                "_id": ticket_id})
                outcomes[ticket_id] = Outcome(wanted.index(ticket_id), values["external_id"], "allocated"
                                              if status == AS.ALLOCATED else "failed", ticket_id, str(status),
                                              message, workflow_id=route.workflow_id if route else None)
                if status == AS.ALLOCATED:
                    to_allocate.append((ticket_id, values["external_id"], values, route))
            for ticket_id in set(tickets) - locked:
                outcomes[ticket_id] = Outcome(wanted.index(ticket_id), tickets[ticket_id]["external_id"], "skipped",
                                              ticket_id, None, "It was allocated or changed meanwhile.")
            update_by_id(_tickets, updates, "_id")
            allocated, waiting = allocate(project_id, to_allocate, members, now)
            for ticket_id in allocated.keys() | waiting.keys():
                _allocated(outcomes[ticket_id], allocated, waiting)
                if ticket_id in waiting:
                    outcomes[ticket_id].action = "failed"
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return sorted(outcomes.values(), key=lambda o: o.index)


def retry_due_allocations(limit: int = 500) -> int:
    """Retry tickets whose role source was unreachable and whose backoff has passed, and the
    unassigned queue (someone's leave ended, a task closed under a cap) — RQ cron. Returns how many
    were retried."""
    due = db.session.execute(
        select(_tickets.c.id).where(_tickets.c.allocation_status == AS.ROLE_SOURCE_UNREACHABLE.value,
                                    _tickets.c.next_allocation_at <= utcnow())
        .order_by(_tickets.c.next_allocation_at).limit(limit)).scalars().all()
    db.session.rollback()
    if due:
        allocate_tickets(list(due))
    return len(due) + allocate_waiting(chunk=limit)


def allocate_waiting(project_ids: list[int] | None = None, chunk: int = 500) -> int:
    """Try the unassigned queue again, oldest ticket first, `chunk` tickets per transaction, until it
    is through or a chunk finds nobody free: called when someone becomes available, when a role's
    staffing changes, and by RQ cron. Returns how many tickets got a task."""
    done, after = 0, 0
    while True:
        stmt = select(_tickets.c.id).where(_tickets.c.allocation_status == AS.UNASSIGNED.value, _tickets.c.id > after)
        if project_ids is not None:
            stmt = stmt.where(_tickets.c.project_id.in_(project_ids))
        waiting = db.session.execute(stmt.order_by(_tickets.c.id).limit(chunk)).scalars().all()
        db.session.rollback()
        if not waiting:
            return done
        allocated = sum(1 for o in allocate_tickets(list(waiting)) if o.task_id)
        done, after = done + allocated, waiting[-1]
        if not allocated or len(waiting) < chunk:
            return done
