"""Rule pages: list with HTMX enable toggles, new/edit form (condition builder, actions editor),
detail with recent executions and "test against a past event"."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.automation.blueprint import bp, partial
from app.blueprints.inputs import form_data, page_query
from app.blueprints.rendering import is_partial_request, page_or_partial
from app.schemas.automation import NewAction, Toggle
from app.services.orchestration import automation_rules as svc
from app.services.orchestration import rule_pages as pages
from app.services.orchestration.conditions import OPS
from app.services.platform.events import condition_fields


def _form(form: pages.RuleForm, status: int = 200):
    return render_template("automation/rule_form.html", **vars(form)), status


def _detail(page: pages.RulePage):
    return render_template("automation/rule_detail.html", **vars(page))


@bp.get("/rules")
@login_required
def rules():
    return page_or_partial("automation/rules.html", "automation/_rules_table.html",
                           **vars(pages.rules_page(current_user)))


@bp.route("/rules/new", methods=["GET", "POST"])
@login_required
def rule_new():
    if request.method == "GET":
        return _form(pages.rule_form(current_user))
    saved = pages.save_rule_form(current_user, request.form)
    if saved.form is not None:
        return _form(saved.form, 400)
    flash(f"Rule “{saved.rule.name}” saved.", "success")
    return redirect(url_for("automation.rule", rule_id=saved.rule.id))


@bp.get("/rules/<int:rule_id>")
@login_required
def rule(rule_id: int):
    return _detail(pages.rule_page(current_user, rule_id))


@bp.route("/rules/<int:rule_id>/edit", methods=["GET", "POST"])
@login_required
def rule_edit(rule_id: int):
    if request.method == "GET":
        return _form(pages.rule_form(current_user, rule_id))
    saved = pages.save_rule_form(current_user, request.form, rule_id)
    if saved.form is not None:
        return _form(saved.form, 400)
    flash("Rule saved.", "success")
    return redirect(url_for("automation.rule", rule_id=rule_id))


@bp.post("/rules/<int:rule_id>/toggle")
@login_required
def rule_toggle(rule_id: int):
    row = pages.toggle_rule(current_user, rule_id, form_data(Toggle))
    if is_partial_request():
        return partial("automation/_rule_row.html", row=row)
    flash(f"Rule {'enabled' if row.rule.enabled else 'disabled'}.", "info")
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
    if is_partial_request():
        return partial("automation/_test_result.html",
                       result=svc.test_rule(current_user, rule_id, request.form.get("event_id")))
    return _detail(pages.tested_rule_page(current_user, rule_id, request.form.get("event_id")))


# --- pieces of the form, fetched by HTMX --------------------------------------------------------

@bp.get("/rules/form/condition-row")
@login_required
def rule_condition_row():
    return render_template("automation/_condition_row.html", row={"field": "", "op": "eq", "value": ""}, ops=OPS)


@bp.get("/rules/form/field-hints")
@login_required
def rule_field_hints():
    return render_template("automation/_field_hints.html", hints=condition_fields(request.args.get("event_type", "")))


@bp.get("/rules/form/action")
@login_required
def rule_action_form():
    return render_template("automation/_action_form.html",
                           **vars(pages.action_form(current_user, page_query(NewAction).new_action_type)))
