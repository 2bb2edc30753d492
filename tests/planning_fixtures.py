"""A small demo country (country → regions → districts → facilities, with a matching team tree)."""
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, OrgUnitType, Team, User
from app.demo.planning import load_demo
from app.schemas.planning import PlanningIn
from app.services.planning.plannings import create_planning
from app.services.platform.users import hash_password
from tests.conftest import PASSWORD


@dataclass
class Country:
    coordinator: User
    country: OrgUnit
    root_team: Team
    types: dict


@pytest.fixture
def country(app):
    load_demo(org_units=250, seed=3)
    coordinator = db.session.execute(select(User).where(User.username == "coordinator")).scalar_one()
    coordinator.password_hash = hash_password(PASSWORD)  # what the `login` fixture types
    db.session.commit()
    root = db.session.execute(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).scalar_one()
    team = db.session.execute(select(Team).where(Team.parent_id.is_(None))).scalar_one()
    types = {t.category: t for t in db.session.execute(select(OrgUnitType)).scalars()}
    return Country(coordinator, root, team, types)


@pytest.fixture
def planning(country):
    return create_planning(country.coordinator, PlanningIn(name="Round 1", team=country.root_team.id,
                                                           org_unit=country.country.id, pipeline_uuids=["lqas-sampling"]))


def units_of(category: str, country: Country, under: OrgUnit | None = None) -> list[OrgUnit]:
    stmt = select(OrgUnit).where(OrgUnit.org_unit_type_id == country.types[category].id).order_by(OrgUnit.id)
    if under is not None:
        stmt = stmt.where(OrgUnit.path.like(under.path + "%"))
    return list(db.session.execute(stmt).scalars())
