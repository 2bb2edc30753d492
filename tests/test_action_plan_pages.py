"""Action plan pages: list and filters (page and partial), create form, detail with history and tasks,
Activate / Archive through `transition()`, refusals, tenancy and CSRF."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.models import ActionPlan, OutboxEvent, Role, StateTransition
from app.services.orchestration import work_items
from app.services.orchestration.transitions import transition
from app.schemas.workflow import ActionPlanIn, TaskIn

HX = {"HX-Request": "true"}


@pytest.fixture
def people(db, make_user):
    db.session.add(Role(name="planner", description="drafts plans", permissions=["CREATE_ACTION_PLAN"]))
    db.session.commit()
    return {"coord": make_user("coordinator", username="coord"), "agent": make_user("agent", username="agent1"),
            "planner": make_user("planner", username="planner"),
            "multi": make_user("coordinator", projects=("Project A", "Project C"), username="multi"),
            "outsider": make_user("coordinator", projects=("Project B",), username="outsider")}


@pytest.fixture
def plans(people):
    coord, outsider = people["coord"], people["outsider"]
    wash = work_items.create_action_plan(coord, ActionPlanIn(title="Fix the wells", service_area="wash"))
    food = work_items.create_action_plan(coord, ActionPlanIn(title="Feed the children", service_area="nutrition"))
    transition(coord, "action_plan", food.id, "active")
    hidden = work_items.create_action_plan(outsider, ActionPlanIn(title="Secret plan", service_area="wash"))
    return {"wash": wash, "food": food, "hidden": hidden}


def _count(db, model, *where) -> int:
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _history(db, plan_id: int) -> list[StateTransition]:
    return list(db.session.execute(select(StateTransition).where(
        StateTransition.entity_type == "action_plan", StateTransition.entity_id == plan_id)
        .order_by(StateTransition.id)).scalars())


def _row(html: str, plan_id: int) -> str:
    return html.split(f'data-plan-id="{plan_id}"')[1].split("</tr>")[0]


def test_list_shows_my_projects_plans_and_filters_as_a_partial(client, login, people, plans, db):
    work_items.create_task(people["coord"], TaskIn(title="Chlorinate", action_plan_id=plans["wash"].id))
    login(people["coord"])
    page = client.get("/action-plans/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Action plans</h1>" in html and "New action plan" in html
    assert "Fix the wells" in html and "Feed the children" in html and "Secret plan" not in html
    wash = _row(html, plans["wash"].id)
    assert "Project A" in wash and ">wash<" in wash and 'data-status="draft"' in wash
    assert '<td class="num">1</td>' in wash and wash.count(" UTC") == 1  # created only
    assert 'data-status="active"' in _row(html, plans["food"].id) and _row(html, plans["food"].id).count(" UTC") == 2
    assert 'href="/action-plans/"' in html.split('aria-label="Main"')[1].split("</nav>")[0]  # the nav link

    partial = client.get("/action-plans/?status=active", headers=HX)
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "HX-Request" in partial.headers["Vary"]
    assert "<h1>" not in body and "plan-filters" not in body and body.lstrip().startswith('<div id="plan-list">')
    assert "Feed the children" in body and "Fix the wells" not in body
    by_area = client.get("/action-plans/?service_area=WASH", headers=HX).get_data(as_text=True)
    assert "Fix the wells" in by_area and "Feed the children" not in by_area and "Secret plan" not in by_area
    none = client.get("/action-plans/?status=archived", headers=HX).get_data(as_text=True)
    assert "No action plans match these filters." in none
    full = client.get("/action-plans/?status=active").get_data(as_text=True)  # the pushed URL, loaded directly
    assert '<option value="active" selected>' in full and "Fix the wells" not in full


def test_list_pages_like_the_sla_records(client, login, people, monkeypatch):
    from app.services.orchestration import action_plan_pages

    monkeypatch.setattr(action_plan_pages, "PER_PAGE", 2)
    for n in range(3):
        work_items.create_action_plan(people["coord"], ActionPlanIn(title=f"Plan {n}"))
    login(people["coord"])
    first = client.get("/action-plans/").get_data(as_text=True)
    assert "Page 1 of 2 · 3 in all" in first and "Plan 0" not in first  # newest first
    second = client.get("/action-plans/?page=2", headers=HX).get_data(as_text=True)
    assert "Plan 0" in second and "Plan 2" not in second


def test_create_names_the_missing_field_then_saves(client, login, csrf, people, db):
    login(people["coord"])
    form = client.get("/action-plans/new").get_data(as_text=True)
    assert 'id="action-plan-form"' in form and 'name="project_id"' not in form  # one project: no choice
    token = csrf()
    bad = client.post("/action-plans/new", data={"csrf_token": token, "title": " ", "service_area": "Bad Area!",
                                                  "description": "Keep me"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert re.search(r'id="title-error">is required<', html) and 'id="service_area-error"' in html
    assert "Keep me</textarea>" in html and 'value="Bad Area!"' in html
    assert _count(db, ActionPlan) == 0
    done = client.post("/action-plans/new", data={"csrf_token": token, "title": "Repair latrines",
                                                   "service_area": "wash", "description": "Before the rains"})
    plan = db.session.execute(select(ActionPlan)).scalar_one()
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/action-plans/{plan.id}")
    assert (plan.title, plan.service_area, plan.status, plan.project_id, plan.created_by_id) == (
        "Repair latrines", "wash", "draft", people["coord"].project_ids[0], people["coord"].id)
    detail = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Action plan “Repair latrines” created." in detail and "Before the rains" in detail
    assert "No state changes yet." in detail and "No tasks belong to this plan yet." in detail


def test_create_with_several_projects_asks_which(client, login, csrf, people, db):
    multi = people["multi"]
    login(multi)
    form = client.get("/action-plans/new").get_data(as_text=True)
    assert 'name="project_id"' in form and "Project C" in form
    bad = client.post("/action-plans/new", data={"csrf_token": csrf(), "title": "Somewhere"})
    assert bad.status_code == 400 and 'id="project_id-error"' in bad.get_data(as_text=True)
    assert _count(db, ActionPlan) == 0
    project_c = next(p.id for p in multi.projects if p.name == "Project C")
    ok = client.post("/action-plans/new",
                     data={"csrf_token": csrf(), "title": "Somewhere", "project_id": str(project_c)})
    assert ok.status_code == 302
    assert db.session.execute(select(ActionPlan.project_id)).scalar_one() == project_c


def test_activate_by_htmx_returns_the_state_panel_and_a_toast(client, login, csrf, people, plans, db):
    plan = plans["wash"]
    work_items.create_task(people["coord"], TaskIn(title="Chlorinate", action_plan_id=plan.id))
    login(people["coord"])
    detail = client.get(f"/action-plans/{plan.id}").get_data(as_text=True)
    assert 'value="active"' in detail and 'value="archived"' in detail and "Chlorinate" in detail
    response = client.post(f"/action-plans/{plan.id}/transition", data={"to_state": "active", "reason": "Rains came"},
                           headers={**HX, "X-CSRFToken": csrf()})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<h1>" not in body
    assert body.lstrip().startswith('<section class="card" id="plan-state">') and 'data-status="active"' in body
    assert 'value="active"' not in body and 'value="archived"' in body  # only Archive is left
    toast = body.split('hx-swap-oob="beforeend:#toasts"')[1]
    assert "toast-success" in toast and "Action plan “Fix the wells” is now active." in toast
    history = body.split('id="plan-history"')[1]
    assert re.search(r"<td>draft</td><td>active</td>\s*<td>coord</td><td>Rains came</td>", history)

    db.session.expire_all()
    assert db.session.get(ActionPlan, plan.id).status == "active" and db.session.get(ActionPlan, plan.id).activated_at
    [record] = _history(db, plan.id)
    assert (record.from_state, record.to_state, record.actor_id, record.reason) == (
        "draft", "active", people["coord"].id, "Rains came")
    event = db.session.get(OutboxEvent, record.event_id)
    assert event.event_type == "ActionPlanStatusChanged" and event.aggregate_id == str(plan.id)
    assert (event.payload["from"], event.payload["to"], event.payload["actor_id"]) == ("draft", "active",
                                                                                       people["coord"].id)


def test_archive_without_htmx_redirects_with_a_flash(client, login, csrf, people, plans, db):
    plan = plans["food"]
    login(people["coord"])
    response = client.post(f"/action-plans/{plan.id}/transition", data={"csrf_token": csrf(), "to_state": "archived"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/action-plans/{plan.id}")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Action plan “Feed the children” is now archived." in html
    assert 'id="plan-actions"' not in html  # archived is final: no buttons
    assert [(t.from_state, t.to_state) for t in _history(db, plan.id)] == [("draft", "active"), ("active", "archived")]
    db.session.expire_all()
    assert db.session.get(ActionPlan, plan.id).archived_at is not None


def test_invalid_transition_says_why_and_changes_nothing(client, login, csrf, people, plans, db):
    plan = plans["wash"]
    transition(people["coord"], "action_plan", plan.id, "archived")
    events = _count(db, OutboxEvent)
    login(people["coord"])
    response = client.post(f"/action-plans/{plan.id}/transition", data={"to_state": "active"},
                           headers={**HX, "X-CSRFToken": csrf()})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and response.headers["HX-Retarget"] == "#toasts"
    assert "toast-error" in body and "Transition from archived to active not allowed" in body
    page = client.post(f"/action-plans/{plan.id}/transition", data={"csrf_token": csrf(), "to_state": "active"})
    assert page.status_code == 400 and "Transition from archived to active not allowed" in page.get_data(as_text=True)
    unknown = client.post(f"/action-plans/{plan.id}/transition", data={"to_state": "done"},
                          headers={**HX, "X-CSRFToken": csrf()})
    assert unknown.status_code == 400 and "to_state" in unknown.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ActionPlan, plan.id).status == "archived"
    assert len(_history(db, plan.id)) == 1 and _count(db, OutboxEvent) == events


def test_without_activate_permission_no_button_and_refused(client, login, csrf, people, plans, db):
    plan = plans["wash"]
    login(people["planner"])  # may create plans, not activate them
    listing = client.get("/action-plans/").get_data(as_text=True)
    assert "New action plan" in listing and "Fix the wells" in listing
    detail = client.get(f"/action-plans/{plan.id}").get_data(as_text=True)
    assert 'data-status="draft"' in detail and 'id="plan-actions"' not in detail and ">Activate<" not in detail
    refused = client.post(f"/action-plans/{plan.id}/transition", data={"to_state": "active"},
                          headers={**HX, "X-CSRFToken": csrf()})
    assert refused.status_code == 403 and "ACTIVATE_ACTION_PLAN" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ActionPlan, plan.id).status == "draft" and _history(db, plan.id) == []


def test_agents_cannot_create(client, login, csrf, people, db):
    login(people["agent"])
    assert "New action plan" not in client.get("/action-plans/").get_data(as_text=True)
    assert client.get("/action-plans/new").status_code == 403
    assert client.post("/action-plans/new", data={"csrf_token": csrf(), "title": "Mine"}).status_code == 403
    assert _count(db, ActionPlan) == 0


def test_other_projects_plans_are_not_found(client, login, csrf, people, plans, db):
    login(people["coord"])
    hidden = plans["hidden"].id
    assert client.get(f"/action-plans/{hidden}").status_code == 404
    assert client.post(f"/action-plans/{hidden}/transition", data={"csrf_token": csrf(), "to_state": "active"}
                       ).status_code == 404
    db.session.expire_all()
    assert db.session.get(ActionPlan, hidden).status == "draft"


def test_pages_need_login(client, plans):
    for url in ("/action-plans/", "/action-plans/new", f"/action-plans/{plans['wash'].id}"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_posts_without_csrf_token_are_refused(client, login, people, plans, db, web_app):
    assert web_app.config.get("WTF_CSRF_ENABLED", True) is not False
    plan = plans["wash"]
    login(people["coord"])
    response = client.post(f"/action-plans/{plan.id}/transition", data={"to_state": "active"}, headers=HX)
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    page = client.post("/action-plans/new", data={"title": "Forged"})
    assert page.status_code == 400 and "CSRF" in page.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ActionPlan, plan.id).status == "draft" and _history(db, plan.id) == []
    assert _count(db, ActionPlan, ActionPlan.title == "Forged") == 0
