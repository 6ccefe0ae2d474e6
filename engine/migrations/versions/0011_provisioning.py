"""provisioning (slot reserved; filled by the domain that owns it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 19:35:00
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import engine.models.base  # noqa: F401
from sqlalchemy.dialects import postgresql  # noqa: F401

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provisioning_units',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('order_id', sa.String(length=36), nullable=False),
    sa.Column('order_item_id', sa.String(length=36), nullable=False),
    sa.Column('copy_no', sa.Integer(), nullable=False),
    sa.Column('spec_id', sa.String(length=36), nullable=False),
    sa.Column('pool_id', sa.String(length=36), nullable=True),
    sa.Column('account_id', sa.String(length=36), nullable=True),
    sa.Column('client_token', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('resource_id', sa.String(length=36), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=1000), nullable=True),
    sa.Column('work_order_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['cloud_accounts.id'], name=op.f('fk_provisioning_units_account_id_cloud_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_provisioning_units_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_item_id'], ['order_items.id'], name=op.f('fk_provisioning_units_order_item_id_order_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pool_id'], ['resource_pools.id'], name=op.f('fk_provisioning_units_pool_id_resource_pools'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resource_id'], ['cloud_resources.id'], name=op.f('fk_provisioning_units_resource_id_cloud_resources'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_provisioning_units_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provisioning_units')),
    sa.UniqueConstraint('order_item_id', 'copy_no', name=op.f('uq_provisioning_units_order_item_id')),
    sa.UniqueConstraint('tenant_id', 'client_token', name=op.f('uq_provisioning_units_tenant_id'))
    )
    with op.batch_alter_table('provisioning_units', schema=None) as batch_op:
        batch_op.create_index('ix_provisioning_units_order', ['order_id', 'order_item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provisioning_units_resource_id'), ['resource_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('provisioning_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provisioning_units_resource_id'))
        batch_op.drop_index('ix_provisioning_units_order')

    op.drop_table('provisioning_units')
