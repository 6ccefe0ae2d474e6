"""placement choices: the plans offered for an application, the pick and the confirmed choice

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 19:35:00
"""

from alembic import op
import sqlalchemy as sa
import engine.models.base
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('placement_choices',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('application_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('weights', JSON, nullable=True),
    sa.Column('plans', JSON, nullable=False),
    sa.Column('objective', sa.String(length=16), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('choice', JSON, nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('chosen_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['applications.id'], name=op.f('fk_placement_choices_application_id_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_placement_choices_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_placement_choices')),
    sa.UniqueConstraint('application_id', name=op.f('uq_placement_choices_application_id'))
    )


def downgrade() -> None:
    op.drop_table('placement_choices')
