"""Automation conditions: schema check and evaluation, with no eval anywhere."""
import pytest

from app.services.orchestration.conditions import evaluate, validate_condition

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
    ({"field": "x", "op": "matches", "value": 1}, "'op' must be one of"),
    ({"field": "x", "op": "in", "value": "a"}, "must be a list"),
    ({"op": "eq", "value": 1}, "'field' must be"),
    ({"all": []}, "non-empty list"),
    ({"field": "x", "op": "eq", "value": {"$gt": 1}}, "primitive"),
    ({"field": "__import__('os')", "op": "eq"}, "'value' is required"),
    ("payload.priority == 'high'", "must be an object"),
])
def test_validation_names_the_problem(condition, problem):
    problems = validate_condition(condition)
    assert problems and any(problem in p for p in problems)


def test_depth_is_capped():
    node = {"field": "x", "op": "exists"}
    for _ in range(12):
        node = {"not": node}
    assert any("deeper" in p for p in validate_condition(node))
