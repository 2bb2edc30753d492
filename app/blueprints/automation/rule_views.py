"""Rule pages: list with HTMX enable toggles, new/edit form (condition builder, actions editor),
detail with recent executions and "test against a past event"."""
from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.automation.blueprint import bp, partial
from app.blueprints.rendering import is_partial_request, page_or_partial
from app.models import Permission
from app.services.orchestration import automation_rules as svc
from app.services.orchestration import webhooks
from app.services.orchestration.conditions import OPS
from app.services.orchestration.event_catalogue import EVENT_TYPES, payload_fields
from app.services.platform.permissions import require_permission
from app.services.platform.errors import Forbidden, ValidationFailed

from .rule_form import ACTION_DEFAULTS, form_state, rule_data


def _choices() -> dict:
    """Everything the form's selects offer."""
    return {"event_types": EVENT_TYPES, "ops": OPS, "action_types": svc.ACTION_TYPES,
            "priorities": svc.PRIORITIES, "levels": svc.ALERT_LEVELS, "task_targets": svc.TASK_TARGETS,
            "plan_targets": svc.PLAN_TARGETS, "endpoints": webhooks.list_endpoints(current_user),
            "projects": current_user.projects, "allow_global": current_user.is_admin}


def _form(rule=None, state=None, errors=None, status=200):
    state = state or form_state(rule)
    response = render_template("automation/rule_form.html", rule=rule, form=state, errors=errors or {},
                               hints=payload_fields(state["event_type"]), **_choices())
    return response, status


@bp.get("/rules")
@login_required
def rules():
    return page_or_partial("automation/rules.html", "automation/_rules_table.html", rows=svc.list_rules(current_user),
                           can_create=current_user.has_permission(Permission.MANAGE_WORKFLOWS))


@bp.route("/rules/new", methods=["GET", "POST"])
@login_required
def rule_new():
    require_permission(current_user, Permission.MANAGE_WORKFLOWS)
    if request.method == "GET":
        return _form()
    try:
        rule = svc.save_rule(current_user, rule_data(request.form))
    except ValidationFailed as exc:
        return _form(state=form_state(form=request.form), errors=exc.details, status=400)
    flash(f"Rule “{rule.name}” saved.", "success")
    return redirect(url_for("automation.rule", rule_id=rule.id))


@bp.get("/rules/<int:rule_id>")
@login_required
def rule(rule_id: int):
    return _detail(svc.get_rule(current_user, rule_id))


def _detail(rule, result=None, status=200):
    return render_template("automation/rule_detail.html", rule=rule, row=svc.rule_row(current_user, rule.id),
                           executions=svc.recent_executions(rule),
                           events=svc.recent_events(current_user, rule.event_type, rule.project_id),
                           endpoints={e.id: e for e in webhooks.list_endpoints(current_user)}, result=result), status


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@login_required
def rule_edit(rule_id: int):
    rule = svc.get_rule(current_user, rule_id)
    if not svc.can_edit(current_user, rule):
        raise Forbidden("Changing rules needs MANAGE_WORKFLOWS, and only an admin can change a global rule.")
    if request.method == "GET":
        return _form(rule)
    try:
        svc.save_rule(current_user, rule_data(request.form), rule_id)
    except ValidationFailed as exc:
        return _form(rule, form_state(form=request.form), exc.details, 400)
    flash("Rule saved.", "success")
    return redirect(url_for("automation.rule", rule_id=rule_id))


@bp.post("/rules/<int:rule_id>/toggle")
@login_required
def rule_toggle(rule_id: int):
    rule = svc.set_enabled(current_user, rule_id, request.form.get("enabled") == "1")
    if is_partial_request():
        return partial("automation/_rule_row.html", row=svc.rule_row(current_user, rule.id))
    flash(f"Rule {'enabled' if rule.enabled else 'disabled'}.", "info")
    return redirect(request.referrer or url_for("automation.rules"))


@bp.post("/rules/<int:rule_id>/delete")
@login_required
def rule_delete(rule_id: int):
    svc.delete_rule(current_user, rule_id)
    flash("Rule deleted.", "success")
    return redirect(url_for("automation.rules"))


@bp.post("/rules/<int:rule_id>/test")
@login_required
def rule_test(rule_id: int):
    result = svc.test_rule(current_user, rule_id, request.form.get("event_id"))
    if is_partial_request():
        return partial("automation/_test_result.html", result=result)
    return _detail(svc.get_rule(current_user, rule_id), result)


# --- pieces of the form, fetched by HTMX --------------------------------------------------------

@bp.get("/rules/form/condition-row")
@login_required
def rule_condition_row():
    return render_template("automation/_condition_row.html", row={"field": "", "op": "eq", "value": ""}, ops=OPS)


@bp.get("/rules/form/field-hints")
@login_required
def rule_field_hints():
    return render_template("automation/_field_hints.html", hints=payload_fields(request.args.get("event_type", "")))


@bp.get("/rules/form/action")
@login_required
def rule_action_form():
    kind = request.args.get("new_action_type", "")
    if kind not in ACTION_DEFAULTS:
        raise ValidationFailed(f"Unknown action type {kind!r}", {"new_action_type": [f"must be one of {', '.join(ACTION_DEFAULTS)}"]})
    # A random key keeps the fields of actions added in any order apart.
    return render_template("automation/_action_form.html", action={"type": kind, **ACTION_DEFAULTS[kind]},
                           key=secrets.token_hex(4), index=None, errors={}, **_choices())
