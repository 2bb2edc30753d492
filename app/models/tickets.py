"""Ticket intake → workflow → task: departments, categories, staff roles, workflows and their
steps, round-robin state, tickets, tasks and their per-user assignments.

Staff roles ("Intake officer", "Reviewer") are who works a workflow step; they are not the
permission roles (admin / coordinator / agent) of `app.models.users`.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean, CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.users import User


class WorkflowStatus(StrEnum):
    DRAFT = "draft"
    DEPLOYED = "deployed"


class EndLogic(StrEnum):
    NONE = "none"
    NOTIFICATION = "notification"


class AllocationStatus(StrEnum):
    """What became of a ticket's allocation (the seed's error table, one value per row).
    `not_found` is an outcome only: a missing ticket has no row to carry it."""

    PENDING = "pending"
    ALLOCATED = "allocated"
    NO_WORKFLOW = "no_workflow"
    NO_STEPS = "no_steps"
    NO_USERS_FOR_ROLE = "no_users_for_role"
    # The role has active users but none can take it now (away, on leave or at the role's cap): the
    # ticket waits in the unassigned queue and is allocated when someone becomes available.
    UNASSIGNED = "unassigned"
    ROLE_SOURCE_UNREACHABLE = "role_source_unreachable"
    INVALID_DATA = "invalid_data"
    NOT_FOUND = "not_found"


class TaskStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class TaskKind(StrEnum):
    """What a task is. A ticket task is a ticket's (one per ticket) and moves through its workflow's
    steps, staffed per step; a work item has no ticket: a title, a type and an area, an author and
    maybe an assignee (made on /api/workflow/, in an action plan, or by a rule)."""

    TICKET_TASK = "ticket_task"
    WORK_ITEM = "work_item"


class Priority(StrEnum):
    """One priority vocabulary for tickets, ticket tasks and work items."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# Priorities the seeds send that stand for ours (read case-insensitively, on every way in).
PRIORITY_ALIASES = {"urgent": Priority.CRITICAL.value, "normal": Priority.MEDIUM.value}


class AssignmentStatus(StrEnum):
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    DECLINED = "declined"


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Category(Base):
    """A category, or a sub-category when it has a parent."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Category | None] = relationship(remote_side=lambda: Category.id)


user_staff_roles = Table(
    "user_staff_roles",
    Base.metadata,
    Column("staff_role_id", Integer, ForeignKey("staff_roles.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class AssignmentMode(StrEnum):
    """How a staff role's users are picked: the exact rotation, or the fewest open tasks first."""

    ROUND_ROBIN = "round_robin"
    LEAST_OPEN = "least_open"


class StaffRole(Base):
    """Who works a workflow step. `max_assignments` users are put on each task, picked by
    `assignment_mode`; nobody is given more than `max_open_tasks` open tasks (no cap when null)."""

    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    max_assignments: Mapped[int] = mapped_column(Integer, default=3)
    assignment_mode: Mapped[str] = mapped_column(String(16), default=AssignmentMode.ROUND_ROBIN.value,
                                                 server_default=AssignmentMode.ROUND_ROBIN.value)
    max_open_tasks: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(secondary=user_staff_roles, lazy="selectin", order_by=User.id)


class AgentAvailability(Base):
    """Whether an agent takes new work: `away` until they (or a lead) say otherwise. No row: available."""

    __tablename__ = "agent_availability"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(String(200), default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgentLeave(Base):
    """A date range (inclusive, UTC dates) an agent is away for: no new work those days."""

    __tablename__ = "agent_leaves"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="leave_ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoundRobinState(Base):
    """The last user served for a role, locked (FOR UPDATE) by the transaction creating a task."""

    __tablename__ = "round_robin_states"

    staff_role_id: Mapped[int] = mapped_column(ForeignKey("staff_roles.id", ondelete="CASCADE"), primary_key=True)
    last_user_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Workflow(Base):
    __tablename__ = "workflows"
    __table_args__ = (Index("ix_workflows_project_status", "project_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    sub_category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    is_published: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=WorkflowStatus.DRAFT.value)
    end_logic: Mapped[str] = mapped_column(String(16), default=EndLogic.NONE.value)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship(lazy="joined")
    category: Mapped[Category] = relationship(foreign_keys=[category_id], lazy="joined")
    sub_category: Mapped[Category | None] = relationship(foreign_keys=[sub_category_id], lazy="joined")
    steps: Mapped[list[WorkflowStep]] = relationship(
        back_populates="workflow", order_by=lambda: (WorkflowStep.order, WorkflowStep.id),
        cascade="all, delete-orphan", lazy="selectin")


class WorkflowStep(Base):
    __tablename__ = "workflow_steps"

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    order: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(160))
    role_id: Mapped[int] = mapped_column(ForeignKey("staff_roles.id"), index=True)

    workflow: Mapped[Workflow] = relationship(back_populates="steps")
    role: Mapped[StaffRole] = relationship(lazy="joined")


class Ticket(Base):
    """A ticket as received (department, category… are the sender's names); `data` keeps the
    payload. One per (project, external id): a re-delivery updates it."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id"),
        Index("ix_tickets_project_received", "project_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    external_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    department: Mapped[str] = mapped_column(String(120), default="")
    category: Mapped[str] = mapped_column(String(120), default="")
    sub_category: Mapped[str | None] = mapped_column(String(120))
    priority: Mapped[str] = mapped_column(String(16), default=Priority.MEDIUM.value)
    requester: Mapped[str] = mapped_column(String(255), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    is_task_allocated: Mapped[bool] = mapped_column(Boolean, default=False)
    allocation_status: Mapped[str] = mapped_column(String(32), default=AllocationStatus.PENDING.value, index=True)
    allocation_error: Mapped[str] = mapped_column(Text, default="")
    allocation_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_allocation_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    workflow: Mapped[Workflow | None] = relationship()
    task: Mapped[Task | None] = relationship(back_populates="ticket", uselist=False)


class Task(Base):
    """A unit of work of one `kind` (TaskKind): ticket tasks (one per ticket: unique ticket_id) move
    through their workflow's steps; work items (no ticket) carry a type and service area for SLAs and
    rules. Both follow the one state machine in `orchestration/transitions.py`."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_project_status", "project_id", "status"),
        Index("ix_tasks_area_type", "service_area", "task_type"),
        CheckConstraint(f"(kind = '{TaskKind.TICKET_TASK}' AND ticket_id IS NOT NULL) OR "
                        f"(kind = '{TaskKind.WORK_ITEM}' AND ticket_id IS NULL)", name="kind_matches_ticket"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    kind: Mapped[str] = mapped_column(String(16))  # TaskKind, set by whoever creates the task
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id"), index=True)
    current_step_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_steps.id"), index=True)
    action_plan_id: Mapped[int | None] = mapped_column(ForeignKey("action_plans.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    task_type: Mapped[str] = mapped_column(String(40), default="general")
    service_area: Mapped[str] = mapped_column(String(80), default="general")
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.NEW.value)
    priority: Mapped[str] = mapped_column(String(16), default=Priority.MEDIUM.value)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # the seed's `assigned_to`: someone by reference, as sent (an id or name in another system when it is
    # none of the project's users; when it is, assignee_id is them too)
    assigned_to: Mapped[str | None] = mapped_column(String(150))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    data: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the seed's fetched_at: when one of its current step's assignees first fetched it (GET on the task API)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket | None] = relationship(back_populates="task")
    workflow: Mapped[Workflow | None] = relationship()
    current_step: Mapped[WorkflowStep | None] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    assignments: Mapped[list[TaskAssignment]] = relationship(
        back_populates="task", order_by=lambda: TaskAssignment.id, cascade="all, delete-orphan")


class TaskAssignment(Base):
    """One user on one step of a task. `user_id` is in the role source's id space (ours unless
    TTS_SERVICE_URL is set), so it is not a foreign key; `username` is a snapshot."""

    __tablename__ = "task_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("workflow_steps.id"), index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(80), default="")
    role_name: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.ASSIGNED.value)
    reason: Mapped[str] = mapped_column(String(500), default="")
    assigned_on: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    task: Mapped[Task] = relationship(back_populates="assignments")


class CommentVisibility(StrEnum):
    INTERNAL = "internal"  # a note for the people working it
    REPLY = "reply"  # a reply to the requester (a `CommentAdded` event carries it out)


class Comment(Base):
    """A comment on a ticket (and its task) or on a work item: an internal note or a reply to the requester."""

    __tablename__ = "comments"
    __table_args__ = (
        CheckConstraint("ticket_id IS NOT NULL OR task_id IS NOT NULL", name="on_ticket_or_task"),
        Index("ix_comments_ticket_created", "ticket_id", "created_at"),
        Index("ix_comments_task_created", "task_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    visibility: Mapped[str] = mapped_column(String(16), default=CommentVisibility.INTERNAL.value)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User | None] = relationship()
