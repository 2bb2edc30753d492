"""Automation conditions: schema check and evaluation, with no eval anywhere."""
import pytest

from app.schemas.automation import RuleIn
from app.schemas.parsing import validate_data
from app.services.orchestration.conditions import evaluate
from app.services.platform.errors import ValidationFailed


def validate_condition(condition) -> list[str]:
    """The problems the rule schema finds in a condition's shape (none: []). Which fields a rule's
    event carries is checked too (tests/test_event_catalogue.py); these conditions test made-up events."""
    try:
        validate_data(RuleIn, {"name": "R", "event_type": "TaskCreated", "condition": condition})
    except ValidationFailed as exc:
        return [problem for problem in exc.details["condition"] if "events have no field" not in problem]
    return []

EVENT = {"type": "TaskCompleted", "payload": {"task_type": "intake", "priority": "high", "score": 7, "tags": ["a"]}}


@pytest.mark.parametrize("condition, expected", [
    ({"field": "payload.task_type", "op": "eq", "value": "intake"}, True),
    ({"field": "payload.score", "op": "gte", "value": 7}, True),
    ({"field": "payload.score", "op": "gt", "value": "7"}, False),  # no cross-type comparison
    ({"field": "payload.priority", "op": "in", "value": ["high", "urgent"]}, True),
    ({"field": "payload.missing", "op": "exists"}, False),
    ({"field": "payload.missing", "op": "ne", "value": 1}, True),
    ({"field": "payload.tags", "op": "contains", "value": "a"}, True),
    ({"all": [{"field": "type", "op": "eq", "value": "TaskCompleted"},
              {"not": {"field": "payload.priority", "op": "eq", "value": "low"}}]}, True),
    ({"any": [{"field": "type", "op": "eq", "value": "X"}, {"field": "payload.score", "op": "lt", "value": 3}]}, False),
    (None, True),
])
def test_evaluate(condition, expected):
    assert validate_condition(condition) == [] or condition is None
    assert evaluate(condition, EVENT) is expected


@pytest.mark.parametrize("condition, problem", [
    ({"field": "x", "op": "matches", "value": 1}, "condition.op: must be one of"),
    ({"field": "x", "op": "in", "value": "a"}, "'value' must be a list for 'in'"),
    ({"op": "eq", "value": 1}, "condition.field: is required"),
    ({"all": []}, "condition.all: is required"),
    ({"all": [{"field": "x", "op": "exists"}, {"any": [{"field": "x", "op": "eq"}]}]}, "condition.all.1.any.0: 'value' is required"),
    ({"field": "x", "op": "eq", "value": {"$gt": 1}}, "must be text (at most 500 characters), a number"),
    ({"field": "__import__('os')", "op": "eq", "value": 1}, "must be a dotted path"),
    ({"field": "x", "op": "eq", "value": "a\x00"}, "contains a NUL character"),
    ("payload.priority == 'high'", "is not valid JSON"),
    ('{"field": "x", "op": "eq", "value": NaN}', "NaN is not a JSON value"),
    ([1], "must be an object"),
])
def test_validation_names_the_problem(condition, problem):
    problems = validate_condition(condition)
    assert problems and any(problem in p for p in problems)


def test_depth_is_capped():
    node = {"field": "x", "op": "exists"}
    for _ in range(12):
        node = {"not": node}
    assert any("nested more than 8 levels deep" in p for p in validate_condition(node))
    assert any("more than 100 parts" in p for p in validate_condition({"all": [{"field": "x", "op": "exists"}] * 101}))
