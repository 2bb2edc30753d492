"""ticket batch items staged for their job

A queued ticket batch is a `ticket-batch` job; its tickets wait here (keyed by the job's id) instead of
in the RQ job's arguments. Batches queued before this revision live only in RQ and are not carried over:
drain the queue (let workers finish) before upgrading.

Revision ID: aae4e562050e
Revises: 29847f5bf1f3
Create Date: 2026-11-29 16:33:46.038480

"""
from alembic import op
import sqlalchemy as sa

import app.models.base  # noqa: F401  (custom column types)
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'aae4e562050e'
down_revision = '29847f5bf1f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ticket_batch_items',
    sa.Column('batch_id', sa.String(length=36), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('outcome', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_ticket_batch_items_project_id_projects')),
    sa.PrimaryKeyConstraint('batch_id', 'position', name=op.f('pk_ticket_batch_items'))
    )
    with op.batch_alter_table('ticket_batch_items', schema=None) as batch_op:
        batch_op.create_index('ix_ticket_batch_items_pending', ['batch_id'], unique=False, postgresql_where=sa.text('payload IS NOT NULL'), sqlite_where=sa.text('payload IS NOT NULL'))



def downgrade():
    with op.batch_alter_table('ticket_batch_items', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_batch_items_pending', postgresql_where=sa.text('payload IS NOT NULL'), sqlite_where=sa.text('payload IS NOT NULL'))

    op.drop_table('ticket_batch_items')
