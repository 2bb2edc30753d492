"""What the webhook pages show and do for one user: endpoints with the delivery log, an endpoint's
form, creating (the signing secret is shown once) and saving it, and a delivery with its attempts.
Changing endpoints needs MANAGE_WORKFLOWS (and an admin for a global one): a form is refused
(Forbidden) to whoever may not submit it."""
from __future__ import annotations

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination

from app.extensions import db
from app.models import Permission, Project, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.services.orchestration import webhooks as svc
from app.services.orchestration.event_catalogue import EVENT_TYPES
from app.services.platform.errors import Forbidden, ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.platform.paging import page_of

PER_PAGE = 25
NEW_ENDPOINT = {"name": "", "url": "", "event_types": [], "project_id": "", "enabled": True}


@dataclass
class WebhooksPage:
    page: Pagination
    status: str | None
    endpoint_id: int | None
    statuses: tuple[str, ...]
    endpoints: list[WebhookEndpoint]
    editable: set[int]
    can_create: bool


@dataclass
class EndpointForm:
    endpoint: WebhookEndpoint | None
    form: dict
    errors: dict
    event_types: tuple[str, ...]
    projects: list[Project]
    allow_global: bool


@dataclass
class CreatedEndpoint:
    """A creation form submission: the endpoint and its secret, or the form again with its errors."""

    endpoint: WebhookEndpoint | None = None
    secret: str | None = None
    form: EndpointForm | None = None


@dataclass
class DeliveryPage:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def webhooks_page(user: User, status: str | None, endpoint_id: int | None, page: int) -> WebhooksPage:
    """The endpoints the user sees (which ones they may edit), and one page (25) of deliveries to them,
    newest first, of one status (an unknown one shows all) and one endpoint."""
    status = status if status in svc.STATUSES else None
    listing = page_of(svc.deliveries_query(user, status, endpoint_id), page, PER_PAGE)
    endpoints = svc.list_endpoints(user)
    return WebhooksPage(listing, status, endpoint_id, svc.STATUSES, endpoints,
                        {e.id for e in endpoints if svc.can_edit_endpoint(user, e)},
                        user.has_permission(Permission.MANAGE_WORKFLOWS))


def _editable(user: User, endpoint_id: int | None) -> WebhookEndpoint | None:
    """The endpoint to edit (None for a new one), if the user may change it."""
    if endpoint_id is None:
        require_permission(user, Permission.MANAGE_WORKFLOWS)
        return None
    endpoint = svc.get_endpoint(user, endpoint_id)
    if not svc.can_edit_endpoint(user, endpoint):
        raise Forbidden("Changing webhooks needs MANAGE_WORKFLOWS, and only an admin can change a global one.")
    return endpoint


def _form(user: User, endpoint: WebhookEndpoint | None, form: dict, errors: dict | None = None) -> EndpointForm:
    return EndpointForm(endpoint, form, errors or {}, EVENT_TYPES, user.projects, user.is_platform_operator)


def endpoint_form(user: User, endpoint_id: int | None = None) -> EndpointForm:
    """The create form (endpoint_id None) or the edit form filled from the endpoint (never its secret)."""
    endpoint = _editable(user, endpoint_id)
    if endpoint is None:
        return _form(user, None, dict(NEW_ENDPOINT))
    return _form(user, endpoint, {"name": endpoint.name, "url": endpoint.url, "event_types": endpoint.event_types or [],
                                  "project_id": endpoint.project_id or "", "enabled": endpoint.enabled})


def create_endpoint_form(user: User, data: dict) -> CreatedEndpoint:
    """Create an endpoint from the form: it and its signing secret, or the form again as typed with
    every error named (nothing written)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    try:
        endpoint, secret = svc.create_endpoint(user, data)
    except ValidationFailed as exc:
        return CreatedEndpoint(form=_form(user, None, data, exc.details))
    return CreatedEndpoint(endpoint, secret)


def save_endpoint_form(user: User, data: dict, endpoint_id: int) -> EndpointForm | None:
    """Update an endpoint from the form (its secret stays): None when saved, else the form again as
    typed with every error named (nothing written)."""
    endpoint = _editable(user, endpoint_id)
    try:
        svc.update_endpoint(user, endpoint_id, data)
    except ValidationFailed as exc:
        return _form(user, endpoint, data, exc.details)
    return None


def delivery_page(user: User, delivery_id: str) -> DeliveryPage:
    """A delivery to an endpoint the user sees, with its attempts in order."""
    delivery = svc.get_delivery(user, delivery_id)
    return DeliveryPage(delivery, svc.delivery_attempts(delivery))
