"""LQAS sampling: validation before queueing, semantics, reproducibility, atomic replacement."""
import pytest

from app.schemas.orgunits import OrgUnitTypeIn
from sqlalchemy import select

from app.extensions import get_queue
from app.models import Assignment, Job, OrgUnit, Team
from app.services.processing import job_status as st
from app.services.platform.errors import ValidationFailed
from app.services.processing.jobs import enqueue_job
from app.services.planning.sampling import launch_sampling
from tests.planning_fixtures import country, planning, units_of  # noqa: F401

T, Q, E, C = ("org_unit_type_sequence_identifiers", "org_unit_type_quantities", "org_unit_type_exceptions",
              "org_unit_type_criteria")


def _params(country, levels, quantities, **extra):
    return {T: [country.types[c].id for c in levels], Q: quantities, **extra}


def _live(db, planning):
    db.session.expire_all()
    return db.session.execute(select(Assignment).where(Assignment.planning_id == planning.id,
                                                       Assignment.deleted_at.is_(None))).scalars().all()


def _run(db, run_worker, job):
    run_worker()
    db.session.expire_all()
    return db.session.get(Job, job.id)


def test_two_levels_pick_counts_and_map_to_teams(db, country, planning, run_worker):
    job = launch_sampling(country.coordinator, planning.id, _params(country, ["REGION", "DISTRICT"], [3, 2], seed=11))
    done = _run(db, run_worker, job)
    assert done.status == st.SUCCESSFUL, done.message
    assert done.results == {"assignments_created": 6, "org_units_selected": 9, "teams_assigned": 6, "seed": 11}
    live = _live(db, planning)
    assert len(live) == 6
    by_region: dict = {}
    for a in live:
        unit = db.session.get(OrgUnit, a.org_unit_id)
        assert unit.org_unit_type_id == country.types["DISTRICT"].id
        team = db.session.get(Team, a.team_id)
        region_team = db.session.get(Team, team.parent_id)
        # a district goes to a district team under the region team its region went to
        assert region_team.parent_id == country.root_team.id
        by_region.setdefault(unit.parent_id, set()).add(region_team.id)
    assert len(by_region) == 3 and all(len(teams) == 1 for teams in by_region.values())
    messages = [line.message for line in done.logs]
    assert any("Level 1 of 2" in m for m in messages) and any("Level 2 of 2" in m for m in messages)


def test_same_seed_same_assignments_other_seed_differs(db, country, planning, run_worker):
    def sample(seed):
        _run(db, run_worker, launch_sampling(country.coordinator, planning.id,
                                             _params(country, ["REGION", "DISTRICT"], [4, 1], seed=seed)))
        return sorted((a.org_unit_id, a.team_id) for a in _live(db, planning))

    first = sample(5)
    assert sample(5) == first
    assert sample(6) != first


def test_seed_is_generated_and_stored_when_missing(db, country, planning, run_worker):
    job = launch_sampling(country.coordinator, planning.id, _params(country, ["REGION"], [2]))
    assert isinstance(job.inputs["seed"], int)
    assert _run(db, run_worker, job).results["seed"] == job.inputs["seed"]


def test_exceptions_and_criteria_are_honoured(db, country, planning, run_worker):
    regions = units_of("REGION", country)
    excluded = regions[:len(regions) - 2]  # leave exactly two regions
    job = launch_sampling(country.coordinator, planning.id, _params(
        country, ["REGION"], [2], **{E: [[r.id for r in excluded]], "seed": 1}))
    assert _run(db, run_worker, job).status == st.SUCCESSFUL
    assert {a.org_unit_id for a in _live(db, planning)} == {r.id for r in regions[-2:]}
    urban = [d for d in units_of("DISTRICT", country) if d.area_type == "URBAN"]
    job = launch_sampling(country.coordinator, planning.id, _params(
        country, ["DISTRICT"], [len(urban)], **{C: ["URBAN"], "seed": 2}))
    assert _run(db, run_worker, job).status == st.SUCCESSFUL
    assert {a.org_unit_id for a in _live(db, planning)} == {d.id for d in urban}


def test_exceptions_travel_as_placeholders_or_json(db, country, planning, run_worker):
    region = units_of("REGION", country)[0]
    for exceptions in (f"{region.id}|-".replace("|", ","), f'[[{region.id}], []]', [str(region.id), "-"]):
        job = launch_sampling(country.coordinator, planning.id, _params(
            country, ["REGION", "DISTRICT"], [7, 1], **{E: exceptions, "seed": 4}))
        assert job.inputs[E] == [[region.id], []]
        assert _run(db, run_worker, job).status == st.SUCCESSFUL
        assert region.id not in {db.session.get(OrgUnit, a.org_unit_id).parent_id for a in _live(db, planning)}


def test_too_few_candidates_names_the_parent_and_keeps_old_assignments(db, country, planning, run_worker):
    good = launch_sampling(country.coordinator, planning.id, _params(country, ["REGION"], [2], seed=1))
    _run(db, run_worker, good)
    before = sorted(a.id for a in _live(db, planning))
    bad = launch_sampling(country.coordinator, planning.id, _params(country, ["REGION", "DISTRICT"], [2, 50], seed=1))
    failed = _run(db, run_worker, bad)
    assert failed.status == st.FAILED
    assert "Too few candidates under '" in failed.message and "50 requested" in failed.message
    assert sorted(a.id for a in _live(db, planning)) == before  # atomic: old set intact


@pytest.mark.parametrize("change, field, text", [
    ({"planning_id": 999999}, "planning_id", "does not exist"),
    ({T: []}, T, "is required"),
    ({Q: [1]}, Q, "has 1 values for 2 levels"),
    ({Q: [0, 1]}, Q, "must be positive"),
    ({T: "DISTRICT,REGION"}, T, "is not below"),
    ({T: "HF,DISTRICT"}, T, "is not below"),
    ({E: [[999999], []]}, E, "does not exist"),
    ({E: ["REGION0", []]}, E, "is not a 'District'"),
    ({E: [[], [], []]}, E, "3 entries for 2 levels"),
    ({C: ["SUBURBAN", "-"]}, C, "must be URBAN, RURAL"),
    ({"seed": -3}, "seed", "greater than or equal to 0"),
])
def test_validation_errors_queue_nothing(db, country, planning, change, field, text):
    params = _params(country, ["REGION", "DISTRICT"], [1, 1], seed=1, planning_id=planning.id)
    region0 = units_of("REGION", country)[0].id
    for key, value in change.items():
        if isinstance(value, str) and "," in value and key == T:
            value = [country.types[c].id for c in value.split(",")]
        if key == E and value and value[0] == "REGION0":
            value = [[region0], []]
        params[key] = value
    # a level-1 exception must be of the level-1 type: use a district-level check for the "not a" case
    if field == E and text.startswith("is not a"):
        params[T] = [country.types["DISTRICT"].id, country.types["HF"].id]
    with pytest.raises(ValidationFailed) as caught:
        enqueue_job("lqas-sampling", params, launcher=country.coordinator)
    assert field in {place.split(".")[0] for place in caught.value.details}, caught.value.details  # or `field.<i>`
    assert text in caught.value.message
    assert db.session.query(Job).count() == 0 and get_queue().count == 0


def test_hierarchy_mismatch_is_refused_before_queueing(db, country, planning):
    # The demo team tree has three levels below the root team (regions, districts, users):
    # four levels of sampling need a fourth.
    params = _params(country, ["REGION", "DISTRICT", "HF"], [1, 1, 1], seed=1)
    launch_sampling(country.coordinator, planning.id, params)  # three levels fit
    from app.models import OrgUnitType
    from app.services.planning.orgunits import create_org_unit_type

    extra = create_org_unit_type(country.coordinator, OrgUnitTypeIn(**{"name": "Village", "depth": 4}))
    hf_type = db.session.get(OrgUnitType, country.types["HF"].id)
    hf_type.sub_unit_types.append(extra)
    db.session.commit()
    jobs_before = db.session.query(Job).count()
    with pytest.raises(ValidationFailed) as caught:
        launch_sampling(country.coordinator, planning.id, {**params, T: params[T] + [extra.id], Q: [1, 1, 1, 1]})
    assert "Hierarchy mismatch" in caught.value.message
    assert db.session.query(Job).count() == jobs_before


def test_three_levels_assign_users(db, country, planning, run_worker):
    job = launch_sampling(country.coordinator, planning.id, _params(country, ["REGION", "DISTRICT", "HF"], [2, 1, 3], seed=9))
    done = _run(db, run_worker, job)
    assert done.status == st.SUCCESSFUL, done.message
    live = _live(db, planning)
    assert len(live) == 6 and all(a.user_id and not a.team_id for a in live)


def test_another_projects_coordinator_cannot_sample(db, country, planning, make_user):
    from app.services.platform.errors import NotFound

    stranger = make_user(role="coordinator", projects=["Elsewhere"])
    with pytest.raises(NotFound):
        launch_sampling(stranger, planning.id, _params(country, ["REGION"], [1]))
    assert db.session.query(Job).count() == 0


def test_sampling_runs_lists_only_this_plannings_runs(db, country, planning, run_worker):
    from app.schemas.planning import PlanningIn
    from app.services.planning.plannings import create_planning
    from app.services.planning.sampling import sampling_runs

    other = create_planning(country.coordinator, PlanningIn(name="Other round", team=country.root_team.id,
                                                            org_unit=country.country.id))
    mine = launch_sampling(country.coordinator, planning.id, _params(country, ["REGION"], [1], seed=1))
    launch_sampling(country.coordinator, other.id, _params(country, ["REGION"], [1], seed=2))
    assert [j.id for j in sampling_runs(country.coordinator, planning)] == [mine.id]
