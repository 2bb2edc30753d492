"""What the webhook pages show and do for one user: endpoints with the delivery log, an endpoint's
form, creating (the signing secret is shown once) and saving it, and a delivery with its attempts.
Changing endpoints needs MANAGE_WORKFLOWS (and an admin for a global one): a form is refused
(Forbidden) to whoever may not submit it."""
from __future__ import annotations

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination

from app.models import Permission, Project, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.schemas.automation import DeliveryFilters, EndpointIn, Toggle
from app.schemas.parsing import validate_data
from app.services.orchestration import webhooks as svc
from app.services.platform.events import EVENT_TYPES, EventType, FieldDoc, catalogue, example_payload
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
class EventDoc:
    event: EventType
    fields: tuple[FieldDoc, ...]
    example: dict  # a delivery body of this type


@dataclass
class EventsPage:
    """The events one can subscribe to, with their payload fields: the receivers' documentation."""

    events: list[EventDoc]


def events_page(user: User) -> EventsPage:
    """Every event type of the catalogue with its payload fields and an example delivery body (any
    signed-in user: it describes types, not data)."""
    return EventsPage([EventDoc(event, fields, {"type": event.name, "timestamp": "2025-03-04T09:30:00.123456+00:00",
                                                "data": example_payload(event.name)})
                       for event, fields in catalogue()])


@dataclass
class DeliveryPage:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def webhooks_page(user: User, filters: DeliveryFilters) -> WebhooksPage:
    """The endpoints the user sees (which ones they may edit), and one page (25) of deliveries to them,
    newest first, of one status and one endpoint when the filters say so."""
    listing = page_of(svc.deliveries_query(user, filters.status, filters.endpoint), filters.page, PER_PAGE)
    endpoints = svc.list_endpoints(user)
    return WebhooksPage(listing, filters.status, filters.endpoint, svc.STATUSES, endpoints,
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
    return EndpointForm(endpoint, {**NEW_ENDPOINT, **form}, errors or {}, EVENT_TYPES, user.projects,
                        user.is_platform_operator)


def endpoint_form(user: User, endpoint_id: int | None = None) -> EndpointForm:
    """The create form (endpoint_id None) or the edit form filled from the endpoint (never its secret)."""
    endpoint = _editable(user, endpoint_id)
    if endpoint is None:
        return _form(user, None, {})
    return _form(user, endpoint, {"name": endpoint.name, "url": endpoint.url, "event_types": endpoint.event_types or [],
                                  "project_id": endpoint.project_id or "", "enabled": endpoint.enabled})


def create_endpoint_form(user: User, form: dict) -> CreatedEndpoint:
    """Create an endpoint from the form (as posted: its blank "All projects" choice is every project):
    it and its signing secret, or the form again as typed with every error named (nothing written)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    try:
        endpoint, secret = svc.create_endpoint(user, _endpoint_in(form))
    except ValidationFailed as exc:
        return CreatedEndpoint(form=_form(user, None, form, exc.details))
    return CreatedEndpoint(endpoint, secret)


def save_endpoint_form(user: User, form: dict, endpoint_id: int) -> EndpointForm | None:
    """Update an endpoint from the form (its secret stays): None when saved, else the form again as
    typed with every error named (nothing written)."""
    endpoint = _editable(user, endpoint_id)
    try:
        svc.update_endpoint(user, endpoint_id, _endpoint_in(form))
    except ValidationFailed as exc:
        return _form(user, endpoint, form, exc.details)
    return None


def _endpoint_in(form: dict) -> EndpointIn:
    scope = {"project_id": form["project_id"] or "*"} if "project_id" in form else {}
    return validate_data(EndpointIn, {**form, **scope}, "Invalid webhook endpoint")


def toggle_endpoint(user: User, endpoint_id: int, form: dict) -> WebhookEndpoint:
    """Switch an endpoint on or off from its button (`enabled`)."""
    _editable(user, endpoint_id)
    return svc.set_endpoint_enabled(user, endpoint_id, validate_data(Toggle, form, "Invalid form").enabled)


def delivery_page(user: User, delivery_id: str) -> DeliveryPage:
    """A delivery to an endpoint the user sees, with its attempts in order."""
    delivery = svc.get_delivery(user, delivery_id)
    return DeliveryPage(delivery, svc.delivery_attempts(delivery))
