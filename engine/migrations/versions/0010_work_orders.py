"""work orders: manual work for operations, worked through bpmn/work_order.bpmn

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:35:00
"""

from alembic import op
import sqlalchemy as sa
import engine.models.base
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('work_orders',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('source_key', sa.String(length=200), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=True),
    sa.Column('resource_id', sa.String(length=36), nullable=True),
    sa.Column('unit_id', sa.String(length=36), nullable=True),
    sa.Column('organization_id', sa.String(length=36), nullable=True),
    sa.Column('business_system_id', sa.String(length=36), nullable=True),
    sa.Column('applicant', sa.String(length=100), nullable=True),
    sa.Column('instance_id', sa.String(length=36), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('evaluated_by', sa.String(length=100), nullable=True),
    sa.Column('comment', sa.String(length=2000), nullable=True),
    sa.Column('reopened', sa.Integer(), nullable=False),
    sa.Column('escalated_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_work_orders_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_orders')),
    sa.UniqueConstraint('tenant_id', 'number', name='uq_work_orders_tenant_number'),
    sa.UniqueConstraint('tenant_id', 'source_key', name='uq_work_orders_tenant_source_key')
    )
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.create_index('ix_work_orders_instance', ['instance_id'], unique=False)
        batch_op.create_index('ix_work_orders_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_work_orders_tenant_created', ['tenant_id', 'created_at'], unique=False)
        batch_op.create_index('ix_work_orders_tenant_order', ['tenant_id', 'order_id'], unique=False)
        batch_op.create_index('ix_work_orders_tenant_resource', ['tenant_id', 'resource_id'], unique=False)
        batch_op.create_index('ix_work_orders_tenant_status', ['tenant_id', 'status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_work_orders_tenant_status')
        batch_op.drop_index('ix_work_orders_tenant_resource')
        batch_op.drop_index('ix_work_orders_tenant_order')
        batch_op.drop_index('ix_work_orders_tenant_created')
        batch_op.drop_index('ix_work_orders_status_created')
        batch_op.drop_index('ix_work_orders_instance')

    op.drop_table('work_orders')
