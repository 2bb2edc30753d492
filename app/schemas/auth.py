"""API tokens: what `POST /api/auth/token` accepts and answers, and `GET /api/me/`."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, StringConstraints

from app.schemas.parsing import Input
from app.schemas.types import Text, unstorable_text


def _printable(value: str) -> str:
    problem = unstorable_text(value)
    if problem:
        raise ValueError(f"must not contain {problem.removeprefix('contains ')}")
    return value


# A password is taken as typed: spaces count.
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=1024),
                     AfterValidator(_printable)]


class TokenIn(Input):
    username: Text(80, min_length=1)
    password: Password


class LoginIn(TokenIn):
    """The login form: the same credentials, and whether the session outlives the browser."""

    remember: bool = False


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


class ProjectBrief(BaseModel):
    id: int
    name: str


class MeOut(BaseModel):
    id: int
    username: str
    role: str
    permissions: list[str]
    projects: list[ProjectBrief]
