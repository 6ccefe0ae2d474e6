"""subscription terms: term_months on application and order lines, expires_at on provisioning units

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 20:46:25
"""

from alembic import op
import sqlalchemy as sa
import engine.models.base


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable columns without a default: existing lines have no term, existing units never expire
    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('term_months', sa.Integer(), nullable=True))

    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('term_months', sa.Integer(), nullable=True))

    with op.batch_alter_table('provisioning_units', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', engine.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('provisioning_units', schema=None) as batch_op:
        batch_op.drop_column('expires_at')

    with op.batch_alter_table('order_items', schema=None) as batch_op:
        batch_op.drop_column('term_months')

    with op.batch_alter_table('application_items', schema=None) as batch_op:
        batch_op.drop_column('term_months')
