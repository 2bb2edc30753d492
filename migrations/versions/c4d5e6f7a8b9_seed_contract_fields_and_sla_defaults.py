"""seed contract fields and default SLA configs

Action plans keep the seed's `goals` and `metadata`; tasks keep the seed's `assigned_to` reference and
`fetched_at` (when one of its assignees first fetched it through the task API). The
default calendar is around the clock (every day 00:00–24:00 UTC; business calendars are opt-in per config):
created when missing, and an untouched old default (UTC Mon–Fri 08:00–17:00, no holidays) becomes it. The
seed's default SLA configs (global, any service area: intake 60, assessment 240, review 120, general 480
minutes) are created when missing. Running clocks keep the calendar they started with.

Revision ID: c4d5e6f7a8b9
Revises: b7c1d2e3f4a5
Create Date: 2026-11-29 17:40:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import app.models.base  # noqa: F401  (custom column types)

revision = 'c4d5e6f7a8b9'
down_revision = 'b7c1d2e3f4a5'
branch_labels = None
depends_on = None

JSON = app.models.base.JSONType
TARGETS = {"intake": 60, "assessment": 240, "review": 120, "general": 480}
ALL_DAYS = [0, 1, 2, 3, 4, 5, 6]


def upgrade():
    with op.batch_alter_table('action_plans') as batch:
        batch.add_column(sa.Column('goals', JSON, nullable=True))
        batch.add_column(sa.Column('metadata', JSON, nullable=True))
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('assigned_to', sa.String(length=150), nullable=True))
        batch.add_column(sa.Column('fetched_at', app.models.base.UTCDateTime(), nullable=True))

    bind = op.get_bind()
    calendars = sa.table('business_calendars', sa.column('id', sa.Integer), sa.column('name', sa.String),
                         sa.column('timezone', sa.String), sa.column('work_start', sa.String),
                         sa.column('work_end', sa.String), sa.column('workdays', JSON),
                         sa.column('country', sa.String), sa.column('subdivision', sa.String),
                         sa.column('extra_holidays', JSON), sa.column('created_at', app.models.base.UTCDateTime))
    configs = sa.table('sla_configs', sa.column('project_id', sa.Integer), sa.column('name', sa.String),
                       sa.column('service_area', sa.String), sa.column('task_type', sa.String),
                       sa.column('response_minutes', sa.Integer), sa.column('resolution_minutes', sa.Integer),
                       sa.column('warning_percent', sa.Integer), sa.column('pause_states', JSON),
                       sa.column('calendar_id', sa.Integer), sa.column('enabled', sa.Boolean),
                       sa.column('created_at', app.models.base.UTCDateTime),
                       sa.column('updated_at', app.models.base.UTCDateTime))
    now = datetime.now(timezone.utc)
    row = bind.execute(sa.select(calendars).where(calendars.c.name == 'Default')).mappings().first()
    around = {"timezone": "UTC", "work_start": "00:00", "work_end": "24:00", "workdays": ALL_DAYS,
              "country": None, "subdivision": None, "extra_holidays": []}
    if row is None:
        bind.execute(calendars.insert().values(name='Default', created_at=now, **around))
    elif (row["timezone"], row["work_start"], row["work_end"], sorted(row["workdays"] or []), row["country"],
          row["extra_holidays"] or []) == ("UTC", "08:00", "17:00", [0, 1, 2, 3, 4], None, []):
        bind.execute(calendars.update().where(calendars.c.id == row["id"]).values(**around))
    calendar_id = bind.execute(sa.select(calendars.c.id).where(calendars.c.name == 'Default')).scalar_one()
    have = set(bind.execute(sa.select(configs.c.task_type).where(
        configs.c.project_id.is_(None), configs.c.service_area == '*')).scalars())
    for task_type, minutes in TARGETS.items():
        if task_type not in have:
            bind.execute(configs.insert().values(
                project_id=None, name=f"{task_type.capitalize()} (default)", service_area='*', task_type=task_type,
                response_minutes=None, resolution_minutes=minutes, warning_percent=80, pause_states=["blocked"],
                calendar_id=calendar_id, enabled=True, created_at=now, updated_at=now))


def downgrade():
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('fetched_at')
        batch.drop_column('assigned_to')
    with op.batch_alter_table('action_plans') as batch:
        batch.drop_column('metadata')
        batch.drop_column('goals')
