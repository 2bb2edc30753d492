"""What the team pages show: the team tree, one team with its sub-teams and members, the new-team
form; and saving those forms. Each function authorizes the acting user (permission and project)
and returns plain values for the template."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.extensions import db
from app.models import Permission, Project, Team, TeamType, User
from app.services.planning import teams as svc
from app.schemas.parsing import validate_data
from app.schemas.teams import TeamChanges, TeamIn
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.platform.users import project_users


def _can_manage(user: User) -> bool:
    return user.has_permission(Permission.MANAGE_TEAMS)


def _teams(user: User, **filters) -> list[Team]:
    return list(db.session.execute(svc.teams_query(user, **filters)).scalars())


@dataclass
class TeamTree:
    roots: list[Team]
    by_parent: dict[int | None, list[Team]]
    total: int
    can_manage: bool


def team_tree(user: User) -> TeamTree:
    """The user's projects' teams as a tree: the roots (teams whose parent is not visible count as
    roots) and each team's children."""
    teams = _teams(user)
    by_parent: dict[int | None, list[Team]] = {}
    for team in teams:
        by_parent.setdefault(team.parent_id, []).append(team)
    ids = {t.id for t in teams}
    roots = [t for t in teams if t.parent_id is None or t.parent_id not in ids]
    return TeamTree(roots, by_parent, len(teams), _can_manage(user))


@dataclass
class TeamPage:
    team: Team
    sub_teams: list[Team]
    users: list[User]
    can_edit: bool
    errors: dict = field(default_factory=dict)


def _team_page(user: User, team: Team, errors: dict | None = None) -> TeamPage:
    return TeamPage(team, _teams(user, parent_id=team.id), project_users(user), _can_manage(user), errors or {})


def team_page(user: User, team_id: int) -> TeamPage:
    """One team: its details form (editable with MANAGE_TEAMS), sub-teams and the project's users."""
    return _team_page(user, svc.get_team(user, team_id))


@dataclass
class SavedTeam:
    """A form submission: the saved team, or its page again with the errors (`page`)."""

    team: Team | None = None
    page: TeamPage | None = None


def save_team(user: User, team_id: int, data: dict) -> SavedTeam:
    """Update a team from its page's form (`data`: the fields on it, `user_ids` a list) with the API's
    schema; every field on the form is given, a blank one is cleared. On bad input, the page again
    with every error named."""
    try:
        edited = {key: None if value == "" else value for key, value in data.items()}
        return SavedTeam(team=svc.update_team(user, team_id, validate_data(TeamChanges, edited, "Cannot save team")))
    except ValidationFailed as exc:
        db.session.rollback()
        return SavedTeam(page=_team_page(user, svc.get_team(user, team_id), exc.details))


@dataclass
class NewTeamForm:
    form: dict
    parents: list[Team]
    users: list[User]
    projects: list[Project]
    errors: dict = field(default_factory=dict)


def _new_team_form(user: User, form: dict, errors: dict | None = None) -> NewTeamForm:
    return NewTeamForm(form, _teams(user, team_type=TeamType.TEAM_OF_TEAMS.value), project_users(user),
                       list(user.projects), errors or {})


def new_team_form(user: User, parent_id: str = "") -> NewTeamForm:
    """The new-team form (MANAGE_TEAMS), under `parent_id` when given."""
    require_permission(user, Permission.MANAGE_TEAMS)
    return _new_team_form(user, {"parent_id": parent_id})


@dataclass
class CreatedTeam:
    """A new-team submission: the team, or the form again with the errors (`form`)."""

    team: Team | None = None
    form: NewTeamForm | None = None


def create_team_from_form(user: User, form: dict, user_ids: list[str]) -> CreatedTeam:
    """Create a team from the new-team form (`form` as posted, `user_ids` its members)."""
    fields = {key: value for key, value in form.items() if key not in ("csrf_token", "user_ids")}
    try:
        data = validate_data(TeamIn, {**fields, "user_ids": user_ids}, "Cannot save team")
        return CreatedTeam(team=svc.create_team(user, data))
    except ValidationFailed as exc:
        return CreatedTeam(form=_new_team_form(user, form, exc.details))
