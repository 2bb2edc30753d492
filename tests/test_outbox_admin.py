"""The outbox admin page: counts, dead events and filters, event detail with its causation links,
replaying one event (HTMX) or every dead one (form), audited; admins only; and in a real browser."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.models import AuditLog, OutboxEvent, utcnow
from app.services.orchestration import outbox_admin
from app.services.platform.errors import Conflict, Forbidden
from app.services.platform.events import example_payload
from app.services.platform.outbox import event_values
from tests.conftest import PASSWORD

HX = {"HX-Request": "true"}


def _events(db, *specs) -> list[str]:
    """Insert events from (event_type, status, extra columns) specs; returns their ids in order."""
    rows = []
    for n, (event_type, status, extra) in enumerate(specs):
        row = event_values(event_type, "task", n + 1, example_payload(event_type, task_id=n + 1),
                           correlation_id=f"task:{n + 1}")
        row.update(status=status, created_at=utcnow() - timedelta(minutes=len(specs) - n), **extra)
        if status == "dead":
            row.update(attempts=5, last_error=f"RuntimeError: alert service down #{n}", next_attempt_at=None)
        rows.append(row)
    db.session.execute(OutboxEvent.__table__.insert(), rows)
    db.session.commit()
    return [row["id"] for row in rows]


@pytest.fixture
def admin(make_user):
    return make_user(role="admin", username="root", platform_operator=True)


@pytest.fixture
def admin_client(client, login, admin):
    login(admin)
    return client


def _status(db, event_id: str) -> OutboxEvent:
    db.session.expire_all()
    return db.session.get(OutboxEvent, event_id)


def test_page_lists_dead_events_with_counts_and_filters(admin_client, db):
    dead_a, dead_b, done, pending = _events(db, ("TaskStatusChanged", "dead", {}), ("SlaBreached", "dead", {}),
                                            ("TaskCreated", "done", {}), ("TaskCreated", "pending", {}))
    html = admin_client.get("/admin/outbox").get_data(as_text=True)
    assert f'data-event-id="{dead_a}"' in html and f'data-event-id="{dead_b}"' in html
    assert done not in html and pending not in html  # dead events by default
    assert "alert service down #0" in html and "Replay all dead (2)" in html
    for status, n in {"pending": 1, "processing": 0, "done": 1, "dead": 2}.items():
        assert f'data-status="{status}" href="/admin/outbox?status={status}">\n      <span class="stat-value">{n}<' in html

    only_sla = admin_client.get("/admin/outbox?status=dead&event_type=SlaBreached").get_data(as_text=True)
    assert dead_b in only_sla and dead_a not in only_sla
    everything = admin_client.get("/admin/outbox?status=all").get_data(as_text=True)
    assert all(i in everything for i in (dead_a, dead_b, done, pending))
    by_correlation = admin_client.get("/admin/outbox?status=all&correlation_id=task:3").get_data(as_text=True)
    assert done in by_correlation and dead_a not in by_correlation


def test_htmx_filter_gets_the_partial(admin_client, db):
    (dead,) = _events(db, ("TaskStatusChanged", "dead", {}))
    response = admin_client.get("/admin/outbox?status=dead", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<section id="outbox-events"') and "<html" not in html and dead in html


def test_event_detail_shows_payload_error_and_causation(admin_client, db):
    cause, effect = _events(db, ("TaskStatusChanged", "done", {}), ("TaskCreated", "dead", {"depth": 1}))
    db.session.execute(OutboxEvent.__table__.update().where(OutboxEvent.id == effect).values(
        causation_id=cause, rule_chain=[3, 8]))
    db.session.commit()
    html = admin_client.get(f"/admin/outbox/events/{effect}").get_data(as_text=True)
    assert f'<a href="/admin/outbox/events/{cause}">TaskStatusChanged {cause}</a>' in html
    assert '"task_id": 2' in html and '"kind": "ticket_task"' in html  # pretty-printed payload
    assert "alert service down #1" in html and "3 → 8" in html
    assert 'href="/admin/outbox?status=all&amp;correlation_id=task:2"' in html
    cause_html = admin_client.get(f"/admin/outbox/events/{cause}").get_data(as_text=True)
    assert f'href="/admin/outbox/events/{effect}">TaskCreated</a>' in cause_html  # the events it caused
    assert admin_client.get("/admin/outbox/events/nope").status_code == 404


def test_replay_one_over_htmx_makes_it_pending_and_is_audited(admin_client, db, csrf, admin):
    dead, other = _events(db, ("TaskStatusChanged", "dead", {}), ("TaskStatusChanged", "dead", {}))
    before = utcnow()
    response = admin_client.post(f"/admin/outbox/events/{dead}/replay", headers={**HX, "X-CSRFToken": csrf()})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "outbox-changed" and response.headers["HX-Retarget"] == "#toasts"
    assert "pending again" in response.get_data(as_text=True)
    event = _status(db, dead)
    assert (event.status, event.attempts, event.last_error) == ("pending", 0, None)
    assert event.next_attempt_at >= before - timedelta(seconds=1)
    assert _status(db, other).status == "dead"
    audit = db.session.execute(select(AuditLog).where(AuditLog.object_id == dead)).scalar_one()
    assert (audit.action, audit.actor_id, audit.object_type) == ("outbox.replay", admin.id, "outbox_event")
    assert audit.changes == {"status": ["dead", "pending"], "attempts": 5,
                             "last_error": "RuntimeError: alert service down #0"}


def test_replay_all_dead_with_the_form(admin_client, db, csrf):
    ids = _events(db, ("TaskCreated", "dead", {}), ("TaskAssigned", "dead", {}), ("TaskStepChanged", "done", {}), ("TaskStatusChanged", "pending", {}))
    response = admin_client.post("/admin/outbox/replay-dead", data={"csrf_token": csrf()}, follow_redirects=True)
    assert response.status_code == 200 and "2 dead events pending again." in response.get_data(as_text=True)
    assert [_status(db, i).status for i in ids] == ["pending", "pending", "done", "pending"]
    audited = db.session.execute(select(AuditLog.object_id).where(AuditLog.action == "outbox.replay")).scalars()
    assert sorted(audited) == sorted(ids[:2])


def test_which_events_may_be_replayed(db, admin, make_user):
    dead, done_a, done_b, pending = _events(db, ("TaskCreated", "dead", {}), ("TaskAssigned", "done", {}), ("TaskStepChanged", "done", {}),
                                            ("TaskStatusChanged", "pending", {}))
    assert outbox_admin.replay_events(admin, [done_a, done_b]) == 0  # a batch replays dead events only
    assert outbox_admin.replay_events(admin, [done_a]) == 1  # one chosen done event runs again
    with pytest.raises(Conflict, match="pending"):
        outbox_admin.replay_events(admin, [pending])
    with pytest.raises(Forbidden):
        outbox_admin.replay_events(make_user(role="coordinator"), None)
    assert _status(db, dead).status == "dead"
    assert outbox_admin.replay_events(admin, None) == 1
    assert outbox_admin.replay_events(admin, None) == 0


def test_replaying_a_pending_event_over_htmx_is_a_toast(admin_client, db, csrf):
    (pending,) = _events(db, ("TaskCreated", "pending", {}))
    response = admin_client.post(f"/admin/outbox/events/{pending}/replay", headers={**HX, "X-CSRFToken": csrf()})
    assert response.status_code == 409 and "only dead or done events" in response.get_data(as_text=True)
    assert response.headers["HX-Retarget"] == "#toasts"


def test_admins_only_and_csrf_checked(client, web_app, login, make_user, db, csrf, admin):
    (dead,) = _events(db, ("TaskStatusChanged", "dead", {}))
    assert client.get("/admin/outbox").status_code == 302  # anonymous: to the login page
    login(make_user(role="coordinator"))
    assert client.get("/admin/outbox").status_code == 403
    assert client.get(f"/admin/outbox/events/{dead}").status_code == 403
    token = csrf()
    assert client.post(f"/admin/outbox/events/{dead}/replay", headers={"X-CSRFToken": token}).status_code == 403
    assert client.post("/admin/outbox/replay-dead", data={"csrf_token": token}).status_code == 403
    admin_client = web_app.test_client()
    login(admin, test_client=admin_client)
    assert admin_client.post(f"/admin/outbox/events/{dead}/replay").status_code == 400  # no CSRF token
    assert _status(db, dead).status == "dead"


def test_outbox_counts_and_healthz_detail(client, db):
    _events(db, ("TaskCreated", "pending", {}), ("TaskAssigned", "dead", {}), ("TaskStepChanged", "done", {}))
    counts = outbox_admin.outbox_counts()
    assert counts["by_status"] == {"pending": 1, "processing": 0, "done": 1, "dead": 1}
    assert 150 <= counts["oldest_pending_age_seconds"] < 400  # created three minutes ago
    detail = client.get("/healthz?detail=1").get_json()
    assert detail["outbox"]["pending"] == 1 and detail["outbox"]["dead"] == 1
    assert "outbox" not in client.get("/healthz").get_json()


@pytest.mark.browser
def test_browser_replay_button(page, live_server, db, admin):  # noqa: F811
    dead, other = _events(db, ("TaskStatusChanged", "dead", {}), ("SlaBreached", "dead", {}))
    page.goto(live_server.url + "/admin/outbox")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/outbox")
    assert page.locator("[data-status=dead] .stat-value").inner_text() == "2"

    page.locator(f"tr[data-event-id='{dead}'] [data-action=replay]").click()
    page.wait_for_selector("#toasts >> text=pending again")
    page.locator(f"tr[data-event-id='{dead}']").wait_for(state="detached")  # the list reloaded
    assert page.locator("[data-status=dead] .stat-value").inner_text() == "1"
    assert page.locator("[data-status=pending] .stat-value").inner_text() == "1"
    assert _status(db, dead).status == "pending"

    page.select_option("select[name=status]", "pending")
    page.locator(f"tr[data-event-id='{dead}']").wait_for()
    assert "status=pending" in page.url

    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm
    page.select_option("select[name=status]", "dead")
    page.locator(f"tr[data-event-id='{other}']").wait_for()  # the dead list is in
    page.click("#replay-all")
    page.wait_for_selector("#toasts >> text=1 dead event pending again.")
    page.wait_for_selector("text=No dead events.")
    assert _status(db, other).status == "pending"
