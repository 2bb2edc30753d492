"""Round-robin picks made by the database under the role's lock, in the statement that writes them
(PostgreSQL; DESIGN, "Round-robin").

The rotation of a role depends only on its last user served (`round_robin_states.last_user_id`), and
for a plain round-robin role with no cap on open tasks, only through where that user sits among the
members (ascending ids): n members give n possible starts, plus "nobody served yet". So the picks for
every possible start are worked out here beforehand — the same `next_assignees`, the same reasons — and
one statement locks the role's state row (`SELECT … FOR UPDATE`), chooses the start that matches what
it finds, inserts that start's assignments and the `TaskCreated` events naming them, and stores the new
last user. Sent with the COMMIT in the same round trip, the lock is held only while the server runs
that statement and commits: concurrent requests for one role no longer queue behind each other's round
trips and Python.

Availability (away, on leave) is read before the lock: for a role without a cap it decides who can be
picked, not how many tasks anyone holds, and a switch flipped during a request is as late as one flipped
just after it. Roles that balance load or cap open tasks read load under the lock (the `_allocate` path
in `intake`), as do batches too big to plan every start for (`MAX_PLANNED_PICKS`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from app.models import AssignmentMode, TaskAssignment
from app.services.helpdesk.round_robin import Pick, Staffing, next_assignees
from app.services.platform.bulk_insert import driver_connection

# At most this many (members × tickets) for a role in one request: every start is planned, and the rows
# of all of them are sent.
MAX_PLANNED_PICKS = 64
FIRST = -1  # the start when nobody has been served yet


def plannable(staffing: Staffing, tickets: int) -> bool:
    """Whether a role's picks for `tickets` tickets can be planned for every start."""
    return (staffing.mode == AssignmentMode.ROUND_ROBIN.value and staffing.cap is None
            and len({m.user_id for m in staffing.members}) * tickets <= MAX_PLANNED_PICKS)


@dataclass
class Rotation:
    """A role's picks for its tickets (ascending ticket ids), for every start."""

    role_id: int
    role_name: str
    members: list[int]
    # start → (the last user after these tickets, {ticket id: picks}); the first pick of a start other than
    # FIRST names the previous user, which only the database knows: its reason is completed there.
    starts: dict[int, tuple[int | None, dict[int, list[Pick]]]]

    def picks(self, start: int, previous: int | None) -> dict[int, list[Pick]]:
        """The picks of `start`, with the previous user (found under the lock) in the first reason."""
        chosen = self.starts[start][1]
        if start == FIRST:
            return chosen
        first_ticket = next(iter(chosen))
        first = chosen[first_ticket][0]
        head, rest = self.split_first_reason(start, first.reason)
        return {**chosen, first_ticket: [Pick(first.user_id, first.username, f"{head}{previous}{rest}"),
                                         *chosen[first_ticket][1:]]}

    def split_first_reason(self, start: int, reason: str) -> tuple[str, str]:
        """(the text before the previous user, the text after it) of the first reason planned for `start`
        (other than FIRST), which names the member before the start as the previous user."""
        head = f"round-robin for role {self.role_name}: next after user "
        return head, reason[len(head) + len(str(self.members[start - 1])):]


def plan(role_id: int, role_name: str, staffing: Staffing, ticket_ids: list[int]) -> Rotation | None:
    """Every start's picks for these tickets; None when nobody can take work (the tickets wait)."""
    members = sorted({m.user_id for m in staffing.members})
    starts: dict[int, tuple[int | None, dict[int, list[Pick]]]] = {}
    for start in (FIRST, *range(len(members))):
        last = None if start == FIRST else members[start - 1]  # start 0: after the highest id, wrapping round
        per_ticket = {}
        for ticket_id in ticket_ids:
            per_ticket[ticket_id], last = next_assignees(staffing.members, last, staffing.limit, role_name)
            if not per_ticket[ticket_id]:
                return None
        starts[start] = (last, per_ticket)
    return Rotation(role_id, role_name, members, starts)


def send_picks(rotations: list[Rotation], task_ids: dict[int, int], steps: dict[int, int], events: list[dict],
               now) -> "PicksSent":
    """Send the statement that locks each role's state row, chooses the start matching it, inserts that
    start's assignments (`task_ids`: {ticket id: task id}; `steps`: {ticket id: step id}) and the `events`
    (TaskCreated rows whose payload's `assignees` it fills in) and stores each role's new last user.
    A role without a state row starts the rotation and gets one; concurrent requests can only take turns
    on a row that exists (`round_robin.send_ensure_states`, before). Read the choice with `PicksSent.read`."""
    options, lasts, roles = [], [], []
    for rotation in rotations:
        roles.append({"role_id": rotation.role_id, "members": rotation.members})
        for start, (last, per_ticket) in rotation.starts.items():
            lasts.append({"role_id": rotation.role_id, "start": start, "last": last})
            for n, (ticket_id, picks) in enumerate(per_ticket.items()):
                for seq, pick in enumerate(picks):
                    head = tail = reason = None
                    if start != FIRST and n == 0 and seq == 0:
                        head, tail = rotation.split_first_reason(start, pick.reason)
                    else:
                        reason = pick.reason[:500]
                    options.append({"role_id": rotation.role_id, "start": start, "seq": seq,
                                    "task_id": task_ids[ticket_id], "step_id": steps[ticket_id],
                                    "user_id": pick.user_id, "username": pick.username[:80],
                                    "role_name": rotation.role_name, "reason": reason, "head": head, "tail": tail})
    cursor = driver_connection().cursor()
    cursor.execute(_statement(tuple(events[0])), {
        "roles": json.dumps(roles), "options": json.dumps(options), "lasts": json.dumps(lasts),
        "events": json.dumps(events, default=str), "now": now})
    return PicksSent(cursor, {r.role_id: r for r in rotations})


@dataclass
class PicksSent:
    cursor: object
    rotations: dict[int, Rotation]

    def read(self) -> dict[int, list[Pick]]:
        """{ticket id: picks} as the database chose them."""
        out: dict[int, list[Pick]] = {}
        for role_id, previous, start in self.cursor.fetchall():
            out.update(self.rotations[role_id].picks(start, previous))
        self.cursor.close()
        return out


_ASSIGNMENT = ("task_id", "step_id", "user_id", "username", "role_name", "status", "reason", "assigned_on",
               "updated_at")
assert set(_ASSIGNMENT) <= {c.name for c in TaskAssignment.__table__.columns}


@lru_cache(maxsize=8)
def _statement(event_columns: tuple[str, ...]) -> str:
    """The statement of `send_picks` for events with these columns."""
    return f"""
WITH previous AS (
    SELECT staff_role_id AS role_id, last_user_id AS last FROM round_robin_states
    WHERE staff_role_id IN (SELECT role_id FROM json_to_recordset(%(roles)s::json) AS r(role_id int))
    ORDER BY staff_role_id FOR UPDATE),
chosen AS (
    SELECT r.role_id, p.last,
           CASE WHEN p.last IS NULL THEN {FIRST}
                ELSE (SELECT count(*) FROM unnest(r.members) AS m(id) WHERE m.id <= p.last)::int
                     %% cardinality(r.members) END AS start
    FROM json_to_recordset(%(roles)s::json) AS r(role_id int, members int[]) LEFT JOIN previous p USING (role_id)),
picked AS (
    SELECT o.*, c.last FROM json_to_recordset(%(options)s::json) AS o(
        role_id int, start int, seq int, task_id int, step_id int, user_id int, username text, role_name text,
        reason text, head text, tail text)
    JOIN chosen c ON c.role_id = o.role_id AND c.start = o.start),
assigned AS (
    INSERT INTO task_assignments ({", ".join(_ASSIGNMENT)})
    SELECT task_id, step_id, user_id, username, role_name, 'assigned',
           left(coalesce(reason, head || last::text || tail), 500), %(now)s, %(now)s
    FROM picked ORDER BY task_id, seq),
stored AS (
    INSERT INTO round_robin_states (staff_role_id, last_user_id, updated_at)
    SELECT l.role_id, l.last, %(now)s FROM json_to_recordset(%(lasts)s::json) AS l(role_id int, start int, last int)
    JOIN chosen c ON c.role_id = l.role_id AND c.start = l.start
    ON CONFLICT (staff_role_id) DO UPDATE SET last_user_id = excluded.last_user_id, updated_at = excluded.updated_at),
events AS (
    INSERT INTO outbox_events ({", ".join(event_columns)})
    SELECT {", ".join(
        "jsonb_set(e.payload, '{assignees}', coalesce((SELECT jsonb_agg(p.user_id ORDER BY p.seq) FROM picked p "
        "WHERE p.task_id = (e.payload->>'task_id')::int), '[]'::jsonb))" if name == "payload" else f"e.{name}"
        for name in event_columns)}
    FROM json_populate_recordset(NULL::outbox_events, %(events)s::json) AS e)
SELECT role_id, last, start FROM chosen
"""
