"""The sampling dialog (pipeline, levels, exceptions picked by name, criteria, seed), its pieces
loaded with HTMX, its launch, and the planning's past sampling runs.

The dialog never calls OpenHEXA: pipeline names come from the cached list (`pipeline_picker` loads
them when the cache is cold) and an OpenHEXA pipeline's definition from `pipeline_section`, both
partials the dialog loads after it opens."""
from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from app.extensions import db
from app.models import Job, OrgUnit, OrgUnitType, Permission, Planning, User
from app.schemas.parsing import by_form_field, validate_data
from app.schemas.types import Id
from app.schemas.planning import SamplingIn
from app.services.planning import assignments as assign_svc
from app.services.planning import sampling
from app.services.planning.pipeline_choices import (
    LOADING, READY, PipelineChoice, PipelineDefinition, check_offered, describe, fetch_pipelines,
    known_pipelines, launch_for_planning, load_definition)
from app.services.planning.orgunits import under_path
from app.services.planning.plannings import BUILTIN_PIPELINE, available_pipelines, get_planning
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.processing.job_access import visible_jobs_filter

MAX_UNITS = 20
ERROR = "error"


@dataclass
class PipelinePicker:
    """The dialog's pipeline select; `state` loading while OpenHEXA's names are still to be read."""

    choices: list[PipelineChoice]
    chosen: PipelineChoice
    state: str = READY
    message: str = ""


@dataclass
class PipelineSection:
    """What the chosen pipeline needs filled in: the levels (built-in or OpenHEXA LQAS pipeline) or an
    OpenHEXA pipeline's own parameters. `state` loading while its definition is still to be read."""

    pipeline_id: str
    state: str = READY  # loading | ready | error
    kind: str = "builtin"  # builtin | lqas | generic
    name: str = ""
    parameters: list[dict] = field(default_factory=list)
    message: str = ""


@dataclass
class SampleDialog:
    planning: Planning
    picker: PipelinePicker | None
    section: PipelineSection
    levels: list[dict]
    errors: dict = field(default_factory=dict)
    message: str | None = None
    seed: object = ""
    values: dict = field(default_factory=dict)
    replacing: Replacing | None = None


@dataclass
class Replacing:
    """A launch that would replace the planning's live assignments: asked before, with the counts as
    they are when the launch is posted (not when the page was loaded)."""

    count: int
    by_hand: int


@dataclass
class LevelForm:
    """One level row as the dialog posts it: exceptions are org unit ids, as posted (text)."""

    type: str
    quantity: str
    exceptions: list[str]
    criteria: str


@dataclass
class DialogForm:
    pipeline: str
    levels: list[LevelForm]
    seed: str
    values: dict
    replace: str = ""  # the number of live assignments the user agreed to replace


@dataclass
class Launched:
    """A dialog submission: the queued job, or the dialog again with its errors."""

    job: Job | None = None
    dialog: SampleDialog | None = None


def _planning_to_sample(user: User, planning_id: int) -> Planning:
    require_permission(user, Permission.MANAGE_PLANNING)
    return get_planning(user, planning_id)


# --- level rows ---------------------------------------------------------------------------------

def _level_types(planning: Planning, parent_type_id: int | None) -> list[OrgUnitType]:
    parent = db.session.get(OrgUnitType, parent_type_id) if parent_type_id else planning.org_unit.org_unit_type
    if parent is None or parent.project_id != planning.project_id:
        return []
    return list(parent.sub_unit_types)


def _rows(planning: Planning, levels: list[dict]) -> list[dict]:
    """Dialog rows: each level with its index and the types it may pick (sub-types of the previous level's)."""
    rows, parent = [], None
    for index, level in enumerate(levels):
        rows.append({**level, "index": index, "types": _level_types(planning, parent)})
        parent = int(level["type"]) if str(level.get("type") or "").isdigit() else None
    return rows


def _levels(types: list, quantities: list, exceptions: list[list[int]], criteria: list) -> list[dict]:
    """Level dicts with each exception's name (one query for all of them)."""
    ids = {e for ids in exceptions for e in ids}
    names = dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    return [{"type": t, "quantity": q, "exceptions": [{"id": e, "name": names.get(e, str(e))} for e in ex],
             "criteria": c if c and c != "-" else ""} for t, q, ex, c in zip(types, quantities, exceptions, criteria)]


def _levels_from_inputs(inputs: dict) -> list[dict]:
    """Dialog rows from a past run's inputs (for re-launching)."""
    types = inputs.get(sampling.TYPES) or []
    return _levels(types, inputs.get(sampling.QUANTITIES) or [],
                   [e or [] for e in inputs.get(sampling.EXCEPTIONS) or [[]] * len(types)],
                   inputs.get(sampling.CRITERIA) or [None] * len(types))


NEW_LEVEL = {"type": "", "quantity": 1, "exceptions": [], "criteria": ""}


# --- the dialog and its partials ------------------------------------------------------------------

def _picker(planning: Planning, chosen_id: str | None, fetch_for: User | None = None) -> PipelinePicker:
    """The planning's pipelines, named from the cached list (or from OpenHEXA when `fetch_for` is given)."""
    listing = fetch_pipelines(fetch_for) if fetch_for is not None else known_pipelines()
    choices = describe(available_pipelines(planning), listing)
    chosen = next((p for p in choices if p.id == chosen_id), choices[0])
    if all(p.builtin for p in choices):  # nothing to name
        return PipelinePicker(choices, chosen)
    return PipelinePicker(choices, chosen, LOADING if listing.state == LOADING else READY, listing.message)


def _section(chosen: PipelineChoice, definition: PipelineDefinition | None = None) -> PipelineSection:
    if chosen.builtin:
        return PipelineSection(chosen.id)
    if definition is None:
        return PipelineSection(chosen.id, LOADING)
    return PipelineSection(chosen.id, READY, definition.kind, definition.name, definition.parameters)


def sample_dialog(user: User, planning_id: int, rerun: str | None = None, pipeline: str | None = None) -> SampleDialog:
    """The dialog: a past sampling run's levels and seed (`rerun`, a job id), or one empty level for
    `pipeline` (default: the built-in one)."""
    planning = _planning_to_sample(user, planning_id)
    job = db.session.execute(select(Job).where(Job.id == rerun, Job.process_id == "lqas-sampling",
                                               visible_jobs_filter(user))).scalar_one_or_none() if rerun else None
    if job is not None:
        picker = _picker(planning, BUILTIN_PIPELINE)
        return SampleDialog(planning, picker, _section(picker.chosen), _rows(planning, _levels_from_inputs(job.inputs)),
                            seed=job.inputs.get("seed", ""))
    picker = _picker(planning, pipeline)
    return SampleDialog(planning, picker, _section(picker.chosen), _rows(planning, [NEW_LEVEL]))


@dataclass
class PickerPartial:
    planning: Planning
    picker: PipelinePicker


def pipeline_picker(user: User, planning_id: int, pipeline: str | None) -> PickerPartial:
    """The dialog's pipeline select with OpenHEXA's names (cached, else asked now): loaded after the dialog."""
    planning = _planning_to_sample(user, planning_id)
    return PickerPartial(planning, _picker(planning, pipeline, fetch_for=user))


def pipeline_section(user: User, planning_id: int, pipeline: str) -> SampleDialog:
    """An OpenHEXA pipeline's part of the dialog, read from OpenHEXA now: loaded after the dialog.
    An unreachable OpenHEXA gives a section that says so."""
    planning = _planning_to_sample(user, planning_id)
    check_offered(planning, pipeline)
    try:
        definition = load_definition(user, pipeline)
    except ValidationFailed as exc:
        return SampleDialog(planning, None, PipelineSection(pipeline, ERROR, message=exc.message), [])
    section = _section(PipelineChoice(pipeline, definition.name, False), definition)
    return SampleDialog(planning, None, section, _rows(planning, [NEW_LEVEL]))


@dataclass
class SampleLevel:
    planning: Planning
    level: dict


def sample_level(user: User, planning_id: int, index: int, parent_type_id: int | None) -> SampleLevel:
    """One more level row; its types are the sub-types of the previous level's type."""
    planning = _planning_to_sample(user, planning_id)
    return SampleLevel(planning, {**NEW_LEVEL, "index": index, "types": _level_types(planning, parent_type_id)})


@dataclass
class ExceptionCandidates:
    units: list[OrgUnit]
    index: int
    query: str


def exception_candidates(user: User, planning_id: int, type_id: int | None, query: str,
                         index: int) -> ExceptionCandidates:
    """Units of a level's type under the planning root whose name contains `query`: to pick exceptions."""
    planning = _planning_to_sample(user, planning_id)
    query = query.strip()
    units = []
    if type_id and query:
        units = list(db.session.execute(
            select(OrgUnit).where(OrgUnit.org_unit_type_id == type_id, under_path(OrgUnit.path, planning.org_unit.path),
                                  OrgUnit.deleted_at.is_(None), OrgUnit.name.ilike(f"%{query}%"))
            .order_by(OrgUnit.name).limit(MAX_UNITS)).scalars())
    return ExceptionCandidates(units, index, query)


# --- launching --------------------------------------------------------------------------------

_ID = TypeAdapter(Id)


def _ids(raw: list[str]) -> tuple[list[int], list[str]]:
    """The posted exclusions that are org unit ids, and those that are not (a hostile or broken form)."""
    ids, junk = [], []
    for value in raw:
        try:
            ids.append(_ID.validate_python(value, strict=False))
        except ValidationError:
            junk.append(value[:40])
    return ids, junk


def launch_from_dialog(user: User, planning_id: int, form: DialogForm, host_url: str) -> Launched:
    """Launch what the dialog asks for; on bad input (or an unreachable OpenHEXA), the dialog again
    with every error named and what was typed kept."""
    planning = _planning_to_sample(user, planning_id)
    pipeline = form.pipeline or BUILTIN_PIPELINE
    exceptions = [_ids(lv.exceptions) for lv in form.levels]
    params = {
        sampling.TYPES: [lv.type for lv in form.levels],
        sampling.QUANTITIES: [lv.quantity for lv in form.levels],
        sampling.EXCEPTIONS: [ids for ids, _ in exceptions],
        sampling.CRITERIA: [lv.criteria or "-" for lv in form.levels],
        "seed": form.seed,
    }
    definition = None
    try:
        bad = [f"level {n}: {raw!r} is not an org unit id" for n, (_, junk) in enumerate(exceptions, 1) for raw in junk]
        if bad:
            raise ValidationFailed("Invalid exclusions", {sampling.EXCEPTIONS: bad})
        check_offered(planning, pipeline)
        if pipeline != BUILTIN_PIPELINE:
            definition = load_definition(user, pipeline)
        sampled = definition is None or definition.kind == "lqas"  # an LQAS pipeline: the levels are its inputs
        levels = validate_data(SamplingIn, params, "Invalid sampling parameters") if sampled else None
        replacing = _unconfirmed_replacement(planning, form.replace)
        if replacing is not None:
            return Launched(dialog=_dialog_again(planning, pipeline, definition, params, form, replacing=replacing))
        job = launch_for_planning(user, planning, pipeline, levels, form.values, host_url, definition)
    except ValidationFailed as exc:
        return Launched(dialog=_dialog_again(planning, pipeline, definition, params, form, exc))
    return Launched(job=job)


def _unconfirmed_replacement(planning: Planning, confirmed: str) -> Replacing | None:
    """The live assignments a sample would replace, unless the user confirmed exactly that many (one
    more made by hand since the question was asked means asking again)."""
    count, by_hand = assign_svc.live_counts(planning.id)
    if count == 0 or confirmed.strip() == str(count):
        return None
    return Replacing(count, by_hand)


def _dialog_again(planning: Planning, pipeline: str, definition, params: dict, form: DialogForm,
                  error: ValidationFailed | None = None, replacing: Replacing | None = None) -> SampleDialog:
    """The dialog as posted, every value kept: with the errors named, or asking to replace assignments."""
    picker = _picker(planning, pipeline)
    section = _section(picker.chosen, definition)
    if section.state == LOADING:  # reading it is what failed; the dialog's message says why
        section = PipelineSection(picker.chosen.id, ERROR)
    levels = _levels(params[sampling.TYPES], params[sampling.QUANTITIES], params[sampling.EXCEPTIONS],
                     params[sampling.CRITERIA])
    return SampleDialog(planning, picker, section, _rows(planning, levels),
                        by_form_field(error.details) if error else {}, error.message if error else None,
                        form.seed, form.values, replacing)


# --- past runs --------------------------------------------------------------------------------

@dataclass
class RunSummary:
    """One past run as the runs table shows it: where it ran, its levels by type name, its seed."""

    on_openhexa: bool
    levels: list[dict]  # [{type, quantity, excluded, criterion}]
    seed: object


@dataclass
class SamplingRuns:
    planning: Planning
    jobs: list[Job]
    runs: dict[str, RunSummary]  # job id → its summary


def _excluded(value) -> int:
    """How many units a level excluded: ids (built in), or the ids an OpenHEXA run was sent ("3,4", "-")."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, str):
        return len([v for v in value.split(",") if v.strip() not in ("", "-")])
    return 0


def _as_list(value) -> list:
    return value if isinstance(value, list) else []


def sampling_runs(user: User, planning_id: int) -> SamplingRuns:
    """The planning's past sampling runs (newest first, 100 at most; built in or on OpenHEXA), each level
    summarised by type name."""
    planning = get_planning(user, planning_id)
    jobs = sampling.sampling_runs(user, planning, limit=100)
    type_names = dict(db.session.execute(select(OrgUnitType.id, OrgUnitType.name)
                                         .where(OrgUnitType.project_id == planning.project_id)).all())
    runs = {}
    for job in jobs:
        on_openhexa = job.process_id != "lqas-sampling"
        # an OpenHEXA run's parameters are the config it was sent (the LQAS pipeline's: the same levels)
        params = (job.inputs.get("config") or {}) if on_openhexa else job.inputs
        types = _as_list(params.get(sampling.TYPES))
        exceptions = _as_list(params.get(sampling.EXCEPTIONS)) or [[]] * len(types)
        criteria = _as_list(params.get(sampling.CRITERIA)) or [None] * len(types)
        levels = [{"type": type_names.get(t, t), "quantity": q, "excluded": _excluded(e),
                   "criterion": c if isinstance(c, str) and c != "-" else None}
                  for t, q, e, c in zip(types, _as_list(params.get(sampling.QUANTITIES)), exceptions, criteria)]
        runs[job.id] = RunSummary(on_openhexa, levels, params.get("seed"))
    return SamplingRuns(planning, jobs, runs)
