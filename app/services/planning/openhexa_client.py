"""A small client for OpenHEXA's GraphQL API (`POST {url}/graphql/`, `Authorization: Bearer`).

Every document we send is a constant here; contract tests validate each one against
shared/contracts/openhexa_pipelines_schema.graphql.
"""
from __future__ import annotations

import requests

PIPELINE_FIELDS = """
  id
  code
  name
  description
  currentVersion {
    id
    versionNumber
    versionName
    parameters { code name type multiple required default help choices }
  }
"""

LIST_PIPELINES = """
query FieldflowPipelines($workspaceSlug: String, $page: Int, $perPage: Int) {
  pipelines(workspaceSlug: $workspaceSlug, page: $page, perPage: $perPage) {
    pageNumber
    totalPages
    totalItems
    items {""" + PIPELINE_FIELDS + """}
  }
}
"""

GET_PIPELINE = """
query FieldflowPipeline($id: UUID!) {
  pipeline(id: $id) {""" + PIPELINE_FIELDS + """}
}
"""

RUN_PIPELINE = """
mutation FieldflowRunPipeline($input: RunPipelineInput!) {
  runPipeline(input: $input) {
    success
    errors
    run { id status }
  }
}
"""

PIPELINE_RUN = """
query FieldflowPipelineRun($id: UUID!) {
  pipelineRun(id: $id) {
    id
    status
    progress
    duration
    messages { message priority timestamp }
  }
}
"""

STOP_PIPELINE = """
mutation FieldflowStopPipeline($input: StopPipelineInput!) {
  stopPipeline(input: $input) {
    success
    errors
  }
}
"""

DOCUMENTS = {"LIST_PIPELINES": LIST_PIPELINES, "GET_PIPELINE": GET_PIPELINE, "RUN_PIPELINE": RUN_PIPELINE,
             "PIPELINE_RUN": PIPELINE_RUN, "STOP_PIPELINE": STOP_PIPELINE}


class OpenHexaError(Exception):
    """OpenHEXA answered with an error (GraphQL errors or `success: false`)."""

    def __init__(self, message: str, codes: list[str] | None = None):
        super().__init__(message)
        self.codes = codes or []


class OpenHexaUnreachable(OpenHexaError):
    """Network error, timeout or a 5xx: worth retrying."""


class OpenHexaClient:
    def __init__(self, graphql_url: str, token: str, timeout: float = 10.0):
        self.url = graphql_url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def execute(self, document: str, variables: dict | None = None) -> dict:
        try:
            response = self.session.post(self.url, json={"query": document, "variables": variables or {}},
                                         timeout=self.timeout)
        except requests.RequestException as exc:
            raise OpenHexaUnreachable(f"OpenHEXA unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise OpenHexaUnreachable(f"OpenHEXA answered HTTP {response.status_code}")
        if response.status_code in (401, 403):
            raise OpenHexaError(f"OpenHEXA refused the token (HTTP {response.status_code})", ["PERMISSION_DENIED"])
        try:
            body = response.json()
        except ValueError:
            raise OpenHexaError(f"OpenHEXA answered HTTP {response.status_code} without JSON") from None
        if body.get("errors"):
            messages = "; ".join(str(e.get("message", e)) for e in body["errors"])
            raise OpenHexaError(f"OpenHEXA GraphQL error: {messages}")
        return body.get("data") or {}

    # --- queries and mutations ------------------------------------------------------------------

    def pipelines(self, workspace_slug: str, page: int = 1, per_page: int = 50) -> list[dict]:
        data = self.execute(LIST_PIPELINES, {"workspaceSlug": workspace_slug, "page": page, "perPage": per_page})
        return (data.get("pipelines") or {}).get("items") or []

    def pipeline(self, pipeline_id: str) -> dict | None:
        return self.execute(GET_PIPELINE, {"id": pipeline_id}).get("pipeline")

    def run_pipeline(self, pipeline_id: str, version_id: str | None, config: dict) -> str:
        """Launch a run; returns its id. `success: false` raises with OpenHEXA's error codes."""
        run_input = {"id": pipeline_id, "config": config}
        if version_id:
            run_input["versionId"] = version_id
        result = self.execute(RUN_PIPELINE, {"input": run_input}).get("runPipeline") or {}
        if not result.get("success") or not (result.get("run") or {}).get("id"):
            codes = result.get("errors") or ["UNKNOWN_ERROR"]
            raise OpenHexaError(f"OpenHEXA refused to run the pipeline: {', '.join(codes)}", codes)
        return result["run"]["id"]

    def pipeline_run(self, run_id: str) -> dict:
        run = self.execute(PIPELINE_RUN, {"id": run_id}).get("pipelineRun")
        if run is None:
            raise OpenHexaError(f"OpenHEXA has no run {run_id}", ["PIPELINE_NOT_FOUND"])
        return run

    def stop_pipeline(self, run_id: str) -> bool:
        result = self.execute(STOP_PIPELINE, {"input": {"runId": run_id}}).get("stopPipeline") or {}
        return bool(result.get("success"))
