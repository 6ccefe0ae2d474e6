"""attachment count on applications

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:58:51
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_count', sa.Integer(), server_default='0', nullable=False))
    # the applications that already have attachments: counted once, as adding them would have
    applications = sa.table('applications', sa.column('id', sa.String), sa.column('attachment_count', sa.Integer))
    attachments = sa.table('application_attachments', sa.column('application_id', sa.String))
    counted = (sa.select(sa.func.count()).select_from(attachments)
               .where(attachments.c.application_id == applications.c.id).scalar_subquery())
    op.execute(applications.update()
               .where(sa.exists().where(attachments.c.application_id == applications.c.id))
               .values(attachment_count=counted))


def downgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_column('attachment_count')
