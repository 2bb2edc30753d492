"""What a board card says about time: time left or overdue, coloured by the warning and breach
thresholds, a correct percentage, and the at-risk / breached filters agreeing with the cards."""
from datetime import timedelta

from app.models import SlaRecord, utcnow
from app.services.helpdesk.deadlines import span
from app.services.orchestration.business_calendar import END_OF_DAY
from app.services.helpdesk.intake import receive_ticket
from tests.ticket_fixtures import desk, payload  # noqa: F401

HX = {"HX-Request": "true"}


def _card(html, task_id):
    return html.split(f'data-task-id="{task_id}"')[1].split("</article>")[0]


def test_span_reads_like_a_person_would_say_it():
    assert [span(s) for s in (30, 25 * 60, 3 * 3600 + 1200, 2 * 86400 + 4 * 3600, -86400)] == [
        "1 min", "25 min", "3 h 20 min", "2 d 4 h", "1 d"]


def test_overdue_at_risk_and_fine_tasks_show_and_filter(client, login, db, desk):
    now = utcnow()
    overdue = receive_ticket(desk.project_id, payload("D-1", due_date=(now - timedelta(days=2)).isoformat())).task_id
    fine = receive_ticket(desk.project_id, payload("D-2", due_date=(now + timedelta(days=5)).isoformat())).task_id
    risky = receive_ticket(desk.project_id, payload("D-3", due_date=(now + timedelta(days=5)).isoformat())).task_id
    # D-3's SLA clock passed its warning time (as the clock's thresholds say), not its due time
    db.session.add(SlaRecord(task_id=risky, project_id=desk.project_id, service_area="it", task_type="general",
                             kind="resolution", status="running", target_minutes=100, started_at=now - timedelta(minutes=90),
                             due_at=now + timedelta(minutes=10), warn_at=now - timedelta(minutes=10),
                             # around the clock: with "23:59" the last minute of the day was off work, and the
                             # test failed when run in the 10 minutes before midnight UTC
                             calendar={"timezone": "UTC", "work_start": "00:00", "work_end": END_OF_DAY,
                                       "workdays": [0, 1, 2, 3, 4, 5, 6]}))
    db.session.commit()
    login(desk.agents[0])
    html = client.get("/tasks/").get_data(as_text=True)
    late = _card(html, overdue)
    assert 'data-deadline="breached"' in late and "2 d overdue" in late and "sla-breached" in late
    assert "SLA 0%" not in late  # the old green badge of an overdue task
    assert 'data-deadline="ok"' in _card(html, fine) and "5 d left" in _card(html, fine)
    warned = _card(html, risky)
    assert 'data-deadline="warning"' in warned and "10 min left" in warned and "SLA resolution: 90% of the time used" in warned
    assert "sla-warning" in warned

    breached = client.get("/tasks/?sla=breached", headers=HX).get_data(as_text=True)
    assert f'data-task-id="{overdue}"' in breached and f'data-task-id="{fine}"' not in breached
    assert f'data-task-id="{risky}"' not in breached
    at_risk = client.get("/tasks/?sla=at_risk", headers=HX).get_data(as_text=True)
    assert f'data-task-id="{risky}"' in at_risk and f'data-task-id="{overdue}"' not in at_risk
    assert f'data-task-id="{fine}"' not in at_risk
    assert client.get("/tasks/?sla=late").status_code == 400
