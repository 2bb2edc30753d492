"""A DHIS2 double on loopback that answers as DHIS2 (2.38+) does, and refuses what DHIS2 refuses.

Shapes follow DHIS2's Web API documentation (data values, metadata): `POST /api/dataValueSets`
with an ImportSummary wrapped in a WebMessage (200 on success, 409 "Conflict" with status WARNING
and per-value conflicts when some values are ignored, ERROR when none go in), `GET
/api/dataElements/{uid}` (404 WebMessage when unknown) and `GET /api/organisationUnits` with
`level`, `fields` and `paging=false`. Requests are validated: query parameters, the data value
fields and types, the value text (a number as DHIS2 parses it: no exponent), period identifiers.
"""
from __future__ import annotations

import base64
import re
import threading

import pytest
from flask import Flask, jsonify, request

PASSWORD = "s3cret-Pa55-never-shown"
STRATEGIES = {"CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"}
VALUE_FIELDS = {"dataElement", "period", "orgUnit", "value", "categoryOptionCombo", "attributeOptionCombo", "comment"}
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$")
PERIODS = {"Daily": re.compile(r"^\d{8}$"), "Monthly": re.compile(r"^\d{6}$"), "Yearly": re.compile(r"^\d{4}$")}
DEFAULT_COMBO = "HllvX50cXC0"  # DHIS2's default category option combo


def web_message(status_code: int, status: str, message: str, **extra):
    phrase = {200: "OK", 401: "Unauthorized", 404: "Not Found", 409: "Conflict"}[status_code]
    return jsonify({"httpStatus": phrase, "httpStatusCode": status_code, "status": status, "message": message,
                    **extra}), status_code


class Dhis2Double:
    def __init__(self):
        self.requests: list[dict] = []
        self.stored: dict[tuple, str] = {}  # (de, pe, ou, coc, aoc) → value, for real imports
        self.unavailable = 0  # answer the next N imports with 503, as DHIS2 behind a busy proxy does
        self.org_units: dict[str, dict] = {}  # uid → {id, name, level, parent: {id}, geometry}
        self.combos = {DEFAULT_COMBO}
        self.data_elements: dict[str, dict] = {}
        self.app = Flask("dhis2-double")
        self.app.add_url_rule("/api/dataValueSets", view_func=self.data_value_sets, methods=["POST"])
        self.app.add_url_rule("/api/dataElements/<uid>", view_func=self.data_element)
        self.app.add_url_rule("/api/organisationUnits", view_func=self.organisation_units)
        self.app.before_request(self._auth)

    def add_data_element(self, uid: str, value_type: str = "NUMBER", period_type: str | None = "Monthly",
                         domain_type: str = "AGGREGATE") -> None:
        sets = [{"dataSet": {"id": "DataSet0001", "name": "Climate", "periodType": period_type}}] if period_type else []
        self.data_elements[uid] = {"id": uid, "name": f"Element {uid}", "valueType": value_type,
                                   "domainType": domain_type, "dataSetElements": sets}

    def add_org_unit(self, uid: str, name: str, level: int, parent: str | None = None, geometry: dict | None = None):
        self.org_units[uid] = {"id": uid, "name": name, "level": level, **({"parent": {"id": parent}} if parent else {}),
                               **({"geometry": geometry} if geometry else {})}

    def _auth(self):
        if request.headers.get("Authorization", "") != "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode():
            return web_message(401, "ERROR", "Unauthorized")
        self.requests.append({"method": request.method, "path": request.path, "args": dict(request.args),
                              "dryRun": request.args.get("dryRun"), "importStrategy": request.args.get("importStrategy"),
                              "body": request.get_json(silent=True) if request.method == "POST" else None})
        return None

    def data_element(self, uid):
        element = self.data_elements.get(uid)
        if element is None:
            return web_message(404, "ERROR", f"DataElement with id {uid} could not be found.", errorCode="E1005")
        return jsonify(element)

    def organisation_units(self):
        assert request.args.get("paging") == "false", "the client pages: ask for paging=false"
        level = request.args.get("level")
        units = [u for u in self.org_units.values() if level is None or u["level"] == int(level)]
        return jsonify({"organisationUnits": units})

    def data_value_sets(self):
        if self.unavailable:
            self.unavailable -= 1
            self.requests.pop()
            return "Service Unavailable", 503
        dry_run, strategy = request.args.get("dryRun"), request.args.get("importStrategy")
        body = request.get_json(silent=True)
        if dry_run not in ("true", "false") or strategy not in STRATEGIES or not isinstance(body, dict) \
                or not isinstance(body.get("dataValues"), list):
            return web_message(409, "ERROR", "Bad request: dryRun, importStrategy, dataValues", response={
                "responseType": "ImportSummary", "status": "ERROR", "conflicts": [
                    {"object": "request", "value": f"dryRun={dry_run} importStrategy={strategy}"}],
                "importCount": {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}})
        conflicts, imported, updated, ignored = [], 0, 0, 0
        for index, v in enumerate(body["dataValues"]):
            problem = self._problem(v)
            if problem:
                conflicts.append({"object": str(v.get("orgUnit") if isinstance(v, dict) else v), "value": problem,
                                  "errorCode": "E7610", "indexes": [index]})
                ignored += 1
                continue
            key = (v["dataElement"], v["period"], v["orgUnit"], v.get("categoryOptionCombo", DEFAULT_COMBO),
                   v.get("attributeOptionCombo", DEFAULT_COMBO))
            if key in self.stored:
                updated += 1
            else:
                imported += 1
            if dry_run == "false":
                self.stored[key] = v["value"]
        counts = {"imported": imported, "updated": updated, "ignored": ignored, "deleted": 0}
        summary = {"responseType": "ImportSummary", "importOptions": {"dryRun": dry_run == "true"},
                   "description": "Import process completed successfully", "importCount": counts,
                   "conflicts": conflicts, "rejectedIndexes": [c["indexes"][0] for c in conflicts]}
        if conflicts:
            status = "ERROR" if not (imported or updated) else "WARNING"
            return web_message(409, status, "One more conflicts encountered, please check import summary.",
                               response={**summary, "status": status})
        return web_message(200, "OK", "Import was successful.", response={**summary, "status": "SUCCESS"})

    def _problem(self, v) -> str | None:
        if not isinstance(v, dict) or not {"dataElement", "period", "orgUnit", "value"} <= set(v) \
                or not set(v) <= VALUE_FIELDS or not all(isinstance(x, str) for x in v.values()):
            return "a data value needs dataElement, period, orgUnit and value, all strings"
        element = self.data_elements.get(v["dataElement"])
        if element is None:
            return f"Data element not found or not accessible: {v['dataElement']}"
        if v["orgUnit"] not in self.org_units:
            return f"Organisation unit not found or not accessible: {v['orgUnit']}"
        for field in ("categoryOptionCombo", "attributeOptionCombo"):
            if field in v and v[field] not in self.combos:
                return f"Category option combo not found or not accessible: {v[field]}"
        if not NUMBER.match(v["value"]):
            return f"Value must be a number: {v['value']}"
        if element["valueType"].startswith("INTEGER") and "." in v["value"]:
            return f"Value must be an integer: {v['value']}"
        period_types = {s["dataSet"]["periodType"] for s in element["dataSetElements"]}
        if period_types and not any(PERIODS[p].match(v["period"]) for p in period_types):
            return f"Period not valid for data element: {v['period']}"
        return None


@pytest.fixture
def dhis2_double():
    from werkzeug.serving import make_server

    double = Dhis2Double()
    server = make_server("127.0.0.1", 0, double.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    double.url = f"http://127.0.0.1:{server.server_port}"
    yield double
    server.shutdown()
    thread.join(5)
