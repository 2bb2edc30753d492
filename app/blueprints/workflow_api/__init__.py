"""The orchestration API under /api/workflow/ (Bearer only). Errors: the workflow family's shape,
`{"success": false, "message", "error_code", "details"}`, built in `app/errors.py`."""
from flask import Blueprint

bp = Blueprint("workflow_api", __name__, url_prefix="/api/workflow")
