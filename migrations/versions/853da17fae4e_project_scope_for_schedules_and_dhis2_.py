"""project scope for schedules and DHIS2 connections; platform operator flag

Revision ID: 853da17fae4e
Revises: b396e9d28107
Create Date: 2026-11-29 14:05:23.371603

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import app.models.base  # noqa: F401  (custom column types)


# revision identifiers, used by Alembic.
revision = '853da17fae4e'
down_revision = 'b396e9d28107'
branch_labels = None
depends_on = None


# Existing rows go to a project sensibly: a schedule to its creator's first project, a DHIS2 connection
# to the first project of whoever last saved it, else both to the oldest project (a "Default project"
# is created only if rows need one and none exists). Existing admins become platform operators, so an
# upgrade takes nothing away from anyone; revoke with `flask users operator NAME --revoke`.
_FIRST_PROJECT_OF = "(SELECT MIN(up.project_id) FROM user_projects up WHERE up.user_id = {table}.{user_column})"


def _ensure_a_project(conn) -> None:
    orphans = conn.execute(sa.text("SELECT 1 FROM schedules WHERE project_id IS NULL "
                                   "UNION ALL SELECT 1 FROM dhis2_connections")).first()
    if orphans and conn.execute(sa.text("SELECT 1 FROM projects")).first() is None:
        projects = sa.table("projects", sa.column("name", sa.String), sa.column("description", sa.String),
                            sa.column("created_at", app.models.base.UTCDateTime()))
        op.bulk_insert(projects, [{"name": "Default project", "created_at": datetime.now(timezone.utc),
                                   "description": "Created by the upgrade for schedules and DHIS2 connections."}])


def _assign_projects(table: str, user_column: str) -> None:
    op.execute(f"UPDATE {table} SET project_id = {_FIRST_PROJECT_OF.format(table=table, user_column=user_column)} "
               "WHERE project_id IS NULL")
    op.execute(f"UPDATE {table} SET project_id = (SELECT MIN(id) FROM projects) WHERE project_id IS NULL")


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_operator', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.get_bind().execute(sa.text("UPDATE users SET platform_operator = :yes WHERE role_id IN "
                                  "(SELECT id FROM roles WHERE name = 'admin')").bindparams(yes=True))

    with op.batch_alter_table('dhis2_connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('project_id', sa.Integer(), nullable=True))
    _ensure_a_project(op.get_bind())
    _assign_projects("dhis2_connections", "updated_by_id")
    _assign_projects("schedules", "created_by_id")

    with op.batch_alter_table('dhis2_connections', schema=None) as batch_op:
        batch_op.alter_column('project_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_dhis2_connections_name'), type_='unique')
        batch_op.create_index(batch_op.f('ix_dhis2_connections_project_id'), ['project_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_dhis2_connections_project_id'), ['project_id', 'name'])
        batch_op.create_foreign_key(batch_op.f('fk_dhis2_connections_project_id_projects'), 'projects', ['project_id'], ['id'])

    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.alter_column('project_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_schedules_name'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_schedules_project_id'), ['project_id', 'name'])


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('platform_operator')

    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_schedules_project_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_schedules_name'), ['name'])
        batch_op.alter_column('project_id',
               existing_type=sa.INTEGER(),
               nullable=True)

    with op.batch_alter_table('dhis2_connections', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_dhis2_connections_project_id_projects'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_dhis2_connections_project_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_dhis2_connections_project_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_dhis2_connections_name'), ['name'])
        batch_op.drop_column('project_id')

