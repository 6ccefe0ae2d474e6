"""subscription expiry key on provisioning units

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 23:46:47
"""

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# a unit that already had a term: its expiry was started (or failed to start) before this
# revision, which cannot tell which; marked so the sweep does not start a second one
BEFORE = "before-0015"


def upgrade() -> None:
    with op.batch_alter_table('provisioning_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiry_key', sa.String(length=36), nullable=True))
    units = sa.table('provisioning_units', sa.column('expiry_key', sa.String), sa.column('expires_at'))
    op.execute(units.update().where(units.c.expires_at.is_not(None)).values(expiry_key=BEFORE))


def downgrade() -> None:
    with op.batch_alter_table('provisioning_units', schema=None) as batch_op:
        batch_op.drop_column('expiry_key')
