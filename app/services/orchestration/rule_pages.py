"""What the automation rule pages show and do for one user: the rules list, a rule's page (recent
executions, events to test it against, a test's result), the create/edit form and its pieces, and
saving or toggling a rule. Changing rules needs MANAGE_WORKFLOWS (and an admin for a global rule): a
form is refused (Forbidden) to whoever may not submit it."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from app.models import AutomationRule, OutboxEvent, Permission, Project, RuleExecution, User, WebhookEndpoint
from app.schemas.automation import ACTION_TYPES, ALERT_LEVELS, PLAN_TARGETS, PRIORITIES, TASK_TARGETS, RuleIn, Toggle
from app.schemas.parsing import validate_data
from app.services.orchestration import automation_rules as svc
from app.services.orchestration import webhooks
from app.services.orchestration.conditions import OPS
from app.services.platform.events import EVENT_TYPES, FieldDoc, condition_fields
from app.services.orchestration.rule_forms import ACTION_DEFAULTS, form_state, rule_data
from app.services.platform.errors import Forbidden, ValidationFailed
from app.services.platform.permissions import require_permission


@dataclass
class RulesPage:
    rows: list[svc.RuleRow]
    can_create: bool


@dataclass
class RulePage:
    rule: AutomationRule
    row: svc.RuleRow
    executions: list[RuleExecution]
    events: list[OutboxEvent]
    endpoints: dict[int, WebhookEndpoint]
    result: dict | None


@dataclass
class RuleChoices:
    """Everything the form's selects offer."""

    event_types: tuple[str, ...]
    ops: tuple[str, ...]
    action_types: tuple[str, ...]
    priorities: tuple[str, ...]
    levels: tuple[str, ...]
    task_targets: tuple[str, ...]
    plan_targets: tuple[str, ...]
    endpoints: list[WebhookEndpoint]
    projects: list[Project]
    allow_global: bool


@dataclass
class RuleForm(RuleChoices):
    rule: AutomationRule | None
    form: dict
    errors: dict
    hints: list[FieldDoc]


@dataclass
class ActionForm(RuleChoices):
    """One more action in the form: its fields under a random key, so that actions added in any order
    keep their fields apart."""

    action: dict
    key: str
    index: int | None
    errors: dict


@dataclass
class SavedRule:
    """A form submission: the saved rule, or the form again with its errors."""

    rule: AutomationRule | None = None
    form: RuleForm | None = None


def _choices(user: User) -> dict:
    return {"event_types": EVENT_TYPES, "ops": OPS, "action_types": ACTION_TYPES, "priorities": PRIORITIES,
            "levels": ALERT_LEVELS, "task_targets": TASK_TARGETS, "plan_targets": PLAN_TARGETS,
            "endpoints": webhooks.list_endpoints(user), "projects": user.projects, "allow_global": user.is_platform_operator}


def rules_page(user: User) -> RulesPage:
    """The rules the user sees with how often each fired, and whether they may create one."""
    return RulesPage(svc.list_rules(user), user.has_permission(Permission.MANAGE_WORKFLOWS))


def _rule_page(user: User, rule: AutomationRule, result: dict | None) -> RulePage:
    return RulePage(rule, svc.rule_row(user, rule.id), svc.recent_executions(rule),
                    svc.recent_events(user, rule.event_type, rule.project_id),
                    {e.id: e for e in webhooks.list_endpoints(user)}, result)


def rule_page(user: User, rule_id) -> RulePage:
    """A rule with its counts, recent executions and the events to test it against."""
    return _rule_page(user, svc.get_rule(user, rule_id), None)


def tested_rule_page(user: User, rule_id, event_id) -> RulePage:
    """The rule's page with what the rule would do on this past event (nothing is changed)."""
    rule = svc.get_rule(user, rule_id)
    return _rule_page(user, rule, svc.test_rule(user, rule.id, event_id))


def _editable(user: User, rule_id) -> AutomationRule | None:
    """The rule to edit (None for a new one), if the user may change it."""
    if rule_id is None:
        require_permission(user, Permission.MANAGE_WORKFLOWS)
        return None
    rule = svc.get_rule(user, rule_id)
    if not svc.can_edit(user, rule):
        raise Forbidden("Changing rules needs MANAGE_WORKFLOWS, and only an admin can change a global rule.")
    return rule


def _form(user: User, rule: AutomationRule | None, state: dict, errors: dict | None = None) -> RuleForm:
    return RuleForm(rule=rule, form=state, errors=errors or {}, hints=condition_fields(state["event_type"]),
                    **_choices(user))


def rule_form(user: User, rule_id=None) -> RuleForm:
    """The create form (rule_id None) or the edit form filled from the rule."""
    rule = _editable(user, rule_id)
    return _form(user, rule, form_state(rule))


def save_rule_form(user: User, posted: MultiDict, rule_id=None) -> SavedRule:
    """Create (rule_id None) or update a rule from the posted form; on bad input, the form again as
    typed with every error named (nothing written)."""
    rule = _editable(user, rule_id)
    try:
        return SavedRule(rule=svc.save_rule(user, validate_data(RuleIn, rule_data(posted), "Invalid rule"), rule_id))
    except ValidationFailed as exc:
        return SavedRule(form=_form(user, rule, form_state(form=posted), exc.details))


def toggle_rule(user: User, rule_id, form: dict) -> svc.RuleRow:
    """Switch a rule on or off from its toggle (`enabled`); its list row afterwards."""
    svc.get_rule(user, rule_id)
    rule = svc.set_enabled(user, rule_id, validate_data(Toggle, form, "Invalid form").enabled)
    return svc.rule_row(user, rule.id)


def action_form(user: User, kind: str) -> ActionForm:
    """The fields of a new action of this type (one of ACTION_TYPES), with its defaults."""
    return ActionForm(action={"type": kind, **ACTION_DEFAULTS[kind]}, key=secrets.token_hex(4), index=None,
                      errors={}, **_choices(user))
