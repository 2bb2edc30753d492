"""Users as the command line creates them (`flask users create`)."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from app.schemas.parsing import Input
from app.schemas.types import Text, unstorable_text


def _storable(value: str) -> str:
    problem = unstorable_text(value)
    if problem:
        raise ValueError(f"must not contain {problem.removeprefix('contains ')}")
    return value


# A new password is taken as typed (spaces count), at least 8 characters.
NewPassword = Annotated[str, StringConstraints(min_length=8, max_length=1024), AfterValidator(_storable)]


class UserIn(Input):
    username: Text(80, min_length=1)
    password: NewPassword
    role: Text(64, min_length=1) = Field(description="admin, coordinator or agent")
    projects: list[Text(120, min_length=1)] = Field(default_factory=list, max_length=100,
                                                   description="Project names (created if missing)")
    email: Text(255) = ""
    full_name: Text(160) = ""
    platform_operator: bool = Field(False, description="The deployment's consoles and project-less settings")


def _known_zone(name: str) -> str:
    from zoneinfo import available_timezones

    if name and name not in available_timezones():
        raise ValueError(f"{name!r} is not a time zone (for example Africa/Nairobi)")
    return name


class ProfileIn(Input):
    """What a user changes about themselves: the time zone pages show times in (blank: the browser's)."""

    time_zone: Annotated[Text(64), AfterValidator(_known_zone)] = Field(
        "", description="An IANA time zone such as Africa/Nairobi; blank: the browser's")
