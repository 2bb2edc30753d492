"""Automation pages: rules (with a condition builder and "test against a past event"), alerts,
webhook endpoints and their delivery log. The blueprint lives in `blueprint`; importing the view
modules here registers their routes on it."""
from app.blueprints.automation import alert_views, rule_views, webhook_views  # noqa: F401  (they register routes)
from app.blueprints.automation.blueprint import bp  # noqa: F401  (what the app factory registers)
