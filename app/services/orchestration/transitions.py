"""The one `transition()` that changes the state of a task or an action plan, by the tables of
`state_machines`.

`transition()` checks the edge, the permission, who may act on this row and the guards; then a
compare-and-set on the state column, the audit row (`StateTransition`), the SLA clocks, the outbox
event and what a ticket task's change does to its workflow (`task_effects`: its step's assignments
close, the end logic runs; completing it before the last step needs `skip_remaining_steps`) — one
commit. On PostgreSQL the compare-and-set also inserts the event and the audit row (one statement, so a
lost race writes nothing) and goes with the read of the SLA clocks: one round trip. `transition_tasks()`
does the same for many tasks, set-based. `allowed_transitions` drives the buttons.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Callable, TypeVar

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models import (
    ActionPlan, ActionPlanStatus, OutboxEvent, Permission, StateTransition, Task, TaskStatus, User, utcnow,
)
from app.services.orchestration import sla, task_effects
from app.services.orchestration.state_machines import (
    ACTION_PLAN, MACHINES, TASK, Machine, machine_for, task_correlation,
)
from app.services.platform.access import get_scoped, project_scope
from app.services.platform.errors import (
    Conflict, DomainError, FieldErrors, Forbidden, InvalidTransition, NotFound,
)
from app.services.platform.bulk_insert import Deferred, is_postgresql, pipelined, send_rows, send_with_rows
from app.services.platform.metrics import count, count_many
from app.services.platform.outbox import event_values
from app.schemas.workflow import TransitionItem

log = logging.getLogger(__name__)
S, P = TaskStatus, ActionPlanStatus
T = TypeVar("T")


@dataclass(frozen=True)
class Cause:
    """The event (and rule) an automated change comes from: the loop guard's and causation chain's input."""

    event_id: str
    correlation_id: str | None
    depth: int
    rule_chain: tuple = ()

    @classmethod
    def of(cls, event: OutboxEvent, rule_id: int | None = None) -> "Cause":
        chain = tuple(event.rule_chain or ()) + ((rule_id,) if rule_id is not None else ())
        # an origin without a correlation id gives its own id to its chain (the fan-out budget's key)
        return cls(event.id, event.correlation_id or event.id, event.depth, chain)

    @property
    def rule_id(self) -> int | None:
        """The rule that made the change (the last of the chain), if a rule did."""
        return self.rule_chain[-1] if self.rule_chain else None

    def event_kwargs(self) -> dict:
        return {"causation_id": self.event_id, "correlation_id": self.correlation_id,
                "depth": self.depth + 1, "rule_chain": list(self.rule_chain)}


@dataclass
class TransitionResult:
    entity: Task | ActionPlan
    from_state: str
    to_state: str
    event_id: str  # the outbox event it wrote
    correlation_id: str


def is_supervisor(user: User) -> bool:
    return user.is_admin or user.has_permission(Permission.MANAGE_WORKFLOWS)


def _is_assigned(task: Task, user: User) -> bool:
    if task.assignee_id == user.id:
        return True
    if task.ticket_id is None:  # only ticket tasks have per-step assignments
        return False
    return any(a.user_id == user.id and a.step_id == task.current_step_id and a.status != "declined"
               for a in task.assignments)


def _may_act(machine: Machine, obj, user: User, to_state: str) -> bool:
    """Who may make this change on this row (beyond holding the permission)."""
    if machine is ACTION_PLAN or is_supervisor(user):
        return True
    created = obj.created_by_id == user.id
    if to_state == S.CANCELLED.value:  # assignees work a task; only its author or a supervisor drops it
        return created
    return created or _is_assigned(obj, user)


def allowed_transitions(obj, user: User | None) -> list[str]:
    """The states this user may move this row to now (in table order); None = the system."""
    machine = machine_for(obj)
    targets = list(machine.edges.get(obj.status, ()))
    if user is None:
        return targets
    if not user.has_permission(machine.permission):
        return []
    return [t for t in targets if _may_act(machine, obj, user, t)]


def _correlation(machine: Machine, obj) -> str:
    if machine is TASK:
        return task_correlation(obj.id, obj.ticket_id)
    return f"{machine.entity_type}:{obj.id}"


def _payload(machine: Machine, obj, before: str, after: str, actor: User | None, reason: str) -> dict:
    common = {"from": before, "to": after, "project_id": obj.project_id, "service_area": obj.service_area,
              "actor_id": actor.id if actor else None, "reason": reason}
    if machine is TASK:
        return {"task_id": obj.id, "ticket_id": obj.ticket_id, "kind": obj.kind, "title": obj.title,
                "task_type": obj.task_type, "priority": obj.priority,
                "action_plan_id": obj.action_plan_id, "assignee_id": obj.assignee_id, **common}
    return {"action_plan_id": obj.id, "title": obj.title, **common}


def _count(entity_type: str, result: str) -> None:
    count("workflow_transition_total", entity_type=entity_type, result=result)


def transition(actor: User | None, entity_type: str, entity_id, to_state, *, reason: str = "",
               context: dict | None = None, expected_state: str | None = None, correlation_id: str | None = None,
               cause: Cause | None = None, commit: bool = True, now: datetime | None = None,
               skip_remaining_steps: bool = False,
               before_commit: Callable[[TransitionResult], None] | None = None) -> TransitionResult:
    """Move a task or action plan to `to_state`. `actor` None is the system (automation): no
    permission check, and `cause` links the change to the event that led to it. With commit=False
    the caller owns the transaction (the outbox relay runs rules inside its own); else
    `before_commit(result)` runs just before the commit, which goes in one round trip with the SLA
    clocks' UPDATEs. `skip_remaining_steps` confirms completing a ticket task before its workflow's
    last step."""
    machine = MACHINES.get(entity_type)
    if machine is None:
        raise InvalidTransition(f"No state machine for {entity_type!r}; there are {', '.join(MACHINES)}.")
    try:
        result, clock_writes = _transition(machine, actor, entity_id, to_state, reason, context, expected_state,
                                           correlation_id, cause, now, skip_remaining_steps)
    except DomainError as exc:
        _count(machine.entity_type, _outcome(exc.code))
        raise
    if not commit:
        sla.write_clocks(clock_writes)
        return result
    if before_commit is not None:
        before_commit(result)
    finish(result, clock_writes)
    return result


def transition_described(actor: User, entity_type: str, entity_id, to_state,
                         describe: Callable[[Task | ActionPlan], T], **options) -> tuple[TransitionResult, T]:
    """`transition()` with `describe(entity)` (an answer built from the changed row) taken just before
    the commit, so that the answer needs no reload after it. `options` are transition()'s."""
    described = []
    result = transition(actor, entity_type, entity_id, to_state,
                        before_commit=lambda changed: described.append(describe(changed.entity)), **options)
    return result, described[0]


def finish(result: TransitionResult, clock_writes: list = ()) -> None:
    """Commit a transition made with commit=False (after the caller's own changes), count and log it.
    `clock_writes`: those of a `transition()` that commits (`sla.clock_writes`), sent with the COMMIT."""
    entity_type, entity_id = machine_for(result.entity).entity_type, result.entity.id  # before commit expires them
    with pipelined(commit=True):
        sla.send_clock_writes(clock_writes)
    db.session.commit()
    _count(entity_type, "success")
    log.info("%s %s: %s → %s", entity_type, entity_id, result.from_state, result.to_state,
             extra={"correlation_id": result.correlation_id, "event_id": result.event_id})


def _load(machine: Machine, actor: User | None, entity_id):
    if actor is not None:
        return get_scoped(machine.model, entity_id, actor, machine.label)
    obj = db.session.get(machine.model, int(entity_id))
    if obj is None:
        raise NotFound(f"No {machine.label} {entity_id}")
    return obj


def _transition(machine: Machine, actor, entity_id, raw_to, reason, context, expected_state, correlation_id, cause,
                now, skip_remaining_steps) -> tuple[TransitionResult, list]:
    """The change, written but for the SLA clocks' UPDATEs (`sla.clock_writes`), returned to be sent."""
    obj = _load(machine, actor, entity_id)
    to_state, reason = _check(machine, actor, obj, raw_to, reason, expected_state)
    routes: dict = {}
    if machine is TASK:
        context = _with(context, task_effects.confirm_completion(obj, to_state, skip_remaining_steps, routes, actor,
                                                                 cause.rule_id if cause else None))
    before, now = obj.status, now or utcnow()
    values = _changes(machine, obj, to_state, actor, now)
    _keep(obj, values)
    event, audit = _rows(machine, obj, before, to_state, actor, reason, context, correlation_id, cause, now)
    clock_tasks = [obj.id] if machine is TASK else []
    # The effects' UPDATE must come after the lock the compare-and-set takes, and its answer before their
    # events are built; SQLite has no UPDATE in a WITH. Otherwise, one statement writes it all.
    if is_postgresql() and not (machine is TASK and task_effects.has_effects(obj, to_state)):
        clocks = _compare_and_set(machine, obj, before, values,
                                  {OutboxEvent.__table__: event, StateTransition.__table__: audit}, clock_tasks)
    else:
        _compare_and_set(machine, obj, before, values)
        effects = task_effects.apply([(obj, to_state, event)], routes, now) if machine is TASK else []
        clocks = _insert([event, *effects], [audit], clock_tasks)
    clock_writes = sla.clock_writes([(obj, before, to_state)], now, clocks) if machine is TASK else []
    return TransitionResult(obj, before, to_state, event["id"], audit["correlation_id"]), clock_writes


def _with(context: dict | None, more: dict) -> dict | None:
    """The audit context with what the change's effects add to it."""
    return {**(context or {}), **more} if more else context


def _check(machine: Machine, actor, obj, raw_to, reason, expected_state) -> tuple[str, str]:
    """The state `obj` may go to now and the cleaned reason; raises the refusal otherwise: bad input,
    a stale `expected_state`, an edge not in the table, a missing permission, a guard."""
    errors = FieldErrors()
    to_state = machine.normalise(raw_to)
    if to_state is None:
        errors.add("to_state", f"must be one of {', '.join(machine.states)}, got {raw_to!r}")
    reason = str(reason or "").strip()
    if len(reason) > 500:
        errors.add("reason", "must be at most 500 characters")
    errors.raise_if_any(f"Cannot change {machine.label} {obj.id}")
    before = obj.status
    if expected_state is not None and machine.normalise(expected_state) != before:
        raise Conflict(f"{machine.label.capitalize()} {obj.id} is {before}, not {expected_state}; reload it.",
                       {"status": [before]})
    if to_state not in machine.edges.get(before, ()):
        raise InvalidTransition(  # the seed's message and details, with ours (from, to, allowed, entity_id)
            f"Transition from {before} to {to_state} not allowed",
            {"current_state": before, "target_state": to_state, "entity_type": machine.model.__name__,
             "entity_id": obj.id, "from": before, "to": to_state, "allowed": list(machine.edges.get(before, ()))})
    if actor is not None:
        if not actor.has_permission(machine.permission):
            raise Forbidden(f"You need the {machine.permission} permission to change {machine.label}s.",
                            {"permission": machine.permission})
        if not _may_act(machine, obj, actor, to_state):
            raise Forbidden(f"Only the {machine.label}'s author, its assignees or a supervisor can move it to "
                            f"{to_state}." if to_state != S.CANCELLED.value else
                            f"Only the {machine.label}'s author or a supervisor can cancel it.",
                            {"permission": machine.permission})
    if to_state in machine.reason_required and not reason:
        errors.add("reason", f"is required to move a {machine.label} to {to_state}")
        errors.raise_if_any(f"Cannot change {machine.label} {obj.id}")
    return to_state, reason


def _changes(machine: Machine, obj, to_state: str, actor, now: datetime) -> dict:
    """The columns a move to `to_state` writes."""
    values = {"status": to_state, "updated_at": now}
    if machine is TASK:
        if to_state == S.COMPLETED.value:
            values["completed_at"] = now
        if to_state == S.IN_PROGRESS.value and obj.assignee_id is None and obj.ticket_id is None and actor is not None:
            values["assignee_id"] = actor.id  # starting an unassigned task claims it
    elif to_state == P.ACTIVE.value:
        values["activated_at"] = now
    elif to_state == P.ARCHIVED.value:
        values["archived_at"] = now
    return values


def _rows(machine: Machine, obj, before: str, to_state: str, actor, reason: str, context, correlation_id, cause,
          now: datetime) -> tuple[dict, dict]:
    """The outbox event and the audit row of one change."""
    cid = correlation_id or (cause.correlation_id if cause else None) or _correlation(machine, obj)
    chain = cause.event_kwargs() if cause else {}
    chain["correlation_id"] = cid
    event = event_values(machine.event_type, machine.entity_type, obj.id,
                         _payload(machine, obj, before, to_state, actor, reason), **chain)
    audit = {"entity_type": machine.entity_type, "entity_id": obj.id, "from_state": before, "to_state": to_state,
             "actor_id": actor.id if actor else None, "reason": reason, "context": dict(context or {}),
             "correlation_id": cid, "event_id": event["id"], "at": now}
    return event, audit


def _insert(events: list[dict], audits: list[dict], clock_tasks: list[int]) -> Deferred | None:
    """The outbox events and audit rows of changes (plain INSERTs, nothing reads them back here) and the
    open SLA clocks of `clock_tasks`, read after them: one round trip."""
    with pipelined():
        send_rows(OutboxEvent.__table__, events)
        send_rows(StateTransition.__table__, audits)
        return sla.send_open_clocks(clock_tasks) if clock_tasks else None


def _compare_and_set(machine: Machine, obj, before: str, values: dict, rows: dict | None = None,
                     clock_tasks: list[int] | tuple = ()) -> Deferred | None:
    """Write the new state only if the row is still in `before` (this also locks it until commit), else
    a Conflict. With `rows` (PostgreSQL: the event and the audit row, by table), the same statement
    inserts them only if the row changed, so a Conflict has written nothing; the open SLA clocks of
    `clock_tasks` are read after it (returned), in the same round trip."""
    if rows is None:
        model = machine.model
        changed = db.session.execute(
            update(model).where(model.id == obj.id, model.status == before).values(**values)
            .execution_options(synchronize_session=False)).rowcount == 1
        clocks = None
    else:
        params = {"row_id": obj.id, "before": before, **{f"new_{name}": value for name, value in values.items()}}
        db.session.flush()  # the caller's pending changes first, as the ORM's UPDATE would (lock order)
        with pipelined():
            returned = send_with_rows(_change_statement(machine.model, tuple(values)), params, rows)
            clocks = sla.send_open_clocks(clock_tasks) if clock_tasks else None
        changed = bool(returned.all())
    if not changed:
        conflict = Conflict(f"{machine.label.capitalize()} {obj.id} changed meanwhile; reload it and try again.",
                            {"status": [before]})
        db.session.expire(obj)  # `_keep` gave it the values it did not get
        raise conflict
    return clocks


@lru_cache(maxsize=16)
def _change_statement(model, columns: tuple[str, ...]):
    """The compare-and-set as an UPDATE … RETURNING, built once per model and set of columns written."""
    table = model.__table__
    return (update(table).where(table.c.id == bindparam("row_id"), table.c.status == bindparam("before"))
            .values({name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns})
            .returning(table.c.id))


def _keep(obj, values: dict) -> None:
    """Keep the loaded object in step with the columns written, without a second UPDATE."""
    for name, value in values.items():
        set_committed_value(obj, name, value)


# --- many task transitions at once -----------------------------------------------------------------

_OUTCOMES = {"invalid_transition": "invalid", "permission_denied": "forbidden", "conflict": "conflict"}


def transition_tasks(actor: User, items: list[TransitionItem], now: datetime | None = None) -> list[dict]:
    """Apply a list of task transitions in one transaction, in order. Each item is checked exactly as
    `transition()` checks one and is applied or refused on its own; a refused item changes nothing, and
    later items of the same task see the state it is really in. Returns one result per item. Commits.

    Set-based: one SELECT for the tasks, one for the workflows of the ticket tasks completed, one
    compare-and-set UPDATE for all of them (a task changed meanwhile refuses its items with a
    conflict), one UPDATE for the step assignments they close, multi-row INSERTs for the events and
    audit rows sent with the read of the tasks' SLA clocks, and the clocks' UPDATEs sent with the COMMIT."""
    now = now or utcnow()
    tasks = _load_tasks(actor, {item.task_id for item in items})
    routes = task_effects.load_routes({tasks[item.task_id] for item in items if item.task_id in tasks
                                       and TASK.normalise(item.to_state) == S.COMPLETED.value})
    first_state: dict[int, str] = {}
    pending: dict[int, dict] = {}
    accepted, results = [], []
    for index, item in enumerate(items):
        task = tasks.get(item.task_id)
        try:
            if task is None:
                raise NotFound(f"No task {item.task_id}")
            to_state, reason = _check(TASK, actor, task, item.to_state, item.reason, item.expected_state)
            context = _with(item.audit_context(), task_effects.confirm_completion(
                task, to_state, item.skip_remaining_steps, routes, actor))
        except DomainError as exc:
            results.append(_refusal(index, item.task_id, exc))
            continue
        before = task.status
        first_state.setdefault(task.id, before)
        values = _changes(TASK, task, to_state, actor, now)
        pending.setdefault(task.id, {}).update(values)
        _keep(task, values)  # later items of this task are checked against this state
        accepted.append((index, task, before, to_state, reason, context))
        results.append(None)
    changed = _compare_and_set_many(first_state, pending)
    events, audits, sla_changes, entered = [], [], [], []
    for index, task, before, to_state, reason, context in accepted:
        if task.id not in changed:
            results[index] = _refusal(index, task.id, Conflict(
                f"Task {task.id} changed meanwhile; reload it and try again.", {"status": [first_state[task.id]]}))
            continue
        event, audit = _rows(TASK, task, before, to_state, actor, reason, context, None, None, now)
        events.append(event)
        audits.append(audit)
        sla_changes.append((task, before, to_state))
        entered.append((task, to_state, event))
        results[index] = {"index": index, "ok": True, "task_id": task.id, "from": before, "to": to_state,
                          "event_id": event["id"], "correlation_id": audit["correlation_id"]}
    for task_id in set(pending) - changed:
        db.session.expire(tasks[task_id])
    clock_writes = []
    if events:
        clocks = _insert(events + task_effects.apply(entered, routes, now), audits, [t.id for t, _, _ in sla_changes])
        clock_writes = sla.clock_writes(sla_changes, now, clocks)
    with pipelined(commit=True):
        sla.send_clock_writes(clock_writes)
    db.session.commit()
    _count_results(results)
    log.info("task transitions: %s applied, %s refused", len(events), len(results) - len(events))
    return results


def _load_tasks(actor: User, ids: set[int]) -> dict[int, Task]:
    rows = db.session.execute(select(Task).where(Task.id.in_(ids), Task.project_id.in_(project_scope(actor)))
                              .order_by(Task.id)).scalars()
    return {task.id: task for task in rows}


def _compare_and_set_many(first_state: dict[int, str], pending: dict[int, dict]) -> set[int]:
    """One UPDATE for every task: each row changes only if it is still in the state it was read in.
    Returns the ids that changed."""
    if not pending:
        return set()
    columns = {}
    for name in ("status", "updated_at", "completed_at", "assignee_id"):
        whens = {task_id: values[name] for task_id, values in pending.items() if name in values}
        if whens:
            columns[name] = case(whens, value=Task.id, else_=getattr(Task, name))
    stmt = (update(Task).where(Task.id.in_(pending), Task.status == case(first_state, value=Task.id))
            .values(**columns).returning(Task.id).execution_options(synchronize_session=False))
    return set(db.session.execute(stmt).scalars())


def _outcome(code: str) -> str:
    """The `result` label of workflow_transition_total for a refusal's error code."""
    return _OUTCOMES.get(code, "rejected")


def _refusal(index: int, task_id: int, exc: DomainError) -> dict:
    return {"index": index, "ok": False, "task_id": task_id, "error_code": exc.code.upper(),
            "message": exc.message, "details": exc.details}


def _count_results(results: list[dict]) -> None:
    outcomes = Counter("success" if r["ok"] else _outcome(r["error_code"].lower()) for r in results)
    count_many("workflow_transition_total", [({"entity_type": "task", "result": outcome}, n)
                                             for outcome, n in outcomes.items()])

