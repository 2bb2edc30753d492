"""Allocating tickets: a task on each ticket's first step, staffed by its role (round-robin or least open
tasks, skipping who is away, on leave or at the cap), with its TaskCreated event and SLA clocks — or the
unassigned queue when nobody can take it. Called by `intake` inside its write transaction.

Round-robin roles without a cap are picked by the database under the role's lock, in the statement that
writes the assignments (`locked_pick`); the others read the role's state under its lock first.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import bindparam, update

from app.extensions import db
from app.models import AllocationStatus as AS
from app.models import OutboxEvent, SlaRecord, Task, TaskAssignment, TaskKind, TaskStatus, Ticket
from app.services.helpdesk import locked_pick
from app.services.helpdesk.matching import Route
from app.services.helpdesk.round_robin import (
    AvailabilitySent, Staffing, next_assignees, nobody_free, read_availability, save_states, send_availability,
    send_ensure_states, send_lock_states,
)
from app.services.orchestration import sla
from app.services.platform.bulk_insert import (
    Deferred, insert_rows, is_postgresql, pipelined, send_ids, send_rows_together,
)
from app.services.platform.events import task_created_payload
from app.services.platform.outbox import event_values

# Ticket tasks are help-desk work: their service area is the ticket's department (so SLA configs and
# compliance can be per department), their type the general one (not "intake": the built-in rule
# "intake completed → assessment task" is for field intake, not for help-desk tickets).
TICKET_TASK_TYPE = "general"
_NOT_SLUG = re.compile(r"[^a-z0-9_-]+")
_tickets, _tasks, _assignments = Ticket.__table__, Task.__table__, TaskAssignment.__table__


def ticket_service_area(department: str | None) -> str:
    """A ticket task's service area: its department as a short lowercase name ("Human Resources" →
    "human_resources"), the form SLA configs name areas in; "general" when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", department or "").encode("ascii", "ignore").decode()
    area = _NOT_SLUG.sub("_", ascii_name.lower())[:80].strip("_-")
    return area or "general"


def update_by_id(table, rows: list[dict], key: str) -> None:
    """UPDATE `table` row by row (`key`: the name of each row's id), in one executemany."""
    if rows:
        columns = {name: bindparam(name) for name in rows[0] if name != key}
        db.session.execute(update(table).where(table.c.id == bindparam(key)).values(columns), rows)


@dataclass
class AllocationReads:
    """What allocating reads inside the write transaction, sent ahead in one pipeline: the SLA configs
    and task ids (PostgreSQL) so the tasks go in the last round trip with the rows that name them; then
    the role state locks, and after them availability and load (read once the lock is taken). The locks
    go last: the server takes them as soon as they arrive, and holds them until the COMMIT. No locks
    (`states` None) when every role's picks are planned for the database to choose under its lock
    (`locked_pick`)."""

    configs: Deferred
    task_ids: Deferred | list[int] | None  # None: SQLite, where the INSERT assigns them
    states: Deferred | None
    availability: AvailabilitySent
    # Roles whose state row the caller found missing (`states_checked`): created just before the picks.
    missing_states: list[int] = field(default_factory=list)


def send_allocation_reads(project_id: int, allocatable: list[tuple[Route, dict]], staffing: dict,
                          now, ids_reserved: bool = False, states_checked: bool = False) -> AllocationReads:
    """Send (see `Deferred`) the reads for allocating tickets with these (route, values); `ids_reserved`:
    the ticket insert reserves the tasks' ids (the caller fills in `task_ids`); `states_checked`: the
    caller reads which roles have a state row (and fills in `missing_states`)."""
    role_ids = sorted({route.role_id for route, _values in allocatable})
    roles = {rid: staffing[rid] for rid in role_ids}
    configs = sla.send_candidate_configs([project_id], {ticket_service_area(v["department"]) for _r, v in allocatable},
                                         [TICKET_TASK_TYPE])
    task_ids = None if ids_reserved else send_ids(Task, len(allocatable))
    tickets = Counter(route.role_id for route, _values in allocatable)
    if is_postgresql() and all(locked_pick.plannable(roles[rid], tickets[rid]) for rid in role_ids):
        if not states_checked:
            send_ensure_states(role_ids)
        states = None
    else:
        states = send_lock_states(role_ids)
    return AllocationReads(configs, task_ids, states, send_availability(roles, now.date()))


def allocate(project_id: int, items: list[tuple[int, str, dict, Route]], staffing: dict[int, Staffing],
             now, reads: AllocationReads | None = None,
             commit: bool = False) -> tuple[dict[int, tuple[int, list[dict]]], dict[int, str]]:
    """Create a task on each ticket's first step, staffed by its role's mode (round-robin or least
    open tasks, skipping who is away, on leave or at the cap), with its TaskCreated event and its SLA
    clocks (`sla.clock_rows`; the configs are read in this transaction). Items are (ticket id,
    external id, ticket values, route). A ticket nobody can take now is put in the unassigned queue
    instead. `reads`: sent ahead by the caller for at least these items. `commit`: the transaction is
    done once the tasks are written (their COMMIT goes with them: the role's lock is held a round trip
    less). Returns ({ticket id: (task id, users)}, {ticket id: why it waits})."""
    if not items:
        return {}, {}
    if reads is None:
        with pipelined():
            reads = send_allocation_reads(project_id, [(route, values) for _t, _e, values, route in items],
                                          staffing, now)
    locked = reads.states is not None  # else the database picks (`locked_pick`)
    states = dict(reads.states.all()) if locked else {}
    staffing, load = read_availability(reads.availability)
    reserved = (list(reads.task_ids) if isinstance(reads.task_ids, list)
                else [row[0] for row in reads.task_ids.all()] if reads.task_ids is not None else None)
    items = sorted(items, key=lambda item: item[0])
    rotations = {} if locked else _plan_rotations(items, staffing)
    task_rows, picks, waiting = [], {}, {}
    for ticket_id, _ext, values, route in items:
        role = staffing[route.role_id]
        if locked:
            chosen, states[route.role_id] = next_assignees(role.members, states[route.role_id], role.limit,
                                                           route.role_name, mode=role.mode, cap=role.cap, load=load)
        else:  # who exactly is known once the database has chosen; whether anyone is, already
            rotation = rotations[route.role_id]
            chosen = rotation.starts[locked_pick.FIRST][1][ticket_id] if rotation is not None else []
        if not chosen:
            waiting[ticket_id] = (f"Nobody can take it now for role '{route.role_name}' ({nobody_free(role, load)}); "
                                  "it waits in the unassigned queue and is allocated when someone becomes available.")
            continue
        picks[ticket_id] = chosen
        task_rows.append({**({"id": reserved.pop()} if reserved is not None else {}),
                          "project_id": project_id, "kind": TaskKind.TICKET_TASK.value, "ticket_id": ticket_id,
                          "workflow_id": route.workflow_id,
                          "current_step_id": route.step_id, "status": TaskStatus.NEW.value,
                          "task_type": TICKET_TASK_TYPE, "service_area": ticket_service_area(values["department"]),
                          "priority": values["priority"], "due_at": values.get("due_at"), "created_at": now,
                          "updated_at": now, "completed_at": None})
    update_by_id(_tickets, [{"_id": ticket_id, "allocation_status": AS.UNASSIGNED.value, "allocation_error": why,
                              "is_task_allocated": False, "next_allocation_at": None}
                             for ticket_id, why in waiting.items()], "_id")
    if not task_rows:
        save_states(states)
        return {}, waiting
    if reserved is None:  # SQLite: the INSERT assigns the ids
        task_ids = dict(insert_rows(_tasks, task_rows, returning=("ticket_id", "id")))
    else:
        task_ids = {row["ticket_id"]: row["id"] for row in task_rows}
    clocks = sla.clock_rows([sla.NewTask(task_ids[row["ticket_id"]], project_id, row["service_area"], row["task_type"],
                                         row["status"]) for row in task_rows], now, configs=reads.configs)
    areas = {row["ticket_id"]: row["service_area"] for row in task_rows}
    by_ticket = {item[0]: item for item in items}
    events = []
    for ticket_id, chosen in picks.items():
        _tid, ext, values, route = by_ticket[ticket_id]
        events.append(event_values("TaskCreated", "task", task_ids[ticket_id], task_created_payload(
            task_ids[ticket_id], project_id, kind=TaskKind.TICKET_TASK.value, ticket_id=ticket_id, external_id=ext,
            workflow_id=route.workflow_id,
            step_id=route.step_id, status=TaskStatus.NEW.value, task_type=TICKET_TASK_TYPE,
            service_area=areas[ticket_id], priority=values["priority"], assignees=[p.user_id for p in chosen]),
            correlation_id=f"ticket:{ticket_id}"))
    # Two statements (the tasks first: the others name them), one round trip.
    with pipelined(commit=commit):
        if locked:
            send_rows_together([(_tasks, task_rows if reserved is not None else []),
                                (_assignments, _assignment_rows(picks, by_ticket, task_ids, now)),
                                (OutboxEvent.__table__, events), (SlaRecord.__table__, clocks)])
            save_states(states)
        else:
            send_rows_together([(_tasks, task_rows), (SlaRecord.__table__, clocks)])
            picking = sorted({by_ticket[t][3].role_id for t in picks})
            missing = set(reads.missing_states) & set(picking)
            if missing:
                send_ensure_states(missing)
            chosen_by_database = locked_pick.send_picks(
                [rotations[rid] for rid in picking], task_ids,
                {t: by_ticket[t][3].step_id for t in picks}, events, now)
    if not locked:
        picks = chosen_by_database.read()
    result = {}
    for ticket_id, chosen in picks.items():
        role_name = by_ticket[ticket_id][3].role_name
        result[ticket_id] = (task_ids[ticket_id], [
            {"userID": pick.user_id, "username": pick.username, "status": "assigned",
             "assigned_on": now.isoformat().replace("+00:00", "Z"), "role": role_name, "reason": pick.reason}
            for pick in chosen])
    return result, waiting


def _plan_rotations(items: list, staffing: dict[int, Staffing]) -> dict:
    """{role id: its `locked_pick.Rotation` for these items' tickets (None: nobody can take them)}."""
    by_role: dict[int, list[int]] = {}
    names = {}
    for ticket_id, _ext, _values, route in items:
        by_role.setdefault(route.role_id, []).append(ticket_id)
        names[route.role_id] = route.role_name
    return {rid: locked_pick.plan(rid, names[rid], staffing[rid], tickets) for rid, tickets in by_role.items()}


def _assignment_rows(picks: dict, by_ticket: dict, task_ids: dict, now) -> list[dict]:
    route_of = {ticket_id: item[3] for ticket_id, item in by_ticket.items()}
    return [{"task_id": task_ids[ticket_id], "step_id": route_of[ticket_id].step_id, "user_id": pick.user_id,
             "username": pick.username[:80], "role_name": route_of[ticket_id].role_name, "status": "assigned",
             "reason": pick.reason[:500], "assigned_on": now, "updated_at": now}
            for ticket_id, chosen in picks.items() for pick in chosen]
