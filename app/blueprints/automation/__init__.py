"""Automation pages: rules (with a condition builder and "test against a past event"), alerts,
webhook endpoints and their delivery log. `bp` lives in `blueprint.py`; importing the view modules
here adds their routes to it."""
from app.blueprints.automation.blueprint import bp
from app.blueprints.automation import alert_views, rule_views, webhook_views  # noqa: F401

__all__ = ["bp"]
