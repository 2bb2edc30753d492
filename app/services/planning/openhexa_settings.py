"""What Admin › OpenHEXA shows (the platform operator only): the connection form filled from the stored
configuration (the token is write-only: only whether one is stored), and on request the workspace's
pipelines as a connection test; and saving the form."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.models import OpenHexaConfig, User
from app.schemas.openhexa import OpenHexaSettingsIn
from app.schemas.parsing import validate_data
from app.services.planning.openhexa import get_config, list_pipelines, save_config
from app.services.planning.openhexa_client import OpenHexaError
from app.services.platform.errors import Forbidden, ValidationFailed


@dataclass
class OpenHexaSettings:
    form: dict
    has_token: bool
    checked: bool  # the pipelines were asked for (the connection test)
    pipelines: list[dict] = field(default_factory=list)
    pipelines_error: str | None = None
    errors: dict = field(default_factory=dict)


def _stored_form(config: OpenHexaConfig | None) -> dict:
    if config is None:
        return {}
    return {"openhexa_url": config.openhexa_url, "workspace_slug": config.workspace_slug,
            "lqas_pipeline_code": config.lqas_pipeline_code or "", "poll_delay_seconds": config.poll_delay_seconds,
            "timeout_minutes": config.timeout_minutes}


def openhexa_settings(user: User, check: bool, form: dict | None = None,
                      errors: dict | None = None) -> OpenHexaSettings:
    """The settings page: `form` as posted (else the stored values) with its `errors`; with `check`,
    OpenHEXA's pipeline list, or why it could not be read."""
    if not user.is_platform_operator:
        raise Forbidden("Only the platform operator can configure OpenHEXA.")
    config = get_config()
    page = OpenHexaSettings(form if form is not None else _stored_form(config),
                            bool(config and config.token_encrypted), check, errors=errors or {})
    if config is not None and check:
        try:
            page.pipelines = list_pipelines(user)
        except OpenHexaError as exc:
            page.pipelines_error = str(exc)
    return page


@dataclass
class SavedOpenHexaSettings:
    """A settings submission: the saved configuration, or the page again with the errors (`page`)."""

    config: OpenHexaConfig | None = None
    page: OpenHexaSettings | None = None


def save_openhexa_settings(user: User, form: dict, check: bool) -> SavedOpenHexaSettings:
    """Save the connection settings from the form (as posted; a blank token keeps the stored one); on
    bad input, the page again with every error named."""
    if not user.is_platform_operator:
        raise Forbidden("Only the platform operator can configure OpenHEXA.")
    try:
        data = validate_data(OpenHexaSettingsIn, form, "Cannot save the OpenHEXA configuration")
        return SavedOpenHexaSettings(config=save_config(user, data))
    except ValidationFailed as exc:
        return SavedOpenHexaSettings(page=openhexa_settings(user, check, form, exc.details))
