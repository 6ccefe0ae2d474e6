"""resources: cloud accounts, their alerts, resource pools and their dimensions, cloud resources (issue 13)

cloud_accounts (credentials as Fernet ciphertext only; names unique per owner, ``owner_key`` the
tenant id or "platform"), cloud_account_alerts (probe failures, incident-style), resource_pools
(one per account and capacity scope, or static), resource_pool_dimensions (total / allocated /
used per ``connectors.vector`` dimension, unit cost and performance score), cloud_resources
(unique per account and provider id, and per account and client token). The simulator keeps its
own state in a file outside this database (connectors/simulator.py says why). No data
migration: every table starts empty.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 16:47:54
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('cloud_accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('owner_key', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('provider_type', sa.String(length=32), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=True),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('options', JSON, nullable=False),
    sa.Column('credentials', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('health', sa.String(length=16), nullable=False),
    sa.Column('health_message', sa.String(length=1000), nullable=False),
    sa.Column('latency_ms', sa.Integer(), nullable=True),
    sa.Column('probe_failures', sa.Integer(), nullable=False),
    sa.Column('probed_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('synced_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sync_message', sa.String(length=1000), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cloud_accounts_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cloud_accounts')),
    sa.UniqueConstraint('owner_key', 'name', name=op.f('uq_cloud_accounts_owner_key'))
    )
    op.create_index(op.f('ix_cloud_accounts_tenant_id'), 'cloud_accounts', ['tenant_id'], unique=False)
    op.create_table('cloud_account_alerts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('opened_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['cloud_accounts.id'], name=op.f('fk_cloud_account_alerts_account_id_cloud_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cloud_account_alerts_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cloud_account_alerts'))
    )
    op.create_index(op.f('ix_cloud_account_alerts_account_id'), 'cloud_account_alerts', ['account_id'], unique=False)
    op.create_index('ix_cloud_account_alerts_status', 'cloud_account_alerts', ['status', 'opened_at'], unique=False)
    op.create_index(op.f('ix_cloud_account_alerts_tenant_id'), 'cloud_account_alerts', ['tenant_id'], unique=False)
    op.create_table('resource_pools',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=True),
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=100), nullable=True),
    sa.Column('static', sa.Boolean(), nullable=False),
    sa.Column('present', sa.Boolean(), nullable=False),
    sa.Column('details', JSON, nullable=False),
    sa.Column('synced_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['cloud_accounts.id'], name=op.f('fk_resource_pools_account_id_cloud_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_resource_pools_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resource_pools')),
    sa.UniqueConstraint('account_id', 'scope', name=op.f('uq_resource_pools_account_id'))
    )
    op.create_index(op.f('ix_resource_pools_account_id'), 'resource_pools', ['account_id'], unique=False)
    op.create_index(op.f('ix_resource_pools_tenant_id'), 'resource_pools', ['tenant_id'], unique=False)
    op.create_table('cloud_resources',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('pool_id', sa.String(length=36), nullable=True),
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('business_system_id', sa.String(length=36), nullable=True),
    sa.Column('provider_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('client_token', sa.String(length=64), nullable=True),
    sa.Column('scope', sa.String(length=200), nullable=True),
    sa.Column('flavor', sa.String(length=100), nullable=True),
    sa.Column('addresses', JSON, nullable=False),
    sa.Column('details', JSON, nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('seen_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('vcpu', sa.Integer(), nullable=False),
    sa.Column('memory_gib', sa.Numeric(precision=18, scale=3), nullable=False),
    sa.Column('disk_gib', sa.Numeric(precision=18, scale=3), nullable=False),
    sa.Column('gpu_model', sa.String(length=100), nullable=True),
    sa.Column('gpu_count', sa.Integer(), nullable=False),
    sa.Column('gpus_by_model', JSON, server_default=sa.text("'{}'"), nullable=False),
    sa.Column('instances', sa.Integer(), nullable=False),
    sa.Column('eips', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['cloud_accounts.id'], name=op.f('fk_cloud_resources_account_id_cloud_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['business_system_id'], ['business_systems.id'], name=op.f('fk_cloud_resources_business_system_id_business_systems')),
    sa.ForeignKeyConstraint(['pool_id'], ['resource_pools.id'], name=op.f('fk_cloud_resources_pool_id_resource_pools'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_cloud_resources_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cloud_resources')),
    sa.UniqueConstraint('account_id', 'client_token', name='uq_cloud_resources_client_token'),
    sa.UniqueConstraint('account_id', 'provider_id', name=op.f('uq_cloud_resources_account_id'))
    )
    op.create_index(op.f('ix_cloud_resources_account_id'), 'cloud_resources', ['account_id'], unique=False)
    op.create_index(op.f('ix_cloud_resources_business_system_id'), 'cloud_resources', ['business_system_id'], unique=False)
    op.create_index(op.f('ix_cloud_resources_pool_id'), 'cloud_resources', ['pool_id'], unique=False)
    op.create_index(op.f('ix_cloud_resources_tenant_id'), 'cloud_resources', ['tenant_id'], unique=False)
    op.create_table('resource_pool_dimensions',
    sa.Column('pool_id', sa.String(length=36), nullable=False),
    sa.Column('dimension', sa.String(length=120), nullable=False),
    sa.Column('total', sa.Numeric(precision=18, scale=3), nullable=False),
    sa.Column('allocated', sa.Numeric(precision=18, scale=3), nullable=False),
    sa.Column('used', sa.Numeric(precision=18, scale=3), nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.Column('perf_score', sa.Numeric(precision=12, scale=3), nullable=True),
    sa.Column('accelerator_kind', sa.String(length=16), nullable=True),
    sa.Column('accelerator_use', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['pool_id'], ['resource_pools.id'], name=op.f('fk_resource_pool_dimensions_pool_id_resource_pools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('pool_id', 'dimension', name=op.f('pk_resource_pool_dimensions'))
    )


def downgrade() -> None:
    op.drop_table('resource_pool_dimensions')
    op.drop_index(op.f('ix_cloud_resources_tenant_id'), table_name='cloud_resources')
    op.drop_index(op.f('ix_cloud_resources_pool_id'), table_name='cloud_resources')
    op.drop_index(op.f('ix_cloud_resources_business_system_id'), table_name='cloud_resources')
    op.drop_index(op.f('ix_cloud_resources_account_id'), table_name='cloud_resources')
    op.drop_table('cloud_resources')
    op.drop_index(op.f('ix_resource_pools_tenant_id'), table_name='resource_pools')
    op.drop_index(op.f('ix_resource_pools_account_id'), table_name='resource_pools')
    op.drop_table('resource_pools')
    op.drop_index(op.f('ix_cloud_account_alerts_tenant_id'), table_name='cloud_account_alerts')
    op.drop_index('ix_cloud_account_alerts_status', table_name='cloud_account_alerts')
    op.drop_index(op.f('ix_cloud_account_alerts_account_id'), table_name='cloud_account_alerts')
    op.drop_table('cloud_account_alerts')
    op.drop_index(op.f('ix_cloud_accounts_tenant_id'), table_name='cloud_accounts')
    op.drop_table('cloud_accounts')
