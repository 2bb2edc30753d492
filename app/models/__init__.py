"""All models, imported here so Alembic sees every table."""
from app.models.base import Base, utcnow  # noqa: F401
from app.models.jobs import Job, JobLog  # noqa: F401
from app.models.org import (  # noqa: F401
    AreaType, OrgUnit, OrgUnitCategory, OrgUnitType, Team, TeamType, team_users,
)
from app.models.users import (  # noqa: F401
    ALL_PERMISSIONS, DEFAULT_ROLES, Permission, Project, Role, User, user_projects,
)
from app.models.planning import Assignment, AuditLog, Form, Planning, planning_forms  # noqa: F401
from app.models.tickets import (  # noqa: F401
    PRIORITY_ALIASES, AgentAvailability, AgentLeave, AllocationStatus, AssignmentMode, AssignmentStatus, Category,
    Comment, CommentVisibility, Department, EndLogic, Priority, RoundRobinState, StaffRole, Task, TaskAssignment,
    TaskKind, TaskStatus, Ticket, Workflow, WorkflowStatus, WorkflowStep, user_staff_roles,
)
from app.models.outbox import OutboxEvent, OutboxStatus  # noqa: F401
from app.models.openhexa import OpenHexaConfig  # noqa: E402,F401
from app.models.connections import Dhis2Connection, Dhis2Import  # noqa: E402,F401
from app.models.schedules import Schedule  # noqa: E402,F401
from app.models.workflow import ActionPlan, ActionPlanStatus, StateTransition  # noqa: E402,F401
from app.models.automation import (  # noqa: E402,F401
    Alert, AutomationBudget, AutomationRule, DeliveryStatus, RuleExecution, RuleOutcome, WebhookAttempt, WebhookDelivery,
    WebhookEndpoint,
)
from app.models.sla import BusinessCalendarConfig, SlaConfig, SlaRecord, SlaStatus  # noqa: E402,F401
from app.models.ticket_batches import TicketBatchItem  # noqa: E402,F401
