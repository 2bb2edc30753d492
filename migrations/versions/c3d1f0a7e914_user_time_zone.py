"""user time zone: times shown in the zone the user chose (none: the browser's)

Revision ID: c3d1f0a7e914
Revises: 6944863451c0
Create Date: 2026-11-29 18:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c3d1f0a7e914'
down_revision = '6944863451c0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
