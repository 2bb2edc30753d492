"""schedule catch-up: missed periods run automatically (on by default for EO imports)

Revision ID: d8e2a4c6b1f3
Revises: c3d1f0a7e914
Create Date: 2026-11-29 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = 'd8e2a4c6b1f3'
down_revision = 'c3d1f0a7e914'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('catch_up', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('caught_up', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                                      nullable=True))
    # EO imports catch up by default (the seeded schedules are theirs)
    op.execute("UPDATE schedules SET catch_up = true WHERE process_id = 'eo-aggregate-import'")


def downgrade():
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_column('caught_up')
        batch_op.drop_column('catch_up')
