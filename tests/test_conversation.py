"""Comments on tickets and tasks (internal notes, replies to the requester), the block reason on the
card and the ticket page, and the ticket's history timeline."""
from sqlalchemy import select

from app.models import OutboxEvent
from app.services.helpdesk.intake import receive_ticket
from tests.conftest import csrf_token_from
from tests.ticket_fixtures import desk, payload, viewer_role  # noqa: F401

HX = {"HX-Request": "true"}


def test_comments_through_the_api(client, db, desk, api_token, make_user):
    outcome = receive_ticket(desk.project_id, payload("CV-1"))
    a1 = desk.agents[0]
    note = client.post(f"/api/tickets/{outcome.ticket_id}/comments/", json={"body": "Checked the cable"},
                       headers=api_token(a1))
    assert note.status_code == 201 and (note.json["visibility"], note.json["task_id"]) == ("internal", outcome.task_id)
    reply = client.post(f"/tasks/api/tasks/{outcome.task_id}/comments/",
                        json={"body": "A technician comes at 3 pm", "visibility": "reply"}, headers=api_token(a1))
    assert reply.status_code == 201 and reply.json["ticket_id"] == outcome.ticket_id
    listed = client.get(f"/api/tickets/{outcome.ticket_id}/comments/", headers=api_token(a1)).json
    assert [(c["author"], c["visibility"]) for c in listed] == [("a1", "internal"), ("a1", "reply")]
    assert client.get(f"/tasks/api/tasks/{outcome.task_id}/comments/", headers=api_token(a1)).json == listed
    event = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "CommentAdded")
                               .order_by(OutboxEvent.created_at.desc())).scalars().first()
    assert (event.payload["visibility"], event.payload["requester"], event.payload["external_id"]) == (
        "reply", "Ama Owusu", "CV-1")
    bad = client.post(f"/api/tickets/{outcome.ticket_id}/comments/", json={"body": "", "visibility": "public"},
                      headers=api_token(a1))
    assert bad.status_code == 400 and set(bad.json["details"]) == {"code", "body", "visibility"}
    viewer_role()
    viewer = make_user("viewer")
    assert client.post(f"/api/tickets/{outcome.ticket_id}/comments/", json={"body": "hi"},
                       headers=api_token(viewer)).status_code == 403


def test_block_reason_timeline_and_comment_form(client, login, csrf, db, desk):
    outcome = receive_ticket(desk.project_id, payload("CV-2"))
    login(desk.agents[0])
    headers = {**HX, "X-CSRFToken": csrf()}
    client.post(f"/tasks/{outcome.task_id}/actions/start", headers=headers)
    board = client.post(f"/tasks/{outcome.task_id}/actions/block", headers={**headers, "HX-Prompt": "Waiting for parts"})
    card = board.get_data(as_text=True).split(f'data-task-id="{outcome.task_id}"')[1].split("</article>")[0]
    assert "Blocked:</b> Waiting for parts" in card
    page = client.get(f"/tickets/{outcome.ticket_id}").get_data(as_text=True)
    assert 'class="alert alert-warning block-reason"><b>Blocked:</b> Waiting for parts' in page
    token = csrf_token_from(page)
    refused = client.post(f"/tickets/{outcome.ticket_id}/comments", data={"body": "", "csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)
    assert "Cannot add the comment" in refused
    page = client.post(f"/tickets/{outcome.ticket_id}/comments", data={
        "body": "Parts ordered", "visibility": "reply", "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    timeline = page.split('<ol class="timeline">')[1].split("</ol>")[0]
    kinds = [k.split('"')[0] for k in timeline.split('data-kind="')[1:]]
    assert kinds[0] == "received" and kinds[-1] == "reply" and "state" in kinds and "assigned" in kinds
    assert "in progress → blocked: Waiting for parts" in timeline and "Parts ordered" in timeline
