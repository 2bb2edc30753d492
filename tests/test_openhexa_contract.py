"""Contract: every GraphQL document we send to OpenHEXA is valid against the schema excerpt."""
import pytest
from graphql import parse, validate

from app.services.planning.openhexa_client import DOCUMENTS
from tests.openhexa_schema import openhexa_schema


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_matches_the_schema(name):
    assert validate(openhexa_schema(), parse(DOCUMENTS[name])) == []


def test_the_check_catches_a_wrong_document():
    wrong = "query { pipelineRun(id: \"x\") { id status progressPercent } }"
    assert validate(openhexa_schema(), parse(wrong)) != []


def test_we_poll_the_launched_run_not_the_latest_one():
    # DESIGN: poll *that run* with pipelineRun(id:), never "the latest run of the pipeline".
    assert "pipelineRun(id: $id)" in DOCUMENTS["PIPELINE_RUN"]
    assert all("runs(" not in doc for doc in DOCUMENTS.values())
