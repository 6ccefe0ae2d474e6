"""billing: price plans, meters, usage events, rated resources, bills and bill lines (issue 11)

Price plans (versioned; list or per-tenant prices) and per-tenant discounts; meters (how each
component's usage adds up); usage events (unique per tenant, CloudEvents source and id); rated
resources (what billing/start opens); billing_days (a tenant's day: usage and rated versions,
closed); bills (one per tenant and month) and bill lines (one per resource or usage group per day,
and adjustments). No data migration: every table starts empty.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:47:54
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('meters',
    sa.Column('component', sa.String(length=120), nullable=False),
    sa.Column('aggregation', sa.String(length=16), nullable=False),
    sa.Column('window', sa.String(length=8), nullable=False),
    sa.Column('factor', sa.Numeric(precision=24, scale=12), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('component', name=op.f('pk_meters'))
    )
    op.create_table('billing_days',
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('usage_version', sa.Integer(), nullable=False),
    sa.Column('rated_version', sa.Integer(), nullable=False),
    sa.Column('closed_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_billing_days_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('tenant_id', 'day', name=op.f('pk_billing_days'))
    )
    op.create_table('bills',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_bills_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bills')),
    sa.UniqueConstraint('tenant_id', 'period', name=op.f('uq_bills_tenant_id'))
    )
    op.create_table('price_discounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('plan_code', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.Numeric(precision=20, scale=8), nullable=False),
    sa.Column('valid_from', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_price_discounts_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_discounts'))
    )
    op.create_index('ix_price_discounts_tenant', 'price_discounts', ['tenant_id', 'plan_code'], unique=False)
    op.create_table('price_plans',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('target_kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('billing_mode', sa.String(length=24), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=20, scale=8), nullable=False),
    sa.Column('tier_mode', sa.String(length=12), nullable=False),
    sa.Column('tiers', JSON, nullable=False),
    sa.Column('day_rule', sa.String(length=32), nullable=True),
    sa.Column('day_price', sa.Numeric(precision=20, scale=8), nullable=True),
    sa.Column('proration', sa.String(length=8), nullable=False),
    sa.Column('valid_from', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_to', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_price_plans_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_plans')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_price_plans_code'))
    )
    op.create_index('ix_price_plans_target', 'price_plans', ['target_kind', 'target', 'status'], unique=False)
    op.create_index(op.f('ix_price_plans_tenant_id'), 'price_plans', ['tenant_id'], unique=False)
    op.create_table('usage_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('component', sa.String(length=120), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('occurred_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('occurred_day', sa.Date(), nullable=False),
    sa.Column('occurred_hour', sa.SmallInteger(), nullable=False),
    sa.Column('model', sa.String(length=120), nullable=True),
    sa.Column('resource_id', sa.String(length=120), nullable=True),
    sa.Column('spec_id', sa.String(length=36), nullable=True),
    sa.Column('value_key', sa.String(length=120), nullable=True),
    sa.Column('organization_id', sa.String(length=36), nullable=True),
    sa.Column('business_system_id', sa.String(length=36), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('resource_type', sa.String(length=64), nullable=True),
    sa.Column('received_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_usage_events_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_events')),
    sa.UniqueConstraint('tenant_id', 'source', 'event_id', name=op.f('uq_usage_events_tenant_id'))
    )
    op.create_index('ix_usage_events_tenant_day', 'usage_events', ['tenant_id', 'occurred_day'], unique=False)
    op.create_table('bill_lines',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('line_key', sa.String(length=400), nullable=False),
    sa.Column('target_key', sa.String(length=400), nullable=False),
    sa.Column('rated_resource_id', sa.String(length=36), nullable=True),
    sa.Column('resource_id', sa.String(length=120), nullable=True),
    sa.Column('component', sa.String(length=120), nullable=True),
    sa.Column('model', sa.String(length=120), nullable=True),
    sa.Column('spec_id', sa.String(length=36), nullable=True),
    sa.Column('plan_id', sa.String(length=36), nullable=True),
    sa.Column('plan_code', sa.String(length=64), nullable=True),
    sa.Column('plan_version', sa.Integer(), nullable=True),
    sa.Column('billing_mode', sa.String(length=24), nullable=True),
    sa.Column('unit', sa.String(length=8), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=True),
    sa.Column('business_system_id', sa.String(length=36), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('resource_type', sa.String(length=64), nullable=True),
    sa.Column('explanation', JSON, nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_bill_lines_bill_id_bills')),
    sa.ForeignKeyConstraint(['plan_id'], ['price_plans.id'], name=op.f('fk_bill_lines_plan_id_price_plans')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_bill_lines_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_lines')),
    sa.UniqueConstraint('tenant_id', 'day', 'line_key', name=op.f('uq_bill_lines_tenant_id'))
    )
    op.create_index('ix_bill_lines_bill', 'bill_lines', ['bill_id', 'day'], unique=False)
    op.create_index('ix_bill_lines_tenant_target', 'bill_lines', ['tenant_id', 'day', 'target_key'], unique=False)
    op.create_table('rated_resources',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('resource_ref', sa.String(length=120), nullable=False),
    sa.Column('plan_id', sa.String(length=36), nullable=False),
    sa.Column('spec_id', sa.String(length=36), nullable=True),
    sa.Column('product_id', sa.String(length=36), nullable=True),
    sa.Column('component', sa.String(length=120), nullable=True),
    sa.Column('quantity', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('organization_id', sa.String(length=36), nullable=True),
    sa.Column('business_system_id', sa.String(length=36), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('resource_type', sa.String(length=64), nullable=True),
    sa.Column('started_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('stopped_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_id'], ['price_plans.id'], name=op.f('fk_rated_resources_plan_id_price_plans')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_rated_resources_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rated_resources')),
    sa.UniqueConstraint('tenant_id', 'resource_ref', 'started_at', name=op.f('uq_rated_resources_tenant_id'))
    )
    op.create_index('ix_rated_resources_tenant_span', 'rated_resources', ['tenant_id', 'started_at', 'stopped_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_rated_resources_tenant_span', table_name='rated_resources')
    op.drop_table('rated_resources')
    op.drop_index('ix_bill_lines_tenant_target', table_name='bill_lines')
    op.drop_index('ix_bill_lines_bill', table_name='bill_lines')
    op.drop_table('bill_lines')
    op.drop_index('ix_usage_events_tenant_day', table_name='usage_events')
    op.drop_table('usage_events')
    op.drop_index(op.f('ix_price_plans_tenant_id'), table_name='price_plans')
    op.drop_index('ix_price_plans_target', table_name='price_plans')
    op.drop_table('price_plans')
    op.drop_index('ix_price_discounts_tenant', table_name='price_discounts')
    op.drop_table('price_discounts')
    op.drop_table('bills')
    op.drop_table('billing_days')
    op.drop_table('meters')
