"""Factories for the ticket tests: a help desk with departments, categories, roles, workflows."""
from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from app.extensions import db
from app.models import Role
from app.schemas.helpdesk import CategoryIn, DepartmentIn, StaffRoleIn, StepIn, WorkflowIn
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk import workflows as wf

_ids = itertools.count(1)


def payload(external_id=None, **overrides) -> dict:
    """A ticket as the seed's help desk sends it."""
    body = {"ticket_number": external_id or f"TK-{next(_ids):05d}", "subject": "Laptop does not boot",
            "description": "Black screen since this morning", "department": "IT", "category": "Hardware",
            "sub_category": "Laptop", "priority": "High", "employee": {"first_name": "Ama", "last_name": "Owusu"}}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def make_workflow(user, name, department, category, sub=None, steps=(), deploy=True, publish=True,
                  end_logic="none"):
    workflow = wf.create_workflow(user, WorkflowIn(name=name, department_id=department.id, category_id=category.id,
                                                   sub_category_id=sub.id if sub else None, end_logic=end_logic))
    for step_name, role in steps:
        wf.add_step(user, workflow.id, StepIn(name=step_name, role_id=role.id))
    if deploy:
        wf.set_deployed(user, workflow.id, True)
    if publish:
        wf.set_published(user, workflow.id, True)
    return workflow


@pytest.fixture
def desk(app, make_user):
    """IT › Hardware › Laptop; roles "Intake officer" (agents a1–a3) and "Technician" (agent t1);
    workflow "Laptop repair" (Triage → Repair → Check) for the sub-category, published and deployed."""
    boss = make_user("coordinator", username="boss")
    agents = [make_user("agent", username=f"a{i}") for i in (1, 2, 3)]
    tech = make_user("agent", username="t1")
    it = catalog.create_department(boss, DepartmentIn(name="IT"))
    hardware = catalog.create_category(boss, CategoryIn(name="Hardware"))
    laptop = catalog.create_category(boss, CategoryIn(name="Laptop", parent_id=hardware.id))
    printer = catalog.create_category(boss, CategoryIn(name="Printer", parent_id=hardware.id))
    intake = catalog.create_staff_role(boss, StaffRoleIn(name="Intake officer", user_ids=[a.id for a in agents]))
    technician = catalog.create_staff_role(boss, StaffRoleIn(name="Technician", user_ids=[tech.id], max_assignments=1))
    workflow = make_workflow(boss, "Laptop repair", it, hardware, laptop,
                             steps=[("Triage", intake), ("Repair", technician), ("Check", intake)],
                             end_logic="notification")
    return SimpleNamespace(boss=boss, agents=agents, tech=tech, it=it, hardware=hardware, laptop=laptop,
                           printer=printer, intake=intake, technician=technician, workflow=workflow,
                           project_id=boss.project_ids[0])


def viewer_role():
    """A permission role with no permissions (the built-in ones all may create tasks)."""
    role = Role(name="viewer", description="Reads only", permissions=[])
    db.session.add(role)
    db.session.commit()
    return role
