"""terminations: resource_requests (terminate, start, stop, reboot, resize on a resource)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:35:00
"""

from alembic import op
import sqlalchemy as sa
import engine.models.base
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
OPEN_TERMINATION = "kind = 'terminate' AND finished_at IS NULL"


def upgrade() -> None:
    op.create_table('resource_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('params', JSON, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('instance_id', sa.String(length=36), nullable=True),
    sa.Column('requested_by', sa.String(length=100), nullable=True),
    sa.Column('result', JSON, nullable=False),
    sa.Column('quota_released', sa.Boolean(), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['resource_id'], ['cloud_resources.id'],
                            name=op.f('fk_resource_requests_resource_id_cloud_resources'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_resource_requests_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_requests'))
    )
    with op.batch_alter_table('resource_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_resource_requests_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_resource_requests_resource_id'), ['resource_id'], unique=False)
        batch_op.create_index('ix_resource_requests_tenant_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('uq_resource_requests_open_termination', ['resource_id'], unique=True,
                              postgresql_where=sa.text(OPEN_TERMINATION), sqlite_where=sa.text(OPEN_TERMINATION))


def downgrade() -> None:
    with op.batch_alter_table('resource_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_resource_requests_open_termination', postgresql_where=sa.text(OPEN_TERMINATION),
                            sqlite_where=sa.text(OPEN_TERMINATION))
        batch_op.drop_index('ix_resource_requests_tenant_created')
        batch_op.drop_index(batch_op.f('ix_resource_requests_resource_id'))
        batch_op.drop_index(batch_op.f('ix_resource_requests_order_id'))

    op.drop_table('resource_requests')
