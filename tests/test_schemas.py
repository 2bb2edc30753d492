"""The input schema layer: strict JSON (no coercion), bounded ids and pages, text PostgreSQL can store,
unknown fields refused, every bad field named."""
import pytest

from app.schemas.parsing import Input, validate_data, validate_json
from app.schemas.types import Id, Name, Page, Search
from app.services.platform.errors import ValidationFailed


class Example(Input):
    planning: Id
    name: Name
    page: Page = 1
    q: Search = None


@pytest.mark.parametrize("raw,field,message", [
    (b'{"planning": true, "name": "x"}', "planning", "valid integer"),   # never planning 1
    (b'{"planning": 2.7, "name": "x"}', "planning", "valid integer"),    # never planning 2
    (b'{"planning": "2", "name": "x"}', "planning", "valid integer"),    # JSON numbers are numbers
    (b'{"planning": 99999999999999999999, "name": "x"}', "planning", "less than or equal to 2147483647"),
    (b'{"planning": 0, "name": "x"}', "planning", "greater than or equal to 1"),
    (b'{"planning": 3, "name": "a\\u0000b"}', "name", "NUL"),
    (b'{"planning": 3, "name": "\\ud800"}', "body", "not valid JSON"),
    (b'{"planning": 3, "name": "   "}', "name", "is required"),
    (b'{"planning": 3, "name": "x", "extra": 1}', "extra", "is not a field of this request"),
    (b'{"name": "x"}', "planning", "is required"),
    (b"[" * 1000, "body", "recursion limit"),
    (b"\xff\xfe", "body", "not valid JSON"),
])
def test_json_is_validated_strictly_and_names_the_field(raw, field, message):
    with pytest.raises(ValidationFailed) as refused:
        validate_json(Example, raw)
    assert field in refused.value.details and message in refused.value.details[field][0]


def test_valid_json_and_text_inputs():
    assert validate_json(Example, b'{"planning": 3, "name": "  Round 1 "}') == Example(planning=3, name="Round 1")
    # forms and query strings are text: converted, within the same bounds; a blank search is none
    assert validate_data(Example, {"planning": "3", "name": "x", "page": "2", "q": ""}) == \
        Example(planning=3, name="x", page=2, q=None)
    with pytest.raises(ValidationFailed) as refused:
        validate_data(Example, {"planning": "2.7", "name": "x", "page": "9223372036854775807"})
    assert set(refused.value.details) == {"planning", "page"}
