"""/openapi.json is generated from the routes' declared schemas: valid OpenAPI 3.0, every JSON route
of the URL map in it with real request and response schemas."""
from app.blueprints.ogc.openapi import declared_routes

def test_the_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    validate(client.get("/openapi.json").get_json())


def test_every_json_route_is_declared(web_app):
    with web_app.test_request_context():
        undeclared = sorted({rule.endpoint for rule, _, spec in declared_routes() if spec is None})
    assert undeclared == [], "declare these JSON routes with app.blueprints.operations.operation(...)"


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
