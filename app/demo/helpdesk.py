"""Demo help desk for a project: departments, categories, staff roles with demo users, workflows,
and about twenty tickets received through the real intake (so tasks, assignments and events exist)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.models import Category, Department, Project, Role, StaffRole, User, Workflow, WorkflowStep, utcnow
from app.services.helpdesk.intake import receive_tickets
from app.services.helpdesk.ticket_tasks import move_to_next_step, perform_action
from app.services.platform.users import hash_password

DEMO_PASSWORD = "fieldflow"
ROLES = {  # role: (users per task, demo usernames)
    "Intake officer": (1, ["intake.amina", "intake.kofi", "intake.lea"]),
    "District pharmacist": (1, ["pharmacist.moussa", "pharmacist.ines"]),
    "IT technician": (2, ["it.samuel", "it.grace"]),
}
CATALOG = {"Supply chain": {"Cold chain": ["Fridge failure", "Temperature alarm"], "Stock": ["Stock-out"]},
           "IT support": {"Devices": ["Tablet", "Data sync"]}}
WORKFLOWS = [  # name, department, category, sub-category, end logic, live, steps (name, role)
    ("Cold chain repair", "Supply chain", "Cold chain", None, "notification", True,
     [("Triage", "Intake officer"), ("Repair visit", "District pharmacist"), ("Confirm", "Intake officer")]),
    ("Device support", "IT support", "Devices", None, "none", True,
     [("Triage", "Intake officer"), ("Fix", "IT technician")]),
    ("Stock-out response", "Supply chain", "Stock", "Stock-out", "notification", False,
     [("Check stock", "District pharmacist"), ("Resupply", "Intake officer")]),
]
TICKETS = [  # subject, department, category, sub-category, priority
    ("Vaccine fridge at Kanta HC not cooling", "Supply chain", "Cold chain", "Fridge failure", "critical"),
    ("Temperature alarm in Bara district store", "Supply chain", "Cold chain", "Temperature alarm", "high"),
    ("Solar fridge panel cracked", "Supply chain", "Cold chain", "Fridge failure", "high"),
    ("Freezer door seal broken", "Supply chain", "Cold chain", None, "medium"),
    ("Cold box thermometer missing", "Supply chain", "Cold chain", None, "low"),
    ("Tablet does not start", "IT support", "Devices", "Tablet", "high"),
    ("Survey data not syncing since Monday", "IT support", "Devices", "Data sync", "critical"),
    ("Tablet screen cracked", "IT support", "Devices", "Tablet", "medium"),
    ("Charger lost during campaign", "IT support", "Devices", None, "low"),
    ("Sync error 'token expired'", "IT support", "Devices", "Data sync", "high"),
    ("RDT stock-out at Lomi HC", "Supply chain", "Stock", "Stock-out", "critical"),
    ("ORS sachets running low", "Supply chain", "Stock", "Stock-out", "high"),
    ("Printer jammed in district office", "IT support", "Printers", None, "low"),
    ("Fridge thermostat stuck at 12 °C", "Supply chain", "Cold chain", "Fridge failure", "critical"),
    ("Two tablets reset to factory settings", "IT support", "Devices", "Tablet", "medium"),
    ("Generator fuel for cold room", "Supply chain", "Cold chain", None, "high"),
    ("GPS not working on tablet", "IT support", "Devices", "Tablet", "medium"),
    ("Temperature log pages missing", "Supply chain", "Cold chain", "Temperature alarm", "low"),
    ("App update fails to install", "IT support", "Devices", "Data sync", "medium"),
    ("Ice packs not freezing", "Supply chain", "Cold chain", None, "medium"),
]


def _users(project: Project) -> dict[str, User]:
    agent = db.session.execute(select(Role).where(Role.name == "agent")).scalar_one()
    wanted = [name for _max, names in ROLES.values() for name in names]
    users = {u.username: u for u in db.session.execute(select(User).where(User.username.in_(wanted))).scalars()}
    password = hash_password(DEMO_PASSWORD)
    for name in wanted:
        if name not in users:
            first = name.split(".")[1].capitalize()
            users[name] = User(username=name, password_hash=password, role_id=agent.id, full_name=first)
            db.session.add(users[name])
        if project not in users[name].projects:
            users[name].projects.append(project)
    demo_agent = db.session.execute(select(User).where(User.username == "agent")).scalar_one_or_none()
    if demo_agent is not None and project in demo_agent.projects:
        users["agent"] = demo_agent  # the demo "agent" login is an intake officer too: it has tasks
    db.session.flush()
    return users


def load_ticket_demo(project: Project) -> dict:
    """Create the demo help desk in `project` (skipped if it already has departments). Commits."""
    if db.session.execute(select(Department.id).where(Department.project_id == project.id)).first():
        return {"skipped": True}
    users = _users(project)
    roles = {}
    for name, (per_task, members) in ROLES.items():
        people = [users[m] for m in members] + ([users["agent"]] if name == "Intake officer" and "agent" in users else [])
        roles[name] = StaffRole(project_id=project.id, name=name, max_assignments=per_task, users=people)
        db.session.add(roles[name])
    departments, categories = {}, {}
    for dept, cats in CATALOG.items():
        departments[dept] = Department(project_id=project.id, name=dept)
        db.session.add(departments[dept])
        for cat, subs in cats.items():
            categories[cat] = Category(project_id=project.id, name=cat)
            db.session.add(categories[cat])
            for sub in subs:
                categories[sub] = Category(project_id=project.id, name=sub, parent=categories[cat])
                db.session.add(categories[sub])
    db.session.flush()
    for name, dept, cat, sub, end_logic, live, steps in WORKFLOWS:
        workflow = Workflow(project_id=project.id, name=name, department_id=departments[dept].id,
                            category_id=categories[cat].id, sub_category_id=categories[sub].id if sub else None,
                            end_logic=end_logic, is_published=live, status="deployed" if live else "draft",
                            deployed_at=utcnow() if live else None, description=f"Demo workflow for {cat.lower()}")
        workflow.steps = [WorkflowStep(order=i, name=step, role_id=roles[role].id)
                          for i, (step, role) in enumerate(steps, start=1)]
        db.session.add(workflow)
    db.session.commit()
    now = utcnow()
    payloads = [{"ticket_number": f"HD-{1000 + i}", "subject": subject, "department": dept, "category": cat,
                 "sub_category": sub, "priority": priority, "requester": f"Health facility {i % 7 + 1}",
                 "received_at": (now - timedelta(hours=3 * (len(TICKETS) - i))).isoformat()}
                for i, (subject, dept, cat, sub, priority) in enumerate(TICKETS)]
    outcomes = receive_tickets(project.id, payloads)
    _work_some_tasks([o.task_id for o in outcomes if o.task_id], users)
    return {"project": project.name, "tickets": len(outcomes), "tasks": sum(1 for o in outcomes if o.task_id),
            "roles": len(roles), "workflows": len(WORKFLOWS), "users": len(users)}


def _work_some_tasks(task_ids: list[int], users: dict[str, User]) -> None:
    """Move a few tasks along so the board shows every column."""
    from app.services.helpdesk.ticket_tasks import get_task

    def assignee(task_id: int) -> User:
        task = get_task(users["intake.amina"], task_id)
        return next(u for u in users.values() if any(a.user_id == u.id and a.step_id == task.current_step_id
                                                     for a in task.assignments))

    for n, task_id in enumerate(task_ids[:8]):
        actor = assignee(task_id)
        perform_action(actor, task_id, "start")
        if n % 4 == 1:
            move_to_next_step(actor, task_id)
        elif n % 4 == 2:
            perform_action(actor, task_id, "block", "Waiting for the requester's reply")
        elif n % 4 == 3:  # through every step: "next step" at the last one completes it
            while move_to_next_step(actor, task_id).status != "completed":
                actor = assignee(task_id)
