"""The schemas of the workflow, SLA, task and ticket APIs: the seeds' spellings read as our fields,
states and priorities with their aliases, dates in range, and the document saying so."""
import pytest

from app.schemas.parsing import validate_data, validate_json
from app.schemas.sla import SlaConfigChanges
from app.schemas.tickets import TicketBatchIn, TicketIn
from app.schemas.workflow import TaskFilters, TaskIn, TransitionIn
from app.services.platform.errors import ValidationFailed


def test_aliases_fold_into_their_field_and_the_first_given_wins():
    seed = validate_json(TicketIn, b'{"ticket_number": "", "id": 42, "title": "Jam", "department": "IT", '
                                   b'"category": "Hw", "priority": "URGENT", "employee": {"name": "Ama"}}')
    assert (seed.external_id, seed.subject, seed.priority, seed.requester) == ("42", "Jam", "critical", "Ama")
    assert validate_json(TransitionIn, b'{"target_state": "pending"}').to_state == "new"
    assert validate_data(TaskFilters, {"state": "on_hold", "mine": "1"}).status == "blocked"


def test_null_is_the_default_and_dates_are_iso_and_in_range():
    task = validate_json(TaskIn, b'{"title": "x", "description": null, "priority": null, "due_date": "2026-03-01"}')
    assert (task.description, task.priority, task.due_at.isoformat()) == ("", "medium", "2026-03-01T00:00:00+00:00")
    for raw in (b'"yesterday"', b'"3000-01-01"', b'1700000000', b'true'):
        with pytest.raises(ValidationFailed) as refused:
            validate_json(TaskIn, b'{"title": "x", "due_at": ' + raw + b"}")
        assert "due_at" in refused.value.details


def test_a_change_leaves_out_what_it_does_not_give_and_refuses_nulls_for_required_columns():
    assert validate_json(SlaConfigChanges, b'{"warning_percent": 90}').model_dump(exclude_unset=True) == {
        "warning_percent": 90}
    with pytest.raises(ValidationFailed) as refused:
        validate_json(SlaConfigChanges, b'{"name": null, "resolution_minutes": null, "enabled": "yes"}')
    assert set(refused.value.details) == {"name", "resolution_minutes", "enabled"}


def test_a_bulk_body_is_a_list_or_an_object():
    assert len(validate_json(TicketBatchIn, b'[{"a": 1}, {"b": 2}]').tickets) == 2
    assert validate_json(TicketBatchIn, b'{"tickets": [{"a": 1}], "project_id": 3}').project_id == 3


def test_the_document_lists_aliases_states_and_statuses(client):
    doc = client.get("/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    ticket = schemas["TicketIn"]
    assert ticket["additionalProperties"] is True and {"ticket_number", "subcategory", "employee"} <= set(ticket["properties"])
    transition = schemas["TransitionIn"]
    assert transition["additionalProperties"] is False
    assert transition["properties"]["target_state"]["description"] == "Alias of to_state."
    assert set(transition["properties"]["to_state"]["enum"]) >= {"new", "blocked", "pending", "on_hold"}
    bulk = doc["paths"]["/api/tickets/bulk/"]["post"]
    assert {"200", "202", "400", "401", "403", "413"} <= set(bulk["responses"])
    action = doc["paths"]["/tasks/api/tasks/{task_id}/{action}/"]["post"]
    assert action["requestBody"]["required"] is False
    assert {p["name"]: p["schema"].get("enum") for p in action["parameters"]}["action"] == [
        "block", "cancel", "next_step", "resume", "start"]
    listing = doc["paths"]["/api/workflow/tasks"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("WorkflowTaskOut_")
    assert doc["paths"]["/api/workflow/tasks/transitions"]["post"]["responses"]["400"]["content"]
