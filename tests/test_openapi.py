"""/openapi.json is generated from the routes' declared schemas: valid OpenAPI 3.0, every JSON route
of the URL map in it with real request and response schemas."""
from app.blueprints.ogc.openapi import declared_routes

# JSON routes still read by hand, by endpoint. Each family's conversion empties its part; the test
# below fails when an entry has been declared (so the list only shrinks).
PENDING = {
    'api.assignments', 'api.bulk_create_assignments', 'api.bulk_delete_assignments', 'api.create_planning',
    'api.create_team', 'api.delete_planning', 'api.delete_team', 'api.me', 'api.openhexa_callback',
    'api.openhexa_config', 'api.openhexa_launch', 'api.openhexa_pipeline', 'api.openhexa_pipelines', 'api.planning',
    'api.plannings', 'api.sample_planning', 'api.shorthand_bulk_create', 'api.shorthand_delete', 'api.team',
    'api.teams', 'api.token', 'api.update_planning', 'api.update_team',
}


def test_the_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    validate(client.get("/openapi.json").get_json())


def test_every_json_route_is_declared(web_app):
    with web_app.test_request_context():
        undeclared = {rule.endpoint for rule, _, spec in declared_routes() if spec is None}
    assert undeclared - PENDING == set(), "declare these JSON routes with app.blueprints.operations.operation(...)"
    assert PENDING - undeclared == set(), "these are declared now: remove them from PENDING"


def test_a_declared_operation_has_its_schemas(client):
    doc = client.get("/openapi.json").get_json()
    create = doc["paths"]["/api/orgunits/"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    schema = doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"name", "org_unit_type_id"} <= set(schema["required"]) and schema["additionalProperties"] is False
    assert schema["properties"]["org_unit_type_id"]["maximum"] == 2**31 - 1
    assert set(create["responses"]) >= {"201", "400", "401", "403", "413"}
    listing = doc["paths"]["/api/orgunits/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"page", "limit", "search", "parent_id", "under"} <= names
    detail = doc["paths"]["/api/orgunits/{org_unit_id}/"]["get"]
    assert detail["parameters"][0]["schema"]["maximum"] == 2**31 - 1 and "404" in detail["responses"]
