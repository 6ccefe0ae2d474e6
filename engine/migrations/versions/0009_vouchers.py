"""vouchers: tenant accounts, ledger, voucher budgets, campaigns, vouchers and redemptions (issue 12)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 16:48:31
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
