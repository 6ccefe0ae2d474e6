"""vouchers: tenant accounts, ledger, voucher budgets, campaigns, vouchers and redemptions (issue 12)

Redemptions name billing's bill by id only (``bill_id``, no foreign key): the bills belong to the
billing domain and are read, never written, by ``engine.domains.accounts.bills``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:48:31
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.models.base

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('voucher_budgets',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('committed', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_budgets')),
    sa.UniqueConstraint('year', name=op.f('uq_voucher_budgets_year'))
    )
    op.create_table('accounts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('credit_limit', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('opened_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_accounts_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('tenant_id', name=op.f('uq_accounts_tenant_id'))
    )
    op.create_table('voucher_campaigns',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('budget_id', sa.String(length=36), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=False),
    sa.Column('face_value', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('total_count', sa.Integer(), nullable=False),
    sa.Column('claimed_count', sa.Integer(), nullable=False),
    sa.Column('per_tenant_limit', sa.Integer(), nullable=False),
    sa.Column('claim_starts_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claim_ends_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('redemption_ratio', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('frequency', sa.String(length=16), nullable=False),
    sa.Column('eligible', JSON, nullable=False),
    sa.Column('tenant_ids', JSON, nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['budget_id'], ['voucher_budgets.id'], name=op.f('fk_voucher_campaigns_budget_id_voucher_budgets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_campaigns')),
    sa.UniqueConstraint('code', name=op.f('uq_voucher_campaigns_code'))
    )
    op.create_index('ix_voucher_campaigns_year_window', 'voucher_campaigns', ['year', 'claim_starts_at', 'claim_ends_at'], unique=False)
    op.create_table('ledger_entries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('balance_after', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reference_type', sa.String(length=32), nullable=True),
    sa.Column('reference_id', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_ledger_entries_account_id_accounts')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_ledger_entries_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('account_id', 'kind', 'reference_type', 'reference_id', name='uq_ledger_entries_reference'),
    sa.UniqueConstraint('account_id', 'seq', name='uq_ledger_entries_seq')
    )
    op.create_index('ix_ledger_entries_tenant_created', 'ledger_entries', ['tenant_id', 'created_at'], unique=False)
    op.create_table('vouchers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('campaign_id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('request_key', sa.String(length=100), nullable=False),
    sa.Column('face_value', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('remaining', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('held', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=False),
    sa.Column('claimed_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expired_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expired_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['voucher_campaigns.id'], name=op.f('fk_vouchers_campaign_id_voucher_campaigns')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_vouchers_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('campaign_id', 'tenant_id', 'request_key', name='uq_vouchers_claim_request'),
    sa.UniqueConstraint('number', name=op.f('uq_vouchers_number'))
    )
    op.create_index('ix_vouchers_campaign_tenant', 'vouchers', ['campaign_id', 'tenant_id'], unique=False)
    op.create_index('ix_vouchers_tenant_status', 'vouchers', ['tenant_id', 'status', 'expires_at'], unique=False)
    op.create_table('voucher_redemptions',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('tenant_id', sa.String(length=36), nullable=False),
    sa.Column('voucher_id', sa.String(length=36), nullable=False),
    sa.Column('campaign_id', sa.String(length=36), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('bill_total', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('requested', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('quoted', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('held', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('applied', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('comment', sa.String(length=2000), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', engine.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', engine.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['voucher_campaigns.id'], name=op.f('fk_voucher_redemptions_campaign_id_voucher_campaigns')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_voucher_redemptions_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_redemptions_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_redemptions'))
    )
    op.create_index('ix_voucher_redemptions_bill', 'voucher_redemptions', ['bill_id', 'status'], unique=False)
    op.create_index('ix_voucher_redemptions_tenant', 'voucher_redemptions', ['tenant_id', 'created_at'], unique=False)
    op.create_index('ix_voucher_redemptions_voucher_period', 'voucher_redemptions', ['voucher_id', 'period'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_voucher_redemptions_voucher_period', table_name='voucher_redemptions')
    op.drop_index('ix_voucher_redemptions_tenant', table_name='voucher_redemptions')
    op.drop_index('ix_voucher_redemptions_bill', table_name='voucher_redemptions')
    op.drop_table('voucher_redemptions')
    op.drop_index('ix_vouchers_tenant_status', table_name='vouchers')
    op.drop_index('ix_vouchers_campaign_tenant', table_name='vouchers')
    op.drop_table('vouchers')
    op.drop_index('ix_ledger_entries_tenant_created', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index('ix_voucher_campaigns_year_window', table_name='voucher_campaigns')
    op.drop_table('voucher_campaigns')
    op.drop_table('accounts')
    op.drop_table('voucher_budgets')
