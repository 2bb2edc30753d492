"""The OpenHEXA schema excerpt made buildable: stubs for what the excerpt references but omits."""
from functools import lru_cache
from pathlib import Path

from graphql import build_schema

CONTRACT = Path(__file__).resolve().parent.parent.parent / "shared" / "contracts" / "openhexa_pipelines_schema.graphql"

STUBS = """
scalar UUID
scalar JSON
scalar Generic
scalar DateTime
scalar URL
directive @loginRequired on FIELD_DEFINITION
type Query { _stub: Boolean }
type Mutation { _stub: Boolean }
type User { id: UUID! }
type Workspace { slug: String! }
type BucketObject { key: String! }
type DatabaseTable { name: String! }
type DatasetVersion { id: UUID! }
type FileNode { name: String! }
type PipelineTemplate { id: UUID! }
type PipelineTemplateVersion { id: UUID! }
type Tag { id: UUID! }
type PipelineRecipient { id: UUID! }
type PipelinePermissions { run: Boolean! }
type PipelineVersionPermissions { update: Boolean! }
enum ParameterWidget { DEFAULT }
type PipelineParameterChoicesFromFile { path: String }
input PipelineParameterChoicesFromFileInput { path: String }
enum PipelineType { zipFile notebook }
enum PipelineFunctionalType { extraction transformation loading computation }
enum PipelineOrderBy { NAME_ASC NAME_DESC }
type PipelineVersionPage { items: [PipelineVersion!]! pageNumber: Int! totalPages: Int! totalItems: Int! }
"""


def contract_path() -> Path:
    for candidate in (CONTRACT, Path("/work/shared/contracts/openhexa_pipelines_schema.graphql")):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("shared/contracts/openhexa_pipelines_schema.graphql not found beside the repository")


@lru_cache(maxsize=1)
def openhexa_schema():
    return build_schema(STUBS + contract_path().read_text())
